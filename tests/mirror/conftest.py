"""A mirror, a sync-lane client and the in-process sandbox behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from atom_hubspot.client import HubSpotClient, HubSpotHTTP, RateLimitGovernor, StaticToken
from atom_hubspot.sandbox import SandboxConfig
from atom_hubspot.sandbox.config import DEMO_PORTAL_ID
from atom_hubspot.sandbox.testing import SANDBOX_BASE_URL, sandbox_transport
from atom_hubspot.storage.db import Database, migrate
from atom_hubspot.storage.mirror import MirrorStore
from atom_hubspot.sync import PortalSyncer
from tests.client.fakes import settings

PAT = "pat-mirror-sync-token-0001"
PORTAL = DEMO_PORTAL_ID


@dataclass
class Stack:
    client: HubSpotClient
    http: HubSpotHTTP
    sandbox: Any
    store: MirrorStore
    transport: httpx.ASGITransport

    def syncer(self, **kw: Any) -> PortalSyncer:
        return PortalSyncer(self.client.in_lane("sync"), self.store, PORTAL, **kw)

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Act on the sandbox as HubSpot's UI or another app would (outside our client)."""
        async with httpx.AsyncClient(transport=self.transport, base_url=SANDBOX_BASE_URL) as c:
            answer = await c.request(
                method, path, json=body, headers={"Authorization": f"Bearer {PAT}"}
            )
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None

    def calls(self, route: str) -> int:
        return int(self.sandbox.calls.get(route, 0))


def sandbox_config(**kw: Any) -> SandboxConfig:
    kw.setdefault("private_app_tokens", {PAT: PORTAL})
    kw.setdefault("requests_per_10s", None)  # these tests are about data, not the budget
    kw.setdefault("search_per_s", None)
    kw.setdefault(
        "search_lag_s", 0
    )  # search sees writes at once: these tests are not about index lag
    return SandboxConfig(**kw)


def make_http(transport: httpx.AsyncBaseTransport) -> HubSpotHTTP:
    gov = RateLimitGovernor(requests_per_10s=1_000_000, search_per_s=1_000_000)
    return HubSpotHTTP(
        settings(HUBSPOT_API_BASE_URL=SANDBOX_BASE_URL), transport=transport, governor=gov
    )


@pytest.fixture(params=["sqlite"])
def mirror_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mirror.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def stack(mirror_url: str) -> AsyncIterator[Stack]:
    migrate(mirror_url)
    transport = sandbox_transport(sandbox_config())
    http = make_http(transport)
    db = Database(mirror_url)
    client = HubSpotClient(http, StaticToken(PAT), portal_id=PORTAL)
    try:
        yield Stack(client, http, transport.app.state.sandbox, MirrorStore(db), transport)
    finally:
        await http.aclose()
        await db.dispose()
