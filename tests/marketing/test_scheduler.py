"""Scheduled sends: stored durably, performed once at their time — across a restart and with two
runners on separate engines — on SQLite and PostgreSQL; stale claims reported, never re-sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa

from atom_host_stub.contract import Principal
from atom_hubspot.errors import Conflict, NotFound
from atom_hubspot.service.email_sends import Recipient
from atom_hubspot.service.scheduler import ScheduledSendRunner, ScheduledSends
from atom_hubspot.storage.db import Database
from atom_hubspot.storage.models import ScheduledSend
from tests.clocks import DateClock
from tests.marketing.fakes import FakeClient, FakeConnections, SendLog, runtime_over

ALICE = Principal(tenant_id="t-alice", user_id="alice")
BOB = Principal(tenant_id="t-bob", user_id="bob")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return str(request.getfixturevalue("marketing_db_url"))
    return str(request.getfixturevalue("marketing_pg_url"))


@pytest.fixture
async def engines(db_url: str) -> AsyncIterator[Callable[[], Database]]:
    """Open as many Database engines on the one database as a test wants (one per 'process')."""
    made: list[Database] = []

    def make() -> Database:
        d = Database(db_url)
        made.append(d)
        return d

    yield make
    for d in made:
        await d.dispose()


async def _schedule(
    store: ScheduledSends,
    clock: DateClock,
    addresses: list[str],
    *,
    principal: Principal = ALICE,
    in_s: float = 60,
) -> str:
    info = await store.create(
        principal,
        portal_id=1234567,
        connection_id="conn-1",
        email_id=42,
        recipients=[Recipient(email=a) for a in addresses],
        send_at=clock() + timedelta(seconds=in_s),
    )
    assert info.status == "pending"
    return info.id


async def _row(db: Database, send_id: str) -> ScheduledSend:
    async with db.session(None) as s:
        row = (
            await s.execute(sa.select(ScheduledSend).where(ScheduledSend.id == send_id))
        ).scalar_one()
        return row


async def test_performed_once_at_its_time_and_not_before(engines: Callable[[], Database]) -> None:
    db, clock, log = engines(), DateClock(), SendLog()
    runtime = runtime_over(db, FakeConnections(FakeClient(log)))
    runner = ScheduledSendRunner(runtime, clock=clock, worker_id="w1")
    send_id = await _schedule(runner.store, clock, ["a@example.com", "b@example.com"])

    assert await runner.run_once() == 0  # not due yet
    assert log.calls == []
    clock.advance(seconds=61)
    assert await runner.run_once() == 1
    assert await runner.run_once() == 0  # never a second time
    assert sorted(log.per_address().items()) == [("a@example.com", 1), ("b@example.com", 1)]

    row = await _row(db, send_id)
    assert row.status == "sent" and row.attempts == 1 and row.claimed_by == "w1"
    assert [r["status"] for r in row.results] == ["sent", "sent"]
    info = await runner.store.get(ALICE, send_id)
    assert info.results is not None and info.results[0] is not None
    assert info.results[0].status_id is not None


async def test_survives_a_restart(engines: Callable[[], Database]) -> None:
    clock, log = DateClock(), SendLog()
    first = ScheduledSendRunner(
        runtime_over(engines(), FakeConnections(FakeClient(log))),
        clock=clock,
        worker_id="before-restart",
    )
    first.start()
    send_id = await _schedule(first.store, clock, ["a@example.com"])
    await asyncio.sleep(0.05)
    await first.aclose()  # the host stops before the send is due
    assert log.calls == []

    clock.advance(minutes=5)
    db2 = engines()  # a new process: new engine, same database
    second = ScheduledSendRunner(
        runtime_over(db2, FakeConnections(FakeClient(log))), clock=clock, worker_id="after-restart"
    )
    assert await second.run_once() == 1
    assert log.per_address() == {"a@example.com": 1}
    row = await _row(db2, send_id)
    assert row.status == "sent" and row.claimed_by == "after-restart"


async def test_two_runners_on_separate_engines_send_each_once(
    engines: Callable[[], Database],
) -> None:
    clock, log = DateClock(), SendLog()
    gate = asyncio.Event()  # holds the sends so both runners are claiming at the same time
    runners = [
        ScheduledSendRunner(
            runtime_over(engines(), FakeConnections(FakeClient(log, gate=gate))),
            clock=clock,
            worker_id=f"w{i}",
            batch_size=7,
        )
        for i in range(2)
    ]
    ids = [
        await _schedule(runners[0].store, clock, [f"r{n}@example.com"], in_s=10) for n in range(20)
    ]
    clock.advance(seconds=11)

    async def drain(r: ScheduledSendRunner) -> int:
        total = 0
        for _ in range(6):
            total += await r.run_once()
        return total

    tasks = [asyncio.create_task(drain(r)) for r in runners]
    await asyncio.sleep(0.2)
    gate.set()
    performed = await asyncio.gather(*tasks)

    assert sum(performed) == 20
    counts = log.per_address()
    assert len(counts) == 20 and set(counts.values()) == {1}
    claimed_by = {
        (
            await _row(runners[0].db if hasattr(runners[0], "db") else runners[0].store.db, i)
        ).claimed_by
        for i in ids
    }
    assert claimed_by <= {"w0", "w1"}
    statuses = {(await _row(runners[0].store.db, i)).status for i in ids}
    assert statuses == {"sent"}


async def test_stale_claim_is_reported_unknown_not_resent(
    engines: Callable[[], Database],
) -> None:
    clock, log = DateClock(), SendLog()
    db1 = engines()
    # The first process hangs on the second recipient, then dies (task cancelled, no cleanup).
    dying = ScheduledSendRunner(
        runtime_over(db1, FakeConnections(FakeClient(log, hang_on={"b@example.com"}))),
        clock=clock,
        worker_id="dies",
        stale_after_s=120,
    )
    dying.runtime.settings.send_concurrency = 1
    send_id = await _schedule(
        dying.store, clock, ["a@example.com", "b@example.com", "c@example.com"]
    )
    clock.advance(seconds=61)
    task = asyncio.create_task(dying.run_once())
    for _ in range(100):
        await asyncio.sleep(0.01)
        row = await _row(db1, send_id)
        if row.results and row.results[0]:
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    row = await _row(db1, send_id)
    assert row.status == "claimed"
    assert log.per_address() == {"a@example.com": 1}

    other = ScheduledSendRunner(
        runtime_over(engines(), FakeConnections(FakeClient(log))),
        clock=clock,
        worker_id="survivor",
        stale_after_s=120,
    )
    assert await other.run_once() == 0  # not stale yet: the first process may be alive
    assert (await _row(db1, send_id)).status == "claimed"

    clock.advance(seconds=121)
    assert await other.run_once() == 0
    row = await _row(db1, send_id)
    assert row.status == "partial"
    assert [r["status"] for r in row.results] == ["sent", "unknown", "unknown"]
    assert "outcome unknown for 2" in row.error
    assert log.per_address() == {"a@example.com": 1}  # nothing re-sent
    assert await other.run_once() == 0
    assert log.per_address() == {"a@example.com": 1}


async def test_cancel_and_tenant_isolation(engines: Callable[[], Database]) -> None:
    db, clock, log = engines(), DateClock(), SendLog()
    runner = ScheduledSendRunner(
        runtime_over(db, FakeConnections(FakeClient(log))), clock=clock, worker_id="w"
    )
    keep = await _schedule(runner.store, clock, ["keep@example.com"])
    drop = await _schedule(runner.store, clock, ["drop@example.com"])

    with pytest.raises(NotFound):
        await runner.store.cancel(BOB, drop)  # another tenant's id: not found, not cancelled
    assert [i.id for i in await runner.store.list_for(BOB)] == []
    with pytest.raises(NotFound):
        await runner.store.get(BOB, keep)

    cancelled = await runner.store.cancel(ALICE, drop)
    assert cancelled.status == "cancelled"
    with pytest.raises(Conflict):
        await runner.store.cancel(ALICE, drop)

    clock.advance(seconds=61)
    assert await runner.run_once() == 1
    assert log.per_address() == {"keep@example.com": 1}
    with pytest.raises(Conflict) as exc:
        await runner.store.cancel(ALICE, keep)
    assert "already performed" in exc.value.message
    listed = {i.id: i.status for i in await runner.store.list_for(ALICE)}
    assert listed == {keep: "sent", drop: "cancelled"}


async def test_transient_failure_before_sending_is_retried(
    engines: Callable[[], Database],
) -> None:
    db, clock, log = engines(), DateClock(), SendLog()
    client = FakeClient(log, emails={"7": "seven@example.com"}, fail_reads=1)
    runner = ScheduledSendRunner(
        runtime_over(db, FakeConnections(client)), clock=clock, worker_id="w"
    )
    info = await runner.store.create(
        ALICE,
        portal_id=1,
        connection_id="conn-1",
        email_id=42,
        recipients=[Recipient(contact_id="7"), Recipient(contact_id="8")],
        send_at=clock() + timedelta(seconds=5),
    )
    clock.advance(seconds=6)
    assert await runner.run_once() == 1  # contacts read failed: nothing sent, released
    row = await _row(db, info.id)
    assert row.status == "pending" and row.attempts == 1 and "hubspot_unavailable" in row.error
    assert log.calls == []

    assert await runner.run_once() == 1
    row = await _row(db, info.id)
    assert row.status == "partial" and row.attempts == 2
    assert [r["status"] for r in row.results] == ["sent", "skipped"]
    assert row.results[1]["error"]["code"] == "not_found"
    assert log.per_address() == {"seven@example.com": 1}


async def test_not_connected_fails_without_sending(engines: Callable[[], Database]) -> None:
    db, clock, log = engines(), DateClock(), SendLog()
    runner = ScheduledSendRunner(
        runtime_over(db, FakeConnections(FakeClient(log), connected={"someone-else"})),
        clock=clock,
        worker_id="w",
    )
    send_id = await _schedule(runner.store, clock, ["a@example.com"])
    clock.advance(seconds=61)
    assert await runner.run_once() == 1
    row = await _row(db, send_id)
    assert row.status == "failed" and row.error.startswith("not_connected")
    assert log.calls == []
