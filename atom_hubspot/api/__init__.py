"""HTTP routes of the HubSpot plugin (FastAPI); imported only when the `api` extra is installed."""
