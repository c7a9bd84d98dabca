"""Services over HubSpot: the `crm` capability and marketing features."""
