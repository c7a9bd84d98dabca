"""The offline HubSpot sandbox: a stateful stand-in for HubSpot's API (like moto or
stripe-mock), run in-process through httpx.ASGITransport or standalone over HTTP.

It is an independent implementation of HubSpot's documented behaviour and imports nothing of
`atom_hubspot.client`, so that it catches the client's mistakes instead of sharing them.
"""

from atom_hubspot.sandbox.app import Sandbox, SandboxApp, create_sandbox_app
from atom_hubspot.sandbox.clock import ManualClock, SystemClock
from atom_hubspot.sandbox.config import (
    DEMO_HUB_DOMAIN,
    DEMO_PORTAL_ID,
    FaultConfig,
    PortalConfig,
    SandboxConfig,
)
from atom_hubspot.sandbox.limits import LimitConfig

__all__ = [
    "DEMO_HUB_DOMAIN",
    "DEMO_PORTAL_ID",
    "FaultConfig",
    "LimitConfig",
    "ManualClock",
    "PortalConfig",
    "Sandbox",
    "SandboxApp",
    "SandboxConfig",
    "SystemClock",
    "create_sandbox_app",
]
