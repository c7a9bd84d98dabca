"""PostgreSQL short reads on psycopg in one round trip (`storage/pg_reads.py`) give the rows the
engine's path gives, for every statement that takes them, on a host with real data; they see
only the bound tenant's rows (as a role row-level security applies to), never the tenant a
pooled connection read for before; and a connection the server dropped costs no read."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from atom_hubspot.storage.db import Database, migrate
from atom_hubspot.storage.mirror.queries import _ONE
from atom_hubspot.storage.models import Connection, ScheduledSend
from atom_hubspot.storage.repository import _find_with_expiry
from atom_hubspot.storage.scheduled_sends import _listing, _one
from tests.api.conftest import PORTAL_A, PRINCIPALS, Stack, running_stack
from tests.mirror.test_host import sync_now
from tests.storage.test_pg_dropped_connections import _drop_pooled_connections
from tests.storage.test_rls import app_role_url

__all__ = ["app_role_url"]

pytestmark = pytest.mark.postgres


def _dicts(rows: list[Any]) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in rows]


async def _both(db: Database, stmt: Any, params: dict[str, Any], tenant: str) -> list[Any]:
    """The rows both ways, compared; the short path's."""
    short = await db.rows(stmt, params, tenant)
    engine = await db._rows(stmt, params, tenant, False)
    assert _dicts(short) == _dicts(engine)
    for got, want in zip(short, engine, strict=True):
        for name in want._fields:
            assert getattr(got, name) == getattr(want, name)
            assert type(getattr(got, name)) is type(getattr(want, name)), name
    return short


@pytest.fixture
async def mirrored(hubspot_env: dict[str, str], postgres_url: str) -> AsyncIterator[Stack]:
    """The host on PostgreSQL with both connected portals mirrored."""
    await asyncio.to_thread(migrate, postgres_url)
    env = {**hubspot_env, "HUBSPOT_SYNC_INTERVAL": "3600"}
    async with running_stack(env, postgres_url, None) as st:
        await sync_now(st)
        yield st


async def each_statement_gives_the_engines_rows(stack: Stack) -> Database:
    """Every statement `Database.rows` and `first` run on a request, with real rows, read
    both ways and compared (values and their types). Shared with SQLite's short reads."""
    runtime: Any = stack.runtime
    db: Database = runtime.db
    alice = PRINCIPALS["alice"]
    async with db.session(alice.tenant_id) as s:
        connection_id = await s.scalar(
            sa.select(Connection.id).where(Connection.user_id == alice.user_id)
        )
        for n in range(3):
            s.add(
                ScheduledSend(
                    tenant_id=alice.tenant_id,
                    user_id=alice.user_id,
                    portal_id=PORTAL_A,
                    connection_id=connection_id,
                    email_id=100 + n,
                    recipients=[{"email": f"r{n}@example.com"}],
                    contact_properties={"n": n},
                    custom_properties={},
                    send_at=datetime.now(UTC) + timedelta(days=n + 1),
                    status="pending",
                    attempts=0,
                )
            )
    who = {"tenant_id": alice.tenant_id, "user_id": alice.user_id}
    found = await _both(
        db, _find_with_expiry(False), {**who, "environment": "production"}, alice.tenant_id
    )
    assert [r.portal_id for r in found] == [PORTAL_A]
    assert found[0].access_expires_at is not None and found[0].access_expires_at.tzinfo
    by_portal = {**who, "environment": "production", "portal_id": PORTAL_A}
    assert len(await _both(db, _find_with_expiry(True), by_portal, alice.tenant_id)) == 1

    sends = await _both(db, _listing(False, False), {**who, "limit": 2, "offset": 1}, "tenant-a")
    assert [r.email_id for r in sends] == [101, 100]  # latest first, the second page
    one = await _both(db, _one(), {**who, "id": sends[0].id}, alice.tenant_id)
    assert one[0].recipients == [{"email": "r1@example.com"}]

    page = (await runtime.mirror.query_records(PORTAL_A, "contacts", filter_groups=[],
            sorts=[], query=None, limit=2, after=None, keyset=True,
            tenant_id=alice.tenant_id)).records  # fmt: skip
    record = {"p": PORTAL_A, "t": "contacts", "i": page[0].id}
    got = await _both(db, _ONE, record, alice.tenant_id)
    assert got[0].properties and isinstance(got[0].properties, dict)
    return db


async def test_each_statement_gives_the_engines_rows(mirrored: Stack) -> None:
    db = await each_statement_gives_the_engines_rows(mirrored)
    assert db._pg_reads is not None and db._pg_reads._pool is not None  # the short path ran


async def test_a_read_sees_only_its_tenant_whatever_the_connection_read_before(
    app_role_url: str,
) -> None:
    db = Database(app_role_url)
    assert db._pg_reads is not None
    db._pg_reads.max_size = 1  # one connection: every read reuses the last one's
    unfiltered = sa.select(Connection.id, Connection.tenant_id).order_by(Connection.id)
    try:
        for tenant in ("t1", "t2", "t1", "nobody", "t2"):
            rows = await db.rows(unfiltered, {}, tenant)
            assert {r.tenant_id for r in rows} <= {tenant}, tenant
            assert len(rows) == (0 if tenant == "nobody" else 2)
        # The connection went back outside any transaction, bound to no one.
        pool = db._pg_reads._pool
        async with pool.connection() as conn:
            assert (await (await conn.execute("SELECT count(*) FROM hubspot_connections"))
                    .fetchone())[0] == 0  # fmt: skip
    finally:
        await db.dispose()


async def test_a_read_survives_connections_the_server_dropped(
    app_role_url: str, postgres_url: str, postgres_admin_url: str
) -> None:
    db = Database(app_role_url)
    ids = sa.select(Connection.id).order_by(Connection.id)
    try:
        assert [r.id for r in await db.rows(ids, {}, "t1")] == ["t1-c0", "t1-c1"]
        assert _drop_pooled_connections(postgres_admin_url, postgres_url) >= 1
        assert [r.id for r in await db.rows(ids, {}, "t2")] == ["t2-c0", "t2-c1"]
    finally:
        await db.dispose()


async def test_what_it_cannot_run_alike_takes_the_engines_path(app_role_url: str) -> None:
    db = Database(app_role_url)
    assert db._pg_reads is not None
    expanding = sa.select(Connection.id).where(
        Connection.id.in_(sa.bindparam("ids", expanding=True))
    )
    try:
        assert db._pg_reads.shapes.get(expanding) is None
        rows = await db.rows(expanding, {"ids": ["t1-c1", "t2-c0"]}, "t1")
        assert [r.id for r in rows] == ["t1-c1"]  # the engine's path, still bound to t1
    finally:
        await db.dispose()


async def test_a_read_that_finds_every_connection_busy_takes_the_engines_path(
    app_role_url: str,
) -> None:
    db = Database(app_role_url)
    assert db._pg_reads is not None
    db._pg_reads.max_size = 1
    ids = sa.select(Connection.id).order_by(Connection.id)
    try:
        assert [r.id for r in await db.rows(ids, {}, "t1")] == ["t1-c0", "t1-c1"]
        async with db._pg_reads._pool.connection():  # the pool's only connection, held
            started = time.monotonic()
            rows = await db.rows(ids, {}, "t2")
            waited = time.monotonic() - started
        assert [r.id for r in rows] == ["t2-c0", "t2-c1"]  # answered, still bound to t2
        assert waited < 5, waited  # WAIT_S, then the engine's path; no 30 s pool wait
    finally:
        await db.dispose()
