"""HubSpot as a provider of the `crm` capability in the host's test kit: the in-process sandbox
it talks to, and the test principal connected to it with a private-app token."""

from __future__ import annotations

from typing import Any

from atom_host_stub.contract import Principal

PRIVATE_APP_TOKEN = "pat-na1-contract-suite-token"  # noqa: S105 - known to the sandbox only
PORTAL_ID = 3456789
# Custom properties the sandbox portal has, named as the suite's custom fields.
CUSTOM_PROPERTIES = {"contacts": ["favourite_language"], "deals": ["renewal_term"]}


def hubspot_provider_state(*, seed: bool = False) -> dict[str, Any]:
    """The plugin's seams in HostContext.state: an in-process sandbox portal that knows the
    private-app token, and a client budget lifted (the sandbox's limits are off too)."""
    from atom_hubspot.client import RateLimitGovernor
    from atom_hubspot.sandbox import PortalConfig, SandboxConfig
    from atom_hubspot.sandbox.testing import sandbox_transport

    return {
        "hubspot.transport": sandbox_transport(
            SandboxConfig(
                portals=[PortalConfig(portal_id=PORTAL_ID, seed=seed, company_currency="USD")],
                requests_per_10s=None,
                search_per_s=None,
                # The contract's searches read what was just written; index lag is HubSpot's
                # own behaviour, checked with the sandbox's search and the plugin's routes.
                search_lag_s=0,
                private_app_tokens={PRIVATE_APP_TOKEN: PORTAL_ID},
                extra_properties=CUSTOM_PROPERTIES,
            )
        ),
        "hubspot.governor": RateLimitGovernor(requests_per_10s=1_000_000, search_per_s=1_000_000),
    }


async def connect_hubspot(state: dict[str, Any], principal: Principal) -> None:
    """Connect `principal` to the sandbox portal, as `POST /api/hubspot/auth/save` does."""
    await state["hubspot"].connections.save_private_app_token(principal, PRIVATE_APP_TOKEN)
