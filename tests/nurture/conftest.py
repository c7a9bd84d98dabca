"""The whole stack for the nurture route tests (the marketing tests' host, database and
callers), over three sandbox portals:

- the seeded demo portal (alice's): Marketing Hub Enterprise, Sales Hub Professional, with two
  workflows (a list-based nurture fed by the MANUAL list "Newsletter subscribers", and a
  property-based onboarding workflow that is off) and a sequence;
- bob's empty portal on Marketing Hub Starter and Sales Hub Starter: no workflows, no sequences;
- a second portal of alice's, connected with a token that lacks the automation scopes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from atom_hubspot.sandbox.config import DEMO_PORTAL_ID, PortalConfig, SandboxConfig
from atom_hubspot.sandbox.core import ALL_SCOPES
from tests.marketing.conftest import (  # noqa: F401 - fixtures shared with the marketing tests
    ALICE,
    BOB_PORTAL_ID,
    Stack,
    host_env,
    marketing_db_url,
    migrated_sqlite,
    running_host,
    sandbox_app,
)

NO_SCOPE_PORTAL_ID = 5550001
NURTURE_FLOW = "585051946"  # seeded: enrolls from list 1 ("Newsletter subscribers")
ONBOARDING_FLOW = "585051947"  # seeded: property-based, off
SEQUENCE = "421001"  # seeded: the demo user's
AUTOMATION_SCOPES = {
    "automation",
    "automation.sequences.read",
    "automation.sequences.enrollments.write",
}
ALICE_KEY = {"Authorization": "Bearer key-alice-0123456789"}


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(
        portals=[
            PortalConfig(portal_id=DEMO_PORTAL_ID, seed=True),
            PortalConfig(
                portal_id=BOB_PORTAL_ID,
                seed=False,
                marketing_tier="starter",
                sales_tier="starter",
                transactional_addon=False,
            ),
            PortalConfig(portal_id=NO_SCOPE_PORTAL_ID, seed=False),
        ],
        requests_per_10s=None,
        search_per_s=None,
        search_lag_s=0.0,
    )


class RoutedTransport(httpx.AsyncBaseTransport):
    """The sandbox, except for paths a test makes HubSpot answer otherwise (a fake at the
    transport: `answers[path ending] = (status, body)`)."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.answers: dict[str, tuple[int, dict[str, Any]]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for fragment, (status, body) in self.answers.items():
            if request.url.path.endswith(fragment):
                return httpx.Response(status, json=body, request=request)
        return await self.inner.handle_async_request(request)


@pytest.fixture
def transport(sandbox_app: Any) -> RoutedTransport:  # noqa: F811 - the shared fixture
    return RoutedTransport(sandbox_app)


@pytest.fixture
async def stack(
    hubspot_env: dict[str, str],
    marketing_db_url: str,  # noqa: F811 - the shared fixture, by name
    sandbox_app: Any,  # noqa: F811
    transport: RoutedTransport,
) -> AsyncIterator[Stack]:
    env = host_env(hubspot_env, marketing_db_url)
    async with running_host(env, sandbox_app, transport=transport) as s:
        token = s.sandbox.add_private_app_token(
            NO_SCOPE_PORTAL_ID, scopes=[x for x in ALL_SCOPES if x not in AUTOMATION_SCOPES]
        )
        await s.runtime.connections.save_private_app_token(ALICE, token)
        await s.runtime.connections.set_default(ALICE, DEMO_PORTAL_ID)
        yield s
