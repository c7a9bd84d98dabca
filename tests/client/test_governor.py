"""RateLimitGovernor under a virtual clock: never more than the budget in any window."""

from __future__ import annotations

import asyncio
import bisect
import logging

import pytest

from atom_hubspot.client import (
    MemoryWindowBackend,
    PostgresWindowBackend,
    RateLimitGovernor,
    RedisWindowBackend,
)
from atom_hubspot.client.governor import DEFAULT_MARGIN_RATIO
from atom_hubspot.errors import RateLimited
from tests.client.fakes import VirtualClock, settings
from tests.clocks import StepClock


def max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best = 0
    for i, t in enumerate(times):
        j = bisect.bisect_left(times, t + window)
        best = max(best, j - i)
    return best


def governor(clock: VirtualClock, **kw) -> RateLimitGovernor:
    return RateLimitGovernor(clock=clock.time, sleep=clock.sleep, **kw)


async def test_many_tasks_stay_under_the_10s_budget_and_use_it() -> None:
    clock = VirtualClock()
    gov = governor(clock, requests_per_10s=110)
    sent: list[float] = []

    async def worker(n: int) -> None:
        for _ in range(n):
            await gov.acquire("portal:1")
            sent.append(clock.time())

    await asyncio.gather(*(worker(25) for _ in range(20)))  # 500 calls
    assert len(sent) == 500
    assert max_in_window(sent, 10.0) <= 110
    elapsed = max(sent) - min(sent)
    # 500 calls at 110 per (10 s + margin) need 4 full windows; no more than that.
    assert elapsed <= 4 * (10 + 10 * DEFAULT_MARGIN_RATIO) + 0.5
    assert gov.waits > 0 and clock.slept  # it waited, on the virtual clock only


async def test_portals_have_separate_budgets() -> None:
    clock = VirtualClock()
    gov = governor(clock, requests_per_10s=3)
    for _ in range(3):
        await gov.acquire("portal:1")
        await gov.acquire("portal:2")
    assert clock.slept == []


async def test_search_has_its_own_5_per_second_budget() -> None:
    clock = VirtualClock()
    gov = governor(clock, requests_per_10s=1000, search_per_s=5)
    searches: list[float] = []
    for _ in range(23):
        await gov.acquire("portal:1", search=True)
        searches.append(clock.time())
    assert max_in_window(searches, 1.0) <= 5
    assert max(searches) - min(searches) >= 4.0  # 23 searches need at least 4 more seconds


async def test_waits_are_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    clock = VirtualClock()
    gov = governor(clock, requests_per_10s=1)
    caplog.set_level(logging.INFO, logger="atom_hubspot")
    await gov.acquire("portal:1")
    await gov.acquire("portal:1")
    waits = [r for r in caplog.records if "waiting" in r.getMessage()]
    assert waits and waits[0].levelno == logging.INFO


async def test_headers_correct_the_limit_and_the_window() -> None:
    clock = VirtualClock()
    gov = governor(clock, requests_per_10s=110)
    await gov.observe(
        "portal:1",
        {
            "x-hubspot-ratelimit-max": "5",
            "x-hubspot-ratelimit-remaining": "4",
            "x-hubspot-ratelimit-interval-milliseconds": "2000",
        },
    )
    sent = []
    for _ in range(12):
        await gov.acquire("portal:1")
        sent.append(clock.time())
    assert gov.budget("portal:1").limit == 5
    assert max_in_window(sent, 2.0) <= 5


async def test_remaining_lower_than_ours_counts_other_consumers() -> None:
    clock = VirtualClock()
    gov = governor(clock, requests_per_10s=10)
    await gov.acquire("portal:1")  # we used 1; HubSpot says 8 are used
    await gov.observe(
        "portal:1", {"x-hubspot-ratelimit-max": "10", "x-hubspot-ratelimit-remaining": "2"}
    )
    await gov.acquire("portal:1")
    await gov.acquire("portal:1")
    assert clock.slept == []
    await gov.acquire("portal:1")  # the 11th in the window must wait for the window to roll
    assert clock.slept and sum(clock.slept) >= 9.0


async def test_remaining_higher_than_ours_does_not_loosen_the_budget() -> None:
    clock = VirtualClock()
    gov = governor(clock, requests_per_10s=3)
    for _ in range(3):
        await gov.acquire("portal:1")
    await gov.observe(
        "portal:1", {"x-hubspot-ratelimit-max": "3", "x-hubspot-ratelimit-remaining": "3"}
    )
    await gov.acquire("portal:1")
    assert clock.slept  # still waited: our own count stands


