"""Fixtures for the route tests: a bare FastAPI app over the fake client (fast, inspectable)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Header, HTTPException

from atom_host_stub.contract import HostContext, Principal
from atom_hubspot.api import crm_routes, health_routes
from tests.api.fakes import FakeClient, FakeConnections, runtime_over


def _principal(authorization: str = Header(default="")) -> Principal:
    # Stands in for the host's API-key dependency: "Bearer <user>" -> tenant t-<user>.
    user = authorization.removeprefix("Bearer ").strip()
    if not user:
        raise HTTPException(status_code=401, detail="missing API key")
    return Principal(tenant_id=f"t-{user}", user_id=user)


@pytest.fixture(scope="module")
def fake_context(tmp_path_factory: pytest.TempPathFactory) -> HostContext:
    ctx = HostContext(
        env={},
        data_dir=tmp_path_factory.mktemp("fake"),
        database_url="sqlite://",
        principal_dependency=_principal,
    )
    ctx.state["hubspot"] = runtime_over(FakeConnections())
    return ctx


@pytest.fixture(scope="module")
def fake_app(fake_context: HostContext) -> FastAPI:
    # Built once per module (building ~20 routes costs a second); clients are fresh per test.
    app = FastAPI()
    app.include_router(crm_routes.build_router(fake_context), prefix="/api/hubspot")
    app.include_router(health_routes.build_router(fake_context), prefix="/api/hubspot")
    return app


@pytest.fixture
def fake_clients(fake_context: HostContext) -> dict[str, FakeClient]:
    clients = {"alice": FakeClient(portal_id=111), "bob": FakeClient(portal_id=222)}
    fake_context.state["hubspot"].connections.by_user = clients
    return clients


@pytest.fixture
async def fake_http(
    fake_app: FastAPI, fake_clients: dict[str, FakeClient]
) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fake_app),
        base_url="http://test",
        headers={"Authorization": "Bearer alice"},
    ) as c:
        yield c


# --------------------------------------------------------------------------- end to end
# The stub host app with the real plugin, its SQLite database migrated, and the in-process
# sandbox behind the plugin's HTTP client. Alice connects portal A through the real OAuth
# flow, Bob connects portal B with a private-app token, Carol connects nothing.

import asyncio  # noqa: E402
import shutil  # noqa: E402
from contextlib import asynccontextmanager  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import pytest_asyncio  # noqa: E402

from atom_hubspot.sandbox import PortalConfig, SandboxConfig  # noqa: E402
from atom_hubspot.sandbox.config import DEMO_PORTAL_ID  # noqa: E402
from atom_hubspot.sandbox.testing import approve, query_of, sandbox_transport  # noqa: E402
from tests.clocks import StepClock  # noqa: E402
from tests.conftest import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, make_key  # noqa: E402

PORTAL_A = DEMO_PORTAL_ID
PORTAL_B = 7654321
TOKEN_B = "pat-na1-bob-private-app-token"  # noqa: S105 - known to the sandbox only
KEYS = {u: f"key-{u}-0123456789" for u in ("alice", "bob", "carol")}
PRINCIPALS = {
    "alice": Principal(tenant_id="tenant-a", user_id="alice"),
    "bob": Principal(tenant_id="tenant-b", user_id="bob"),
    "carol": Principal(tenant_id="tenant-c", user_id="carol"),
}


@dataclass
class Stack:
    app: FastAPI
    host: Any
    runtime: object
    transport: httpx.ASGITransport
    sandbox: Any
    time: StepClock

    def client(self, who: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://host.local",
            headers={"Authorization": f"Bearer {KEYS[who]}"},
        )


def sandbox_config(**kw: object) -> SandboxConfig:
    return SandboxConfig(
        portals=[
            PortalConfig(
                portal_id=PORTAL_A,
                seed=True,
                hub_domain="portal-a.hubspot.sandbox",
                company_currency="EUR",
            ),
            PortalConfig(portal_id=PORTAL_B, seed=True, hub_domain="portal-b.hubspot.sandbox"),
        ],
        requests_per_10s=None,
        search_per_s=None,
        private_app_tokens={TOKEN_B: PORTAL_B},
        extra_properties={"contacts": ["favourite_language"], "deals": ["renewal_term"]},
        **kw,
    )


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session; each test gets a copy (migrating takes seconds)."""
    from atom_hubspot.storage.db import migrate

    path = tmp_path_factory.mktemp("template") / "atom.sqlite3"
    migrate(f"sqlite:///{path}")
    return path


