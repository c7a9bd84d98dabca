"""The whole stack for the marketing route tests: the stub host with the HubSpot plugin, its
HTTP client pointed at the in-process sandbox, a migrated SQLite database, and two callers:

- alice (tenant t-alice) connected to the seeded demo portal (Marketing Hub Enterprise);
- bob (tenant t-bob) connected to an empty portal on Marketing Hub Starter without the
  transactional add-on, so the tier-gated APIs answer 403 for him.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from atom_host_stub.app import create_app
from atom_host_stub.contract import Principal
from atom_host_stub.host import Host
from atom_hubspot.sandbox import create_sandbox_app
from atom_hubspot.sandbox.config import DEMO_PORTAL_ID, PortalConfig, SandboxConfig
from atom_hubspot.storage.db import migrate

ALICE = Principal(tenant_id="t-alice", user_id="alice")
BOB = Principal(tenant_id="t-bob", user_id="bob")
BOB_PORTAL_ID = 7654321


@dataclass
class Stack:
    app: Any
    sandbox_app: Any
    host: Host
    runtime: Any
    sandbox: Any
    alice: httpx.AsyncClient
    bob: httpx.AsyncClient

    @property
    def demo(self) -> Any:
        return self.sandbox.portals[DEMO_PORTAL_ID]

    @property
    def bobs(self) -> Any:
        return self.sandbox.portals[BOB_PORTAL_ID]


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(
        portals=[
            PortalConfig(portal_id=DEMO_PORTAL_ID, seed=True),
            PortalConfig(
                portal_id=BOB_PORTAL_ID,
                seed=False,
                marketing_tier="starter",
                transactional_addon=False,
            ),
        ],
        # Limits are the client's and sandbox's own tests' business; here they would only
        # slow the suite down.
        requests_per_10s=None,
        search_per_s=None,
    )


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per run; each test gets a copy (migrating takes seconds)."""
    path = tmp_path_factory.mktemp("marketing-db") / "template.sqlite3"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def marketing_db_url(migrated_sqlite: Path, tmp_path: Path) -> str:
    path = tmp_path / "atom.sqlite3"
    shutil.copyfile(migrated_sqlite, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def migrated_postgres(postgres_admin_url: str) -> Iterator[str]:
    """One migrated PostgreSQL database per run, used as the template of each test's copy."""
    import psycopg

    name = f"atom_mkt_tmpl_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = postgres_admin_url.rpartition("/")[0]
    migrate(f"{base}/{name}")
    yield name
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def marketing_pg_url(postgres_admin_url: str, migrated_postgres: str) -> Iterator[str]:
    """A fresh migrated PostgreSQL database for one test (a copy of the template: fast)."""
    import psycopg

    name = f"atom_mkt_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_postgres}"')
    base = postgres_admin_url.rpartition("/")[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sandbox_app(sandbox_config: SandboxConfig) -> Any:
    return create_sandbox_app(sandbox_config)


def host_env(hubspot_env: dict[str, str], database_url: str, **extra: str) -> dict[str, str]:
    return {
        **hubspot_env,
        "ATOM_API_KEYS": "key-alice-0123456789:t-alice:alice,key-bob-0123456789:t-bob:bob",
        "ATOM_DATABASE_URL": database_url,
        "ATOM_PLUGINS": "hubspot",
        "HUBSPOT_SEARCH_RATE_PER_SECOND": "1000",
        **extra,
    }


@asynccontextmanager
async def running_host(
    env: dict[str, str],
    sandbox_app: Any,
    *,
    connect: bool = True,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[Stack]:
    """Start the stub host with the plugin (as `atom-host serve` would) and stop it after.

    `connect` saves Alice's and Bob's private-app tokens; a host started again on the same
    database finds those connections already there. `transport` replaces the plugin's way to
    the sandbox (default: straight to `sandbox_app`).
    """
    sandbox = sandbox_app.state.sandbox
    host = Host.from_env(env)
    host.context.state["hubspot.transport"] = transport or httpx.ASGITransport(app=sandbox_app)
    app = create_app(host)
    async with app.router.lifespan_context(app):
        runtime = host.context.state["hubspot"]
        if connect:
            await runtime.connections.save_private_app_token(
                ALICE, sandbox.add_private_app_token(DEMO_PORTAL_ID)
            )
            await runtime.connections.save_private_app_token(
                BOB, sandbox.add_private_app_token(BOB_PORTAL_ID)
            )
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(
                transport=transport,
                base_url="http://host",
                headers={"Authorization": "Bearer key-alice-0123456789"},
            ) as a,
            httpx.AsyncClient(
                transport=transport,
                base_url="http://host",
                headers={"Authorization": "Bearer key-bob-0123456789"},
            ) as b,
        ):
            yield Stack(
                app=app,
                sandbox_app=sandbox_app,
                host=host,
                runtime=runtime,
                sandbox=sandbox,
                alice=a,
                bob=b,
            )


@pytest.fixture
async def stack(
    hubspot_env: dict[str, str], marketing_db_url: str, sandbox_app: Any
) -> AsyncIterator[Stack]:
    async with running_host(host_env(hubspot_env, marketing_db_url), sandbox_app) as s:
        yield s
