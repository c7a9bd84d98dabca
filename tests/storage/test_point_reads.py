"""SQLite's short reads (`Database.rows`/`first`) run on a connection the event loop's thread
keeps open. It must read what is committed now, whoever committed it, never a snapshot kept
from an earlier read, and never block or be blocked by a writer."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
import sqlalchemy as sa

from atom_hubspot.errors import StorageError
from atom_hubspot.storage.db import Database, migrate

W = sa.table("hubspot_rate_windows", sa.column("key"), sa.column("count"))
ONE = sa.select(W.c.count).where(W.c.key == sa.bindparam("k"))
ALL = sa.select(W.c.key).order_by(W.c.key)
INSERT = sa.text("INSERT INTO hubspot_rate_windows (key, window_start, count) VALUES (:k, 0, :n)")
UPDATE = sa.text("UPDATE hubspot_rate_windows SET count = :n WHERE key = :k")


def _file(url: str) -> str:
    return url.removeprefix("sqlite:///")


async def _read_once(sqlite_url: str) -> Database:
    """A migrated database holding row "a" (count 1), read once: its connection is kept."""
    migrate(sqlite_url)
    db = Database(sqlite_url)
    async with db.session(None) as s:
        await s.execute(INSERT, {"k": "a", "n": 1})
    await db.first(ONE, {"k": "a"}, None)
    return db


async def test_each_read_sees_what_was_committed_since(sqlite_url: str) -> None:
    migrate(sqlite_url)
    db, other = Database(sqlite_url), Database(sqlite_url)
    try:
        async with other.session(None) as s:
            await s.execute(INSERT, {"k": "a", "n": 1})
        assert (await db.first(ONE, {"k": "a"}, None)).count == 1  # type: ignore[union-attr]
        held = db._point_conn
        assert held is not None  # the read went through the kept connection

        async with other.session(None) as s:  # another engine (the async one) writes
            await s.execute(UPDATE, {"k": "a", "n": 2})
            await s.execute(INSERT, {"k": "b", "n": 1})
        assert (await db.first(ONE, {"k": "a"}, None)).count == 2  # type: ignore[union-attr]
        assert [r.key for r in await db.rows(ALL, {}, None)] == ["a", "b"]

        raw = sqlite3.connect(_file(sqlite_url))  # another process's write, as it would be
        raw.execute("UPDATE hubspot_rate_windows SET count = 3 WHERE key = 'a'")
        raw.commit()
        raw.close()
        assert (await db.first(ONE, {"k": "a"}, None)).count == 3  # type: ignore[union-attr]
        assert db._point_conn is held  # one connection all along
    finally:
        await db.dispose()
        await other.dispose()
    assert db._point_conn is None  # closed on dispose


async def test_an_open_write_transaction_neither_blocks_nor_shows(sqlite_url: str) -> None:
    db = await _read_once(sqlite_url)
    try:
        writer = sqlite3.connect(_file(sqlite_url), isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE hubspot_rate_windows SET count = 9 WHERE key = 'a'")
        # Uncommitted: the read answers at once with the committed value.
        assert (await db.first(ONE, {"k": "a"}, None)).count == 1  # type: ignore[union-attr]
        writer.execute("COMMIT")
        assert (await db.first(ONE, {"k": "a"}, None)).count == 9  # type: ignore[union-attr]
        writer.close()
    finally:
        await db.dispose()


async def test_reads_from_another_thread_use_their_own_connection(sqlite_url: str) -> None:
    db = await _read_once(sqlite_url)
    try:
        held = db._point_conn
        seen: list[int] = []

        def elsewhere() -> None:
            row = asyncio.run(db.first(ONE, {"k": "a"}, None))
            assert row is not None
            seen.append(row.count)

        t = threading.Thread(target=elsewhere)
        t.start()
        t.join()
        assert seen == [1]
        assert db._point_conn is held  # the loop thread's connection was not taken over
    finally:
        await db.dispose()


async def test_a_refused_read_falls_back_and_reconnects(sqlite_url: str) -> None:
    db = await _read_once(sqlite_url)
    try:
        # A statement SQLite refuses (no such table) is an OperationalError on the kept
        # connection: it is dropped, the asynchronous way answers (and raises the same), and
        # the next read opens a fresh one that works.
        missing = sa.select(sa.column("x")).select_from(sa.table("no_such_table"))
        with pytest.raises(StorageError):
            await db.first(missing, {}, None)
        assert db._point_conn is None
        assert (await db.first(ONE, {"k": "a"}, None)).count == 1  # type: ignore[union-attr]
        assert db._point_conn is not None
    finally:
        await db.dispose()
