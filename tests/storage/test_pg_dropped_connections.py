"""PostgreSQL: pooled connections the server dropped (a restart, an idle timeout) cost no
request its answer. A connection used moments ago is not pinged (that would be a round trip on
every request); a read that meets a dropped one runs again on a fresh connection, and a
connection idle past PING_IDLE_S is pinged and replaced before use, so a write gets a live one.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from atom_hubspot.storage import db as db_module
from atom_hubspot.storage.db import Database, migrate

pytestmark = pytest.mark.postgres

COUNT = sa.select(sa.func.count()).select_from(sa.table("hubspot_rate_windows"))
INSERT = sa.text("INSERT INTO hubspot_rate_windows (key, window_start, count) VALUES (:k, 0, 1)")


def _drop_pooled_connections(admin_url: str, database_url: str) -> int:
    """Terminate every server process serving `database_url`'s database, as a restart would."""
    import psycopg

    name = database_url.rpartition("/")[2]
    with psycopg.connect(admin_url, autocommit=True) as c:
        rows = c.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


def _pings(db: Database) -> list[str]:
    """Statements the pool's pings send (SQLAlchemy's do_ping runs `SELECT 1`)."""
    seen: list[str] = []
    original = db.engine.sync_engine.dialect.do_ping

    def counting(dbapi_connection: object) -> bool:
        seen.append("ping")
        return bool(original(dbapi_connection))

    db.engine.sync_engine.dialect.do_ping = counting  # type: ignore[method-assign]
    return seen


async def test_a_read_survives_connections_the_server_dropped(
    postgres_url: str, postgres_admin_url: str
) -> None:
    migrate(postgres_url)
    db = Database(postgres_url)
    pings = _pings(db)
    try:
        assert await db.rows(COUNT, {}, None) == [(0,)]
        assert await db.rows(COUNT, {}, None) == [(0,)]
        assert pings == []  # used moments ago: trusted, no round trip spent on a ping
        assert _drop_pooled_connections(postgres_admin_url, postgres_url) >= 1
        # The pooled connection is dead; the read notices, and runs again on a new one.
        assert await db.rows(COUNT, {}, None) == [(0,)]
        assert await db.first(COUNT, {}, "tenant-a") is not None
    finally:
        await db.dispose()


async def test_an_idle_connection_is_pinged_and_replaced_before_a_write(
    postgres_url: str, postgres_admin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate(postgres_url)
    db = Database(postgres_url)
    pings = _pings(db)
    try:
        async with db.session(None) as s:
            await s.execute(INSERT, {"k": "before"})
        assert _drop_pooled_connections(postgres_admin_url, postgres_url) >= 1
        monkeypatch.setattr(db_module, "PING_IDLE_S", 0.0)  # every pooled one counts as idle
        async with db.session(None) as s:  # a write: not retried, so it needs a live one
            await s.execute(INSERT, {"k": "after"})
        assert pings  # the dead connection was found by the ping, not by the write
        keys = sa.select(sa.column("key")).select_from(sa.table("hubspot_rate_windows"))
        rows = await db.rows(keys.order_by(sa.column("key")), {}, None)
        assert [r[0] for r in rows] == ["after", "before"]
    finally:
        await db.dispose()