async def test_daily_exhaustion_fails_fast_until_the_reset() -> None:
    clock = VirtualClock()
    gov = governor(clock)
    gov.mark_daily_exhausted("portal:1", retry_after_s=3600)
    with pytest.raises(RateLimited) as info:
        await gov.acquire("portal:1")
    assert info.value.policy == "DAILY"
    assert info.value.retry_after_s == pytest.approx(3600)
    assert clock.slept == []  # failed fast, no in-line wait
    await gov.acquire("portal:2")  # other portals unaffected
    clock.now += 3601
    await gov.acquire("portal:1")


async def test_daily_without_retry_after_lasts_until_next_utc_midnight() -> None:
    clock = VirtualClock(start=1_800_000_000.0)  # 2027-01-15 08:00 UTC
    gov = governor(clock)
    left = gov.mark_daily_exhausted("portal:1")
    assert left == pytest.approx(16 * 3600)


async def test_daily_remaining_zero_header_marks_exhaustion() -> None:
    clock = VirtualClock()
    gov = governor(clock)
    await gov.observe("portal:1", {"x-hubspot-ratelimit-daily-remaining": "0"})
    with pytest.raises(RateLimited):
        await gov.acquire("portal:1")


async def test_hold_blocks_every_task_of_the_portal() -> None:
    clock = VirtualClock()
    gov = governor(clock)
    gov.hold("portal:1", 4.0)
    start = clock.time()
    await asyncio.gather(gov.acquire("portal:1"), gov.acquire("portal:1"))
    assert clock.time() - start >= 4.0


async def test_memory_backend_wait_is_exact() -> None:
    b = MemoryWindowBackend()
    assert await b.acquire("k", 2, 1000, 0) == 0
    assert await b.acquire("k", 2, 1000, 300) == 0
    assert await b.acquire("k", 2, 1000, 500) == 501  # the entry at 0 leaves after 1000
    assert await b.acquire("k", 2, 1000, 1001) == 0


def test_from_settings_picks_the_backend() -> None:
    assert isinstance(RateLimitGovernor.from_settings(settings()).backend, MemoryWindowBackend)
    gov = RateLimitGovernor.from_settings(settings(HUBSPOT_RATE_LIMIT_TIER="private-professional"))
    assert gov.requests_per_10s == 190
    pg = RateLimitGovernor.from_settings(
        settings(HUBSPOT_RATE_LIMIT_BACKEND="postgres"), database_url="postgresql://x@h/db"
    )
    assert isinstance(pg.backend, PostgresWindowBackend)
    with pytest.raises(ValueError):
        RateLimitGovernor.from_settings(
            settings(HUBSPOT_RATE_LIMIT_BACKEND="postgres"), database_url="sqlite:///x"
        )
    redis = RateLimitGovernor.from_settings(
        settings(HUBSPOT_RATE_LIMIT_BACKEND="redis", HUBSPOT_REDIS_URL="redis://127.0.0.1:6379/0")
    )
    assert isinstance(redis.backend, RedisWindowBackend)


# --------------------------------------------------------------------------- PostgreSQL

RATE_TABLE = """CREATE TABLE IF NOT EXISTS hubspot_rate_windows (
    key text NOT NULL, window_start bigint NOT NULL, count integer NOT NULL,
    PRIMARY KEY (key, window_start))"""


@pytest.fixture
def rate_db(postgres_url: str) -> str:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(RATE_TABLE)
    return postgres_url


@pytest.mark.postgres
async def test_postgres_backend_shares_the_budget_between_governors(rate_db: str) -> None:
    clock = StepClock()
    kw = {"clock": clock.time, "sleep": clock.sleep, "requests_per_10s": 20}
    a = RateLimitGovernor(backend=PostgresWindowBackend(rate_db), **kw)
    b = RateLimitGovernor(backend=PostgresWindowBackend(rate_db), **kw)
    sent: list[float] = []
    try:
        for i in range(50):  # two "processes" taking turns
            await (a if i % 2 else b).acquire("portal:7")
            sent.append(clock.time())
    finally:
        await a.aclose()
        await b.aclose()
    assert max_in_window(sent, 10.0) <= 20  # one budget for both
    assert max(sent) - min(sent) >= 20.0
    assert a.waits + b.waits >= 2


