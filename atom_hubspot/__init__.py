"""atom-hubspot: the HubSpot CRM and marketing integration for the ATOM platform."""

from atom_hubspot.__about__ import __version__

__all__ = ["__version__"]
