"""Two HubSpots and one database: the production app in one offline sandbox, the QA app (a
developer test account, its own portal) in another, each with its own client id and secret.
A host is started under HUBSPOT_ENVIRONMENT=qa or production on the same database, as an
operator would restart it, and reaches the sandbox of its environment only."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from atom_host_stub.contract import Principal
from atom_hubspot.sandbox import PortalConfig, SandboxConfig
from atom_hubspot.sandbox.testing import approve, sandbox_transport
from tests.conftest import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, make_key

PRODUCTION_PORTAL = 1234567
QA_PORTAL = 9900001  # a HubSpot test account has its own hub id
QA_CLIENT_ID = "qa-app-client-id"
QA_CLIENT_SECRET = "qa-app-client-secret"  # noqa: S105 - a fake for the QA sandbox
KEYS = {"alice": "key-alice-0123456789", "bob": "key-bob-01234567890"}
PRINCIPALS = {
    "alice": Principal(tenant_id="tenant-a", user_id="alice"),
    "bob": Principal(tenant_id="tenant-b", user_id="bob"),
}


def _sandbox(portal_id: int, domain: str, client_id: str, secret: str) -> httpx.ASGITransport:
    return sandbox_transport(
        SandboxConfig(
            portals=[PortalConfig(portal_id=portal_id, seed=True, hub_domain=domain)],
            client_id=client_id,
            client_secret=secret,
            requests_per_10s=None,
            search_per_s=None,
        )
    )


def calls(transport: httpx.ASGITransport) -> int:
    """API and OAuth calls the sandbox has answered so far."""
    return sum(transport.app.state.sandbox.calls.values())  # type: ignore[attr-defined]


@dataclass
class Running:
    app: Any
    host: Any
    runtime: Any
    environment: str
    transport: httpx.ASGITransport

    def client(self, who: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://host.local",
            headers={"Authorization": f"Bearer {KEYS[who]}"},
        )

    async def connect(self, who: str, portal_id: int) -> httpx.Response:
        """The user's way: POST /auth/hubspot, approve on the sandbox's page, then the
        callback in the same (API-key) browser."""
        async with self.client(who) as c:
            start = await c.post("/auth/hubspot")
            assert start.status_code == 200, start.text
            back = await approve(start.json()["data"]["url"], self.transport, portal_id=portal_id)
            path = back.split("host.local", 1)[1]
            return await c.get(path)


@dataclass
class World:
    """Both sandboxes and the shared database; `host(environment)` starts a host on them."""

    database_url: str
    base_env: dict[str, str]
    production: httpx.ASGITransport
    qa: httpx.ASGITransport

    def host(self, environment: str, **extra: str) -> AbstractAsyncContextManager[Running]:
        return _running(self, environment, extra)


@asynccontextmanager
async def _running(world: World, environment: str, extra: dict[str, str]) -> AsyncIterator[Running]:
    from atom_host_stub.app import create_app
    from atom_host_stub.host import Host
    from atom_hubspot.client import RateLimitGovernor

    transport = world.qa if environment == "qa" else world.production
    env = {**world.base_env, "HUBSPOT_ENVIRONMENT": environment, **extra}
    host = Host.from_env(env)
    host.context.state["hubspot.transport"] = transport
    host.context.state["hubspot.governor"] = RateLimitGovernor(
        requests_per_10s=1_000_000, search_per_s=1_000_000
    )
    app = create_app(host)
    async with app.router.lifespan_context(app):
        runtime = host.context.state.get("hubspot")
        assert runtime is not None, "the HubSpot plugin did not start"
        yield Running(app, host, runtime, environment, transport)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from atom_hubspot.storage.db import migrate

    path = tmp_path_factory.mktemp("env-template") / "atom.sqlite3"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "atom.sqlite3"
        shutil.copyfile(migrated_sqlite, path)
        return f"sqlite:///{path}"
    from atom_hubspot.storage.db import migrate

    url: str = request.getfixturevalue("postgres_url")
    migrate(url)
    return url


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> World:
    base_env = {
        # Production: HubSpot itself (here its sandbox at sandbox.local).
        "HUBSPOT_CLIENT_ID": SANDBOX_CLIENT_ID,
        "HUBSPOT_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        "HUBSPOT_API_BASE_URL": "http://sandbox.local",
        "HUBSPOT_AUTHORIZE_URL": "http://sandbox.local/oauth/authorize",
        "HUBSPOT_REDIRECT_URI": "http://host.local/auth/hubspot/callback",
        # QA: the test account's sandbox, with its own app.
        "HUBSPOT_QA_CLIENT_ID": QA_CLIENT_ID,
        "HUBSPOT_QA_CLIENT_SECRET": QA_CLIENT_SECRET,
        "HUBSPOT_QA_API_BASE_URL": "http://qa-sandbox.local",
        "HUBSPOT_QA_AUTHORIZE_URL": "http://qa-sandbox.local/oauth/authorize",
        "HUBSPOT_QA_REDIRECT_URI": "http://host.local/auth/hubspot/callback",
        "ATOM_HUBSPOT_ENCRYPTION_KEYS": f"k1:{make_key()}",
        "ATOM_DATA_DIR": str(tmp_path / "data"),
        "ATOM_DATABASE_URL": database_url,
        "ATOM_API_KEYS": ",".join(
            f"{key}:{PRINCIPALS[who].tenant_id}:{who}" for who, key in KEYS.items()
        ),
        "ATOM_PLUGINS": "hubspot",
        "HUBSPOT_SYNC_INTERVAL": "0",
    }
    return World(
        database_url=database_url,
        base_env=base_env,
        production=_sandbox(
            PRODUCTION_PORTAL, "acme.hubspot.sandbox", SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
        ),
        qa=_sandbox(QA_PORTAL, "acme-test.hubspot.sandbox", QA_CLIENT_ID, QA_CLIENT_SECRET),
    )
