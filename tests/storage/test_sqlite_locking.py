"""SQLite: a session that reads and then writes must not fail because another connection
wrote in between (a deferred transaction gets "database is locked" at once in that case)."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from atom_hubspot.storage.db import Database, migrate

COUNT = sa.text("SELECT count(*) FROM hubspot_rate_windows")
INSERT = sa.text("INSERT INTO hubspot_rate_windows (key, window_start, count) VALUES (:k, 0, 1)")


async def _interleave(sqlite_url: str, *, read_only_first: bool) -> list[str]:
    migrate(sqlite_url)
    a, b = Database(sqlite_url), Database(sqlite_url)
    read_done = asyncio.Event()

    async def read_then_write() -> None:
        async with a.session(None, read_only=read_only_first) as s:
            await s.execute(COUNT)
            read_done.set()
            await asyncio.sleep(0.3)  # the other connection writes now, if it can
            await s.execute(INSERT, {"k": "first"})

    async def write() -> None:
        await read_done.wait()
        async with b.session(None) as s:
            await s.execute(INSERT, {"k": "second"})

    try:
        await asyncio.gather(read_then_write(), write())
        async with a.session(None, read_only=True) as s:
            rows = await s.execute(sa.text("SELECT key FROM hubspot_rate_windows ORDER BY key"))
            return [r[0] for r in rows]
    finally:
        await a.dispose()
        await b.dispose()


async def test_read_then_write_survives_a_concurrent_writer(sqlite_url: str) -> None:
    assert await _interleave(sqlite_url, read_only_first=False) == ["first", "second"]


async def test_the_failure_this_prevents_is_real(sqlite_url: str) -> None:
    # Without the write lock up front the same interleaving fails: the lock is what helps.
    from atom_hubspot.errors import StorageError

    try:
        await _interleave(sqlite_url, read_only_first=True)
    except StorageError:
        return
    raise AssertionError("a deferred read-then-write should have failed against the writer")