@asynccontextmanager
async def running_stack(
    hubspot_env: dict[str, str], database_url: str, template: Path | None
) -> AsyncIterator[Stack]:
    """The host app running with the plugin on `database_url` (a copy of the migrated SQLite
    `template`, or an already migrated database when `template` is None)."""
    from atom_host_stub.app import create_app
    from atom_host_stub.host import Host
    from atom_hubspot.client import RateLimitGovernor

    transport = sandbox_transport(sandbox_config())
    if template is not None:
        shutil.copyfile(template, database_url.removeprefix("sqlite:///"))
    env = {
        **hubspot_env,
        "ATOM_DATABASE_URL": database_url,
        "ATOM_API_KEYS": ",".join(f"{k}:{PRINCIPALS[u].tenant_id}:{u}" for u, k in KEYS.items()),
        "ATOM_PLUGINS": "hubspot",
    }
    host = Host.from_env(env)
    host.context.state["hubspot.transport"] = transport
    # The sandbox's own limits are off here; the client's budget would only add real waiting.
    # Retries back off through the governor's sleep: recorded, never slept for real.
    fake_time = StepClock(time.time())
    host.context.state["hubspot.governor"] = RateLimitGovernor(
        requests_per_10s=1_000_000,
        search_per_s=1_000_000,
        clock=fake_time.time,
        sleep=fake_time.sleep,
    )
    app = create_app(host)
    async with app.router.lifespan_context(app):
        runtime = host.context.state.get("hubspot")
        assert runtime is not None, "the HubSpot plugin did not start"
        # Alice: the real OAuth flow against the sandbox's authorize page and token endpoint.
        start = await runtime.oauth.start(PRINCIPALS["alice"])
        redirect = await approve(start.url, transport, portal_id=PORTAL_A)
        q = query_of(redirect)
        await runtime.oauth.complete(
            code=q["code"], state=q["state"], error=None, principal=PRINCIPALS["alice"]
        )
        # Bob: a private-app token, checked against the sandbox before it is stored.
        await runtime.connections.save_private_app_token(PRINCIPALS["bob"], TOKEN_B)
        yield Stack(
            app=app,
            host=host,
            runtime=runtime,
            transport=transport,
            sandbox=transport.app.state.sandbox,
            time=fake_time,
        )


@pytest.fixture
async def stack(
    hubspot_env: dict[str, str], sqlite_url: str, migrated_template: Path
) -> AsyncIterator[Stack]:
    """A fresh stack for a test that changes shared state (sandbox faults, id counters)."""
    async with running_stack(hubspot_env, sqlite_url, migrated_template) as st:
        yield st


@pytest.fixture
async def pg_stack(hubspot_env: dict[str, str], postgres_url: str) -> AsyncIterator[Stack]:
    """The same stack on a fresh PostgreSQL database (row-level security on)."""
    from atom_hubspot.storage.db import migrate

    await asyncio.to_thread(migrate, postgres_url)
    async with running_stack(hubspot_env, postgres_url, None) as st:
        yield st


def module_env(tmp: Path, *, sync_interval_s: int) -> dict[str, str]:
    """`hubspot_env` for a stack shared by a module (that fixture is per test)."""
    return {
        "HUBSPOT_CLIENT_ID": SANDBOX_CLIENT_ID,
        "HUBSPOT_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        "ATOM_HUBSPOT_ENCRYPTION_KEYS": f"k1:{make_key()}",
        "HUBSPOT_API_BASE_URL": "http://sandbox.local",
        "HUBSPOT_AUTHORIZE_URL": "http://sandbox.local/oauth/authorize",
        "HUBSPOT_REDIRECT_URI": "http://host.local/auth/hubspot/callback",
        "ATOM_DATA_DIR": str(tmp / "data"),
        "HUBSPOT_SYNC_INTERVAL": str(sync_interval_s),
    }


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_stack(
    tmp_path_factory: pytest.TempPathFactory, migrated_template: Path
) -> AsyncIterator[Stack]:
    """One stack for a module of tests that each work on their own records (starting a host
    with its routes costs seconds). Tests using it run in the module's event loop."""
    tmp = tmp_path_factory.mktemp("shared")
    env = module_env(tmp, sync_interval_s=0)
    async with running_stack(env, f"sqlite:///{tmp / 'atom.sqlite3'}", migrated_template) as st:
        yield st
