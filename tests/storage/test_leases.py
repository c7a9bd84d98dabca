"""Leases: one holder at a time, renewal, release, takeover after the holder dies (SQLite and
PostgreSQL), and across real processes on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from atom_hubspot.errors import StorageError
from atom_hubspot.storage.db import Database, migrate
from atom_hubspot.storage.leases import LeaderLease, Lease, LeaseStore
from atom_hubspot.storage.models import Lease as LeaseRow
from atom_hubspot.storage.models import utcnow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def lease_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = (
        f"sqlite:///{tmp_path / 'leases.sqlite3'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    migrate(url)
    return url


@pytest.fixture
async def db(lease_url: str) -> AsyncIterator[Database]:
    database = Database(lease_url)
    try:
        yield database
    finally:
        await database.dispose()


async def _expire(db: Database, name: str) -> None:
    """Make the lease's row expired, as if its holder had stopped renewing long ago."""
    async with db.session(None) as s:
        await s.execute(
            sa.update(LeaseRow)
            .where(LeaseRow.name == name)
            .values(expires_at=utcnow() - timedelta(seconds=5))
        )


async def test_one_holder_renews_releases(db: Database) -> None:
    store = LeaseStore(db)
    a = await store.try_acquire("job", "a", ttl_s=30)
    assert a is not None and a.term == 1 and a.valid
    assert await store.try_acquire("job", "b", ttl_s=30) is None
    again = await store.try_acquire("job", "a", ttl_s=30)  # ours and live: same term
    assert again is not None and again.term == 1
    renewed = await store.renew(a, ttl_s=60)
    assert renewed is not None and renewed.expires_at > a.expires_at
    state = await store.state("job")
    assert state is not None and (state.holder, state.term) == ("a", 1)
    assert await store.release(renewed)
    assert not await store.release(renewed)  # once
    b = await store.try_acquire("job", "b", ttl_s=30)
    assert b is not None and b.holder == "b" and b.term == 2
    # Other names are other leases.
    assert await store.try_acquire("job:2", "a", ttl_s=30) is not None


async def test_expired_lease_is_taken_over_with_a_new_term(db: Database) -> None:
    store = LeaseStore(db)
    a = await store.try_acquire("sync:1", "a", ttl_s=30)
    assert a is not None
    await _expire(db, "sync:1")
    b = await store.try_acquire("sync:1", "b", ttl_s=30)
    assert b is not None and b.term == a.term + 1
    # The old holder can neither renew nor release what it no longer holds.
    assert await store.renew(a) is None
    assert not await store.release(a)
    state = await store.state("sync:1")
    assert state is not None and state.holder == "b"


async def test_same_holder_after_expiry_gets_a_new_term(db: Database) -> None:
    store = LeaseStore(db)
    a = await store.try_acquire("job", "a", ttl_s=30)
    assert a is not None
    await _expire(db, "job")
    assert await store.renew(a) is None  # expired: a renewal would hide the gap
    again = await store.try_acquire("job", "a", ttl_s=30)
    assert again is not None and again.term == a.term + 1


async def test_many_contenders_one_winner(lease_url: str) -> None:
    dbs = [Database(lease_url) for _ in range(6)]
    try:
        results = await asyncio.gather(
            *(LeaseStore(d).try_acquire("race", f"h{i}", ttl_s=30) for i, d in enumerate(dbs))
        )
    finally:
        for d in dbs:
            await d.dispose()
    assert len([r for r in results if r is not None]) == 1


async def test_bad_names_and_ttls_are_refused(db: Database) -> None:
    store = LeaseStore(db)
    with pytest.raises(ValueError):
        await store.try_acquire("", "a")
    with pytest.raises(ValueError):
        await store.try_acquire("x" * 201, "a")
    with pytest.raises(ValueError):
        await store.try_acquire("job", "a", ttl_s=0)