@pytest.mark.postgres
async def test_postgres_backend_force_and_cleanup(rate_db: str) -> None:
    import psycopg

    backend = PostgresWindowBackend(rate_db)
    try:
        await backend.force("k", 5, 10_000, 1_000)
        assert await backend.occupancy("k", 10_000, 1_000) == 5
        assert await backend.acquire("k", 5, 10_000, 2_000) > 0
        assert await backend.acquire("k", 5, 10_000, 12_000) == 0  # old bucket gone
    finally:
        await backend.aclose()
    with psycopg.connect(rate_db) as conn:
        rows = conn.execute("SELECT window_start FROM hubspot_rate_windows").fetchall()
    assert [r[0] for r in rows] == [12_000]


# --------------------------------------------------------------------------- Redis


async def test_redis_backend_shares_a_moving_window(redis_url: str) -> None:
    import uuid

    key = f"test-{uuid.uuid4().hex}"
    a = RedisWindowBackend(redis_url)
    b = RedisWindowBackend(redis_url)
    try:
        for backend in (a, b, a):
            assert await backend.acquire(key, 3, 10_000, 0) == 0
        wait = await b.acquire(key, 3, 10_000, 0)
        assert 0 < wait <= 10_001  # full: told how long until the oldest entry leaves
        assert await a.occupancy(key, 10_000, 0) == 3
    finally:
        await a.clear(key)


async def test_settle_counts_a_slow_call_from_its_answer() -> None:
    clock = VirtualClock()
    gov = governor(clock, requests_per_10s=2)
    slow = await gov.acquire_slot("portal:1")  # sent at t=0, answered at t=6
    await gov.acquire("portal:1")
    clock.now += 6
    await gov.settle(slow)
    clock.now += 5  # t=11: the quick call left the window, the slow one counts until ~16
    await gov.acquire("portal:1")
    assert clock.slept == []
    await gov.acquire("portal:1")  # window full again: waits for the slow call to leave
    assert clock.slept and clock.time() >= 1_800_000_000.0 + 16


@pytest.mark.postgres
async def test_postgres_backend_move(rate_db: str) -> None:
    backend = PostgresWindowBackend(rate_db)
    try:
        assert await backend.acquire("k", 1, 10_000, 0) == 0
        await backend.move("k", 10_000, 0, 6_000)
        assert await backend.acquire("k", 1, 10_000, 11_000) > 0  # still counted at 11 s
        assert await backend.acquire("k", 1, 10_000, 16_600) == 0
    finally:
        await backend.aclose()


@pytest.mark.postgres
async def test_postgres_backend_reconnects_after_close(rate_db: str) -> None:
    # HubSpotHTTP.aclose() closes its governor's connection; a governor shared with another
    # client keeps working (and keeps its counts).
    backend = PostgresWindowBackend(rate_db)
    try:
        assert await backend.acquire("k", 1, 10_000, 0) == 0
        await backend.aclose()
        assert await backend.acquire("k", 1, 10_000, 1_000) > 0
    finally:
        await backend.aclose()


async def test_a_call_in_flight_holds_its_slot_until_its_answer() -> None:
    clock = VirtualClock()
    gov = governor(clock, requests_per_10s=1)
    slot = await gov.acquire_slot("portal:1")  # sent, no answer yet
    waiter = asyncio.ensure_future(gov.acquire("portal:1"))
    for _ in range(50):
        await asyncio.sleep(0)
    clock.now += 30  # far past the window: still no slot while the first call is in flight
    for _ in range(50):
        await asyncio.sleep(0)
    assert not waiter.done()
    answered = clock.time()
    await gov.settle(slot)  # the answer came: counted from now for one window
    await waiter
    assert clock.time() >= answered + 10


@pytest.mark.postgres
async def test_postgres_backend_holds_in_flight_slots(rate_db: str) -> None:
    backend = PostgresWindowBackend(rate_db)
    try:
        assert await backend.acquire("k", 1, 10_000, 0, stamp_ms=60_000) == 0
        assert 0 < await backend.acquire("k", 1, 10_000, 30_000) <= 500  # poll, in flight
        await backend.move("k", 10_000, 60_000, 31_000)
        assert await backend.acquire("k", 1, 10_000, 40_000) > 0
        assert await backend.acquire("k", 1, 10_000, 41_600) == 0
    finally:
        await backend.aclose()
