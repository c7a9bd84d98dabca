"""PostgreSQL goes away during a run and comes back: the host keeps running, callers get a
clear 503 `storage_unavailable` envelope during the outage (no hang, no stack trace), and
normal service resumes once the database is back — without restarting the host.

The machine's shared PostgreSQL server is never touched: the test runs its own throw-away
server (initdb + pg_ctl on a temp dir and a free port, see private_postgres.py) and stops and
starts that one. Skips when the PostgreSQL server binaries are missing, unless
ATOM_REQUIRE_POSTGRES=1 (CI), which makes that a failure.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from atom_host_stub.contract import Principal
from atom_hubspot.sandbox import DEMO_PORTAL_ID, SandboxConfig
from atom_hubspot.sandbox.testing import sandbox_transport
from tests.conftest import skip_or_fail
from tests.faults.private_postgres import PrivatePostgres, find_pg_bin

pytestmark = pytest.mark.postgres

TOKEN = "pat-na1-postgres-restart-token-0000"  # noqa: S105 - known to the sandbox only
API_KEY = "key-restart-0123456789"
PRINCIPAL = Principal(tenant_id="tenant-r", user_id="rita")


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        skip_or_fail(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: install "
            "postgresql or set PG_BIN to their folder",
            require_var="ATOM_REQUIRE_POSTGRES",
        )
    try:
        pg = PrivatePostgres(bin_dir)
        pg.init()
        pg.start()
    except Exception as exc:
        skip_or_fail(
            f"could not start a private PostgreSQL server: {exc}",
            require_var="ATOM_REQUIRE_POSTGRES",
        )
    try:
        import psycopg

        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE atom")
        yield pg
    finally:
        pg.cleanup()


async def _nosleep(_: float) -> None:
    await asyncio.sleep(0)


@pytest.fixture
async def host(private_pg: PrivatePostgres, hubspot_env: dict[str, str]) -> AsyncIterator[Any]:
    from atom_host_stub.app import create_app
    from atom_host_stub.host import Host
    from atom_hubspot.client import RateLimitGovernor
    from atom_hubspot.storage.db import migrate

    url = private_pg.url.rsplit("/", 1)[0] + "/atom"
    await asyncio.to_thread(migrate, url)
    transport = sandbox_transport(
        SandboxConfig(
            private_app_tokens={TOKEN: DEMO_PORTAL_ID}, requests_per_10s=None, search_per_s=None
        )
    )
    env = {
        **hubspot_env,
        "ATOM_DATABASE_URL": url,
        "ATOM_PLUGINS": "hubspot",
        "ATOM_API_KEYS": f"{API_KEY}:{PRINCIPAL.tenant_id}:{PRINCIPAL.user_id}",
    }
    h = Host.from_env(env)
    h.context.state["hubspot.transport"] = transport
    h.context.state["hubspot.governor"] = RateLimitGovernor(
        requests_per_10s=1_000_000, search_per_s=1_000_000, sleep=_nosleep
    )
    app = create_app(h)
    async with app.router.lifespan_context(app):
        runtime = h.context.state.get("hubspot")
        assert runtime is not None, "the HubSpot plugin did not start"
        await runtime.connections.save_private_app_token(PRINCIPAL, TOKEN)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://host.local",
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=30,
        ) as client:
            yield client


async def _get(client: httpx.AsyncClient, path: str) -> tuple[httpx.Response, float]:
    t0 = time.monotonic()
    r = await client.get(path)
    return r, time.monotonic() - t0


async def test_storage_outage_gives_clear_503_and_service_resumes_without_restart(
    private_pg: PrivatePostgres, host: httpx.AsyncClient
) -> None:
    r, _ = await _get(host, "/api/hubspot/contacts?limit=2")
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True

    await asyncio.to_thread(private_pg.stop, "fast")
    try:
        for path in ("/api/hubspot/contacts?limit=2", "/api/hubspot/auth/status"):
            r, took = await _get(host, path)
            assert r.status_code == 503, (path, r.status_code, r.text)
            body = r.json()
            assert body["ok"] is False
            assert body["error"]["code"] == "storage_unavailable"
            assert "Traceback" not in r.text and "psycopg" not in r.text.lower()
            assert took < 20, f"{path} took {took:.1f} s to fail"
    finally:
        await asyncio.to_thread(private_pg.start)

    # Back: the very next calls succeed on the same host (stale pooled connections are
    # replaced, nothing was cached as broken).
    for _ in range(3):
        r, _ = await _get(host, "/api/hubspot/contacts?limit=2")
        assert r.status_code == 200, r.text
        assert r.json()["ok"] is True


async def test_a_restart_while_requests_are_in_flight_leaves_no_lasting_damage(
    private_pg: PrivatePostgres, host: httpx.AsyncClient
) -> None:
    statuses: list[int] = []
    stop = asyncio.Event()

    async def reader() -> None:
        while not stop.is_set():
            r = await host.get("/api/hubspot/contacts?limit=1")
            statuses.append(r.status_code)
            if r.status_code != 200:
                assert (
                    r.status_code == 503 and r.json()["error"]["code"] == "storage_unavailable"
                ), r.text
            await asyncio.sleep(0.01)

    tasks = [asyncio.create_task(reader()) for _ in range(4)]
    await asyncio.sleep(0.3)
    await asyncio.to_thread(private_pg.stop, "immediate")  # a crash, not a clean shutdown
    await asyncio.sleep(0.5)
    await asyncio.to_thread(private_pg.start)
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*tasks)
    assert 200 in statuses and 503 in statuses, "the outage did not show"
    after = [(await host.get("/api/hubspot/contacts?limit=1")).status_code for _ in range(5)]
    assert after == [200] * 5