async def test_leader_runs_the_job_only_while_it_holds_the_lease(db: Database) -> None:
    calls: list[str] = []

    async def stopped() -> None:
        calls.append("stop")

    store = LeaseStore(db)
    one = LeaderLease(
        store,
        "job",
        holder="one",
        ttl_s=30,
        on_acquired=lambda lease: calls.append(f"start {lease.term}"),
    )
    one.on_lost = stopped
    two = LeaderLease(
        store, "job", holder="two", ttl_s=30, on_acquired=lambda _lease: calls.append("2")
    )
    assert await one.tick() and not await two.tick()
    assert calls == ["start 1"]
    # Another process takes it over (e.g. this one hung past the expiry): the job stops.
    await _expire(db, "job")
    assert await two.tick()
    assert not await one.tick()
    assert calls == ["start 1", "2", "stop"]
    # Closing releases at once: the next contender need not wait for the expiry.
    await two.aclose()
    assert await one.tick()
    assert calls[-1] == "start 3"
    await one.aclose()
    assert calls[-1] == "stop"
    assert await store.try_acquire("job", "three", ttl_s=30) is not None


class _Unreachable(LeaseStore):
    """The database stopped answering: every renewal fails as Database would say so."""

    async def renew(self, lease: Lease, ttl_s: float = 30.0) -> Lease | None:
        raise StorageError("The HubSpot plugin's database is unavailable; try again later.")

    async def try_acquire(self, name: str, holder: str, ttl_s: float = 30.0) -> Lease | None:
        raise StorageError("The HubSpot plugin's database is unavailable; try again later.")


async def test_leader_gives_up_when_the_database_stays_unreachable(db: Database) -> None:
    lost: list[bool] = []
    leader = LeaderLease(LeaseStore(db), "job", ttl_s=0.5, on_lost=lambda: lost.append(True))
    assert await leader.tick()
    leader.store = _Unreachable(db)
    assert await leader.tick()  # a failed renewal alone does not give it up: still in time
    assert lost == []
    await asyncio.sleep(0.6)  # past the ttl without a renewal
    assert not await leader.tick()
    assert lost == [True]


# --------------------------------------------------------------------------- processes


def _events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _wait_for(predicate: Any, procs: list[subprocess.Popen[bytes]], what: str) -> None:
    deadline = time.monotonic() + 60  # a hang guard, not a measurement
    while not predicate():
        for p in procs:
            if p.poll() not in (None, -signal.SIGKILL):
                raise AssertionError(f"a lease worker exited: {p.communicate()[0][-2000:]!r}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.slow
def test_two_processes_on_postgres_one_holder_then_takeover(
    postgres_url: str, tmp_path: Path
) -> None:
    migrate(postgres_url)
    files = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.storage.lease_worker", postgres_url, "sched", str(f)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for f in files
    ]
    try:

        def acquired(f: Path) -> list[dict[str, Any]]:
            return [e for e in _events(f) if e["event"] == "acquired"]

        _wait_for(lambda: all(_events(f) for f in files), procs, "both workers")
        _wait_for(lambda: any(acquired(f) for f in files), procs, "a first holder")
        first = 0 if acquired(files[0]) else 1
        second = 1 - first
        # Both contend for a while (many ttl periods): the holder keeps it, the other waits.
        _wait_for(
            lambda: sum(e["event"] == "renewed" for e in _events(files[first])) >= 30,
            procs,
            "renewals",
        )
        assert not acquired(files[second])
        procs[first].send_signal(signal.SIGKILL)  # a crash: no release
        procs[first].wait()
        last_expiry = max(
            datetime.fromisoformat(e["expires_at"])
            for e in _events(files[first])
            if e["event"] in ("acquired", "renewed")
        )
        _wait_for(lambda: acquired(files[second]), procs, "the takeover")
        taken = acquired(files[second])[0]
        assert taken["term"] == acquired(files[first])[0]["term"] + 1

        # The takeover waited for the crashed holder's lease to expire.
        async def state() -> Any:
            database = Database(postgres_url)
            try:
                return await LeaseStore(database).state("sched")
            finally:
                await database.dispose()

        row = asyncio.run(state())
        assert row.holder == taken["holder"] and row.acquired_at >= last_expiry
        # A clean stop releases at once: a newcomer need not wait for the expiry.
        procs[second].send_signal(signal.SIGTERM)
        assert procs[second].wait(timeout=30) == 0

        async def newcomer() -> Any:
            database = Database(postgres_url)
            try:
                return await LeaseStore(database).try_acquire("sched", "newcomer", ttl_s=30)
            finally:
                await database.dispose()

        lease = asyncio.run(newcomer())
        assert lease is not None and lease.term == taken["term"] + 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
