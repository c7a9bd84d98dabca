"""What resolving the caller's connection costs on every request, and what it must still see.

A warm `client_for` is one SQL statement on SQLite (connection and token expiry joined, no
BEGIN/COMMIT) and a cached access token none; nothing about the connection is cached, so a
change made through another engine (another process) shows on the very next request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from atom_hubspot.errors import NotConnected, ReconnectRequired
from atom_hubspot.oauth import ConnectionManager
from atom_hubspot.storage.db import Database
from atom_hubspot.storage.models import Connection
from tests.oauth.conftest import ALICE
from tests.oauth.helpers import connect


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    # Every engine the database runs statements on. SQLite's lookups by key run on the
    # connection the loop's thread keeps, on its own cursor: sqlite3 reports those itself.
    engines = [e for e in (db.engine.sync_engine, db.point_engine) if e is not None]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    held = db._point_conn.connection.driver_connection if db._point_conn is not None else None
    if held is not None:
        held.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)
        if held is not None:
            held.set_trace_callback(None)


async def _request(manager: ConnectionManager, portal_id: int | None = None) -> int:
    client, info = await manager.client_for(ALICE, portal_id)
    await client.token.access_token()
    return info.portal_id


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_warm_client_for_is_one_statement_on_sqlite(flow, fake, manager, db):
    await connect(flow, fake, ALICE)
    await _request(manager)  # warm: the decrypted token is cached now
    with statements(db) as seen:
        client, info = await manager.client_for(ALICE)
    assert len(seen) == 1, seen
    assert seen[0].lstrip().upper().startswith("SELECT"), seen
    assert info.access_expires_at is not None  # the token's expiry came with the same row
    with statements(db) as seen:
        assert await client.token.access_token() == fake.issued[0]
    assert seen == []
    with statements(db) as seen:
        await _request(manager, fake.portal_id)  # an explicit portal: the same single query
    assert len(seen) == 1, seen


async def test_changes_elsewhere_show_on_the_next_request(
    flow, fake, manager, db_url, settings, clock
):
    """Another engine on the same database stands for another process."""
    first = fake.portal_id
    await connect(flow, fake, ALICE)
    fake.portal_id = second = first + 1
    await connect(flow, fake, ALICE)
    other_db = Database(db_url)
    other = ConnectionManager(
        settings, other_db, oauth_api=fake, client_factory=fake.client_factory, clock=clock
    )
    try:
        assert await _request(other) == first
        assert await _request(manager) == first

        await manager.set_default(ALICE, second)
        assert await _request(other) == second
        assert await _request(manager) == second

        async with other_db.session(ALICE.tenant_id) as s:
            await s.execute(
                sa.update(Connection)
                .where(Connection.portal_id == second)
                .values(status="reauth_required")
            )
        for m in (manager, other):
            with pytest.raises(ReconnectRequired):
                await m.client_for(ALICE)
            assert await _request(m, first) == first

        await other.disconnect(ALICE, first)
        for m in (manager, other):
            with pytest.raises(NotConnected):
                await m.client_for(ALICE, first)
    finally:
        await other_db.dispose()
