"""Governor lanes: the mirror's sync yields to people waiting, and uses the budget otherwise."""

from __future__ import annotations

import asyncio
import bisect

import pytest

from atom_hubspot.client import SYNC, LanePolicy, RateLimitGovernor
from atom_hubspot.client.governor import INTERACTIVE, lanes_with_sync_share
from tests.client.fakes import VirtualClock

WINDOW = 10.0 * 1.02  # the governor's padded 10-s window


def count_in(times: list[float], start: float, end: float) -> int:
    return bisect.bisect_left(times, end) - bisect.bisect_left(times, start)


def governor(clock: VirtualClock, limit: int, share: float = 0.3) -> RateLimitGovernor:
    return RateLimitGovernor(
        clock=clock.time,
        sleep=clock.sleep,
        requests_per_10s=limit,
        lanes=lanes_with_sync_share(share),
    )


async def test_sync_alone_uses_the_whole_budget() -> None:
    clock = VirtualClock()
    gov = governor(clock, limit=20)
    sent: list[float] = []

    async def worker() -> None:
        for _ in range(20):
            await gov.acquire("portal:1", lane=SYNC)
            sent.append(clock.time())

    await asyncio.gather(*(worker() for _ in range(3)))  # 60 calls, 3 windows' worth
    sent.sort()
    # Every full window after the first call holds the whole budget: nothing is left unused.
    for t in sent[:-20]:
        assert count_in(sent, t, t + WINDOW) == 20
    assert sent[-1] - sent[0] <= 3 * WINDOW
    # Paced: never more than a tenth of the budget in a tenth of the window.
    for t in sent:
        assert count_in(sent, t, t + WINDOW / 10 - 0.01) <= 2


async def test_a_person_arriving_during_a_sync_alone_waits_about_a_second_at_most() -> None:
    # Without pacing the sync spends the whole window at once, and whoever comes next waits
    # for that burst to leave the window: up to 10 s.
    clock = VirtualClock()
    gov = governor(clock, limit=110)
    stop = asyncio.Event()
    waits: list[float] = []

    async def syncer() -> None:
        while not stop.is_set():
            await gov.acquire("portal:1", lane=SYNC)

    async def person() -> None:
        for arrival in (4.0, 7.3, 13.9, 21.5, 26.2):
            await clock.sleep(max(0.0, 1_800_000_000.0 + arrival - clock.time()))
            began = clock.time()
            await gov.acquire("portal:1", lane=INTERACTIVE)
            waits.append(clock.time() - began)
        stop.set()

    await asyncio.gather(person(), *(syncer() for _ in range(4)))
    assert len(waits) == 5
    assert max(waits) <= 1.2, waits


async def test_while_a_person_waits_sync_holds_at_most_its_share() -> None:
    clock = VirtualClock()
    gov = governor(clock, limit=10, share=0.3)
    sync_times: list[float] = []
    person_times: list[float] = []
    stop = asyncio.Event()

    async def syncer() -> None:
        while not stop.is_set():
            await gov.acquire("portal:1", lane=SYNC)
            sync_times.append(clock.time())

    began: list[float] = []

    async def person() -> None:
        await clock.sleep(15)  # the sync has the window to itself first
        began.append(clock.time())
        for _ in range(21):
            await gov.acquire("portal:1", lane=INTERACTIVE)
            person_times.append(clock.time())
        stop.set()

    await asyncio.gather(person(), *(syncer() for _ in range(4)))
    sync_times.sort()
    start, end = person_times[0], person_times[-1]
    # Once the window holding the sync's earlier calls has passed, the sync takes at most
    # 3 of every 10 slots while the person waits; the person gets the other 7.
    t = start + WINDOW
    while t + WINDOW <= end:
        assert count_in(sync_times, t, t + WINDOW) <= 3
        t += 1.0
    # 21 calls at 7 per window, after waiting out the sync's first window: about 4 windows.
    assert end - began[0] <= 4 * WINDOW + 2
    assert gov.lane_waits[SYNC] > 0


async def test_sync_gets_the_budget_back_when_nobody_waits() -> None:
    clock = VirtualClock()
    gov = governor(clock, limit=10, share=0.3)
    for _ in range(10):
        await gov.acquire("portal:1", lane=INTERACTIVE)
    # The person is served (nobody waits): the sync may fill the next window entirely, paced.
    await clock.sleep(WINDOW + 0.1)
    t0 = clock.time()
    times = []
    for _ in range(10):
        await gov.acquire("portal:1", lane=SYNC)
        times.append(clock.time())
    assert times[-1] - t0 < WINDOW


async def test_search_and_list_lanes_run_at_the_same_time() -> None:
    clock = VirtualClock()
    gov = governor(clock, limit=110)
    searches: list[float] = []
    lists: list[float] = []

    async def searcher() -> None:
        for _ in range(15):
            await gov.acquire("portal:1", search=True, lane=SYNC)
            searches.append(clock.time())

    async def lister() -> None:
        for _ in range(80):
            await gov.acquire("portal:1", lane=SYNC)
            lists.append(clock.time())

    await asyncio.gather(searcher(), lister())
    # Search waits for its 5-per-second window; listing does not wait behind it: together they
    # go at the sync's pace, a tenth of 110 per tenth of the window (11 in the first second),
    # and listing takes what search cannot use.
    assert max(searches) >= 2.0
    first_s = min(lists) + 1.0
    assert count_in(sorted(searches), min(searches), first_s) == 5
    assert count_in(sorted(lists), min(lists), first_s) == 6


def test_unknown_lane_is_refused() -> None:
    gov = RateLimitGovernor()
    with pytest.raises(ValueError, match="unknown rate-limit lane"):
        gov.lane("bulk")
    with pytest.raises(ValueError, match="interactive"):
        RateLimitGovernor(lanes=[LanePolicy(SYNC, 20)])
