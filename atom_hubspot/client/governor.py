"""Rate-limit governor: stay under HubSpot's limits instead of bouncing off them.

HubSpot limits each installed account (portal) to a number of requests per rolling 10 s
(110 for public apps; 100/190/250 for private apps by tier), search separately to 5 per second,
and private apps also per day. https://developers.hubspot.com/docs/guides/apps/api-usage/usage-details

Before each call the governor takes a slot in the portal's 10-s window (and, for search, in the
1-s search window); when the window is full it *waits* until a slot frees rather than letting
the call bounce with a 429. Answers' `X-HubSpot-RateLimit-Max/-Remaining/-Interval-Milliseconds`
headers correct the budget (the real tier, other consumers of the same portal). A `DAILY` 429
marks the portal exhausted: calls then fail fast with `RateLimited` until the reset.

Calls come in lanes (see `LANES`): a person waiting for an answer (`interactive`) goes before
an assistant's tool calls (`assistant`), which go before the mirror's sync (`sync`). A lower
lane may use the whole budget while nobody above it waits; while a call of a higher lane waits,
the lower lane holds at most its `contended_share` of the portal's 10-s window, so the waiting
call gets the rest. A lower lane is also paced: at most a tenth of the budget in any tenth of
the window (11 per second of HubSpot's 110 per 10 s). Over a window it may still use all of it,
but it cannot spend the window in one burst and leave a person who then arrives waiting for
that burst to leave the window (up to the full 10 s); with pacing a slot frees within about a
second. Waiting is marked in the window store,
so a sync in one process yields to a person waiting in another when the store is shared.

The window store (`rate_windows`) is pluggable: in-process memory (default), PostgreSQL
(shared by processes and replicas) or Redis. Clock and sleep are injectable, so tests never
sleep for real.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from atom_hubspot.client.rate_windows import (
    MemoryWindowBackend,
    PostgresWindowBackend,
    RedisWindowBackend,
    WindowBackend,
    poll_ms,
)
from atom_hubspot.errors import RateLimited

if TYPE_CHECKING:
    from atom_hubspot.settings import HubSpotSettings

__all__ = [
    "DEFAULT_MARGIN_RATIO",
    "INTERACTIVE",
    "LANES",
    "SYNC",
    "LanePolicy",
    "MemoryWindowBackend",
    "PostgresWindowBackend",
    "RateLimitGovernor",
    "RedisWindowBackend",
    "Slot",
    "WindowBackend",
]

log = logging.getLogger("atom_hubspot.client.governor")

Clock = Callable[[], float]  # seconds since the epoch (shared backends compare across hosts)
Sleep = Callable[[float], Awaitable[Any]]

DEFAULT_WINDOW_MS = 10_000
SEARCH_WINDOW_MS = 1_000
# Our clock runs when the slot is taken; HubSpot's when the request arrives. Counting each
# request a little longer than HubSpot does (2 % of the window: 200 ms of 10 s) keeps latency
# jitter from pushing us over.
DEFAULT_MARGIN_RATIO = 0.02
# A slot taken for a call is dated this far ahead until the call's answer re-dates it, so a
# call still in flight (queued, slow to arrive) never leaves the window early. A process that
# dies mid-call leaves its slot to expire after this plus the window.
DEFAULT_IN_FLIGHT_MS = 60_000
# A waiting call marks its lane as waiting for this long, and wakes at least this often to
# mark it again: lower lanes see the mark and hold back; it fades soon after the wait ends.
WAITING_MARK_MS = 1_000

INTERACTIVE = "interactive"
ASSISTANT = "assistant"
SYNC = "sync"


@dataclass(frozen=True)
class LanePolicy:
    """One lane of calls. Lower `priority` goes first. While a call of a lane with a lower
    priority waits for budget, this lane holds at most `contended_share` of the portal's
    10-s window (at least one slot, so it never stalls for good)."""

    name: str
    priority: int
    contended_share: float = 1.0


# An assistant's tool calls (MCP) sit between the two: below a person waiting for a page,
# above the mirror's sync. The rules hold for any number of lanes.
DEFAULT_SYNC_SHARE = 0.3
DEFAULT_ASSISTANT_SHARE = 0.6
LANES: tuple[LanePolicy, ...] = (
    LanePolicy(INTERACTIVE, 0),
    LanePolicy(ASSISTANT, 10, DEFAULT_ASSISTANT_SHARE),
    LanePolicy(SYNC, 20, DEFAULT_SYNC_SHARE),
)


# --------------------------------------------------------------------------- governor


@dataclass
class Slot:
    """The budget one call took: (key, padded window ms, time taken ms) per window."""

    portal: str
    entries: list[tuple[str, int, int]] = field(default_factory=list)


@dataclass
class _PortalBudget:
    limit: int
    window_ms: int
    daily_until: float | None = None  # epoch seconds
    hold_until: float | None = None  # after a 429: nobody calls this portal before then


class RateLimitGovernor:
    """Per-portal request budget shared by every task of the process (and, with a shared
    backend, by every process): `acquire_slot()` before each call, `observe()` its answer's
    headers, `settle()` once it is over. The DAILY mark is kept in this process only: another
    process learns it from its own first 429."""

    def __init__(
        self,
        *,
        requests_per_10s: int = 110,
        search_per_s: int = 5,
        backend: WindowBackend | None = None,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        window_ms: int = DEFAULT_WINDOW_MS,
        search_window_ms: int = SEARCH_WINDOW_MS,
        margin_ratio: float = DEFAULT_MARGIN_RATIO,
        in_flight_ms: int = DEFAULT_IN_FLIGHT_MS,
        lanes: Sequence[LanePolicy] = LANES,
    ) -> None:
        self.requests_per_10s = requests_per_10s
        self.search_per_s = search_per_s
        self.backend: WindowBackend = backend or MemoryWindowBackend()
        self.clock = clock
        self.sleep = sleep
        self.window_ms = window_ms
        self.search_window_ms = search_window_ms
        self.margin_ratio = margin_ratio
        self.in_flight_ms = in_flight_ms
        self.lanes: dict[str, LanePolicy] = {lane.name: lane for lane in lanes}
        if INTERACTIVE not in self.lanes:
            raise ValueError(f"the {INTERACTIVE!r} lane is required")
        self._budgets: dict[str, _PortalBudget] = {}
        self.lane_waits: dict[str, int] = dict.fromkeys(self.lanes, 0)
        self.waits = 0  # how many times a call waited for budget (diagnostics, benchmarks)
        self.waited_s = 0.0

    @classmethod
    def from_settings(
        cls,
        settings: HubSpotSettings,
        *,
        database_url: str | None = None,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> RateLimitGovernor:
        """The governor HUBSPOT_RATE_LIMIT_BACKEND asks for. The PostgreSQL backend uses
        `database_url` (the host's ATOM_DATABASE_URL when not given)."""
        backend: WindowBackend
        if settings.rate_limit_backend == "redis":
            if not settings.redis_url:
                raise ValueError("HUBSPOT_RATE_LIMIT_BACKEND=redis needs HUBSPOT_REDIS_URL")
            secret: Any = settings.redis_url  # SecretStr: it may carry a password
            backend = RedisWindowBackend(
                secret.get_secret_value() if hasattr(secret, "get_secret_value") else str(secret)
            )
        elif settings.rate_limit_backend == "postgres":
            import os

            url = database_url or os.environ.get("ATOM_DATABASE_URL", "")
            if not url.startswith(("postgresql", "postgres:")):
                raise ValueError(
                    "HUBSPOT_RATE_LIMIT_BACKEND=postgres needs a PostgreSQL ATOM_DATABASE_URL"
                )
            backend = PostgresWindowBackend(url)
        else:
            backend = MemoryWindowBackend()
        return cls(
            requests_per_10s=settings.requests_per_10s,
            search_per_s=settings.search_rate_per_second,
            # No attempt lasts longer than the total timeout: the longest a slot is in flight.
            in_flight_ms=int(settings.total_timeout_s * 1000),
            backend=backend,
            clock=clock,
            sleep=sleep,
            lanes=lanes_with_sync_share(settings.sync_rate_share),
        )

    def budget(self, portal: str) -> _PortalBudget:
        b = self._budgets.get(portal)
        if b is None:
            b = self._budgets[portal] = _PortalBudget(self.requests_per_10s, self.window_ms)
        return b

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def check_daily(self, portal: str) -> None:
        """Fail fast while the portal's daily limit is spent (no in-line wait for hours)."""
        b = self.budget(portal)
        if b.daily_until is None:
            return
        left = b.daily_until - self.clock()
        if left <= 0:
            b.daily_until = None
            return
        raise RateLimited(
            "HubSpot's daily request limit for this account is used up; calls resume after "
            "the daily reset",
            status=429,
            policy="DAILY",
            retry_after_s=left,
        )

    def mark_daily_exhausted(self, portal: str, retry_after_s: float | None = None) -> float:
        """Remember a DAILY 429 until the reset; returns the seconds until then."""
        now = self.clock()
        if retry_after_s is None:
            # HubSpot resets the daily count at midnight in the account's time zone, which a
            # token does not tell us; the next UTC midnight is the documented-free fallback.
            today = datetime.fromtimestamp(now, UTC)
            midnight = (today + timedelta(days=1)).replace(
                hour=0, minute=0, second=0, microsecond=0
            )
            retry_after_s = midnight.timestamp() - now
        self.budget(portal).daily_until = now + retry_after_s
        log.info(
            "HubSpot daily limit reached for portal %s; failing fast for %.0f s",
            portal,
            retry_after_s,
        )
        return retry_after_s

    def hold(self, portal: str, seconds: float) -> None:
        """HubSpot refused a call (429): no task of this process calls the portal for
        `seconds`."""
        until = self.clock() + seconds
        b = self.budget(portal)
        b.hold_until = max(b.hold_until or 0.0, until)

    async def rest_of_window(self, portal: str) -> float:
        """Seconds until the oldest call we know of leaves the portal's 10-s window (the full
        window when the store cannot tell)."""
        b = self.budget(portal)
        window = self._padded(b.window_ms)
        oldest = getattr(self.backend, "oldest", None)
        if oldest is not None:
            first = await oldest(f"{portal}:10s", window, self._now_ms())
            if first is not None:
                return max(1.0, (int(first) + window - self._now_ms()) / 1000)
        return window / 1000

    async def _take(
        self, key: str, limit: int, window_ms: int, slot: Slot, *, in_flight: bool
    ) -> int:
        """Take a slot (0) or return the ms after which one may be free."""
        now = self._now_ms()
        padded = self._padded(window_ms)
        stamp = now + self.in_flight_ms if in_flight else now
        delay = await self.backend.acquire(key, limit, padded, now, stamp)
        if delay <= 0:
            slot.entries.append((key, padded, stamp))
        return delay

    def _padded(self, window_ms: int) -> int:
        return window_ms + int(window_ms * self.margin_ratio)

    def lane(self, name: str) -> LanePolicy:
        try:
            return self.lanes[name]
        except KeyError:
            raise ValueError(f"unknown rate-limit lane {name!r}") from None

    async def _pause(self, portal: str, key: str, delay_ms: int, lane: LanePolicy) -> None:
        self.waits += 1
        self.lane_waits[lane.name] = self.lane_waits.get(lane.name, 0) + 1
        self.waited_s += delay_ms / 1000
        log.info(
            "rate limit: waiting %.3f s for budget (%s, %s lane)",
            delay_ms / 1000,
            key,
            lane.name,
        )
        if self._outranks_a_lane(lane):
            # Say so to the lanes below, and wake to say it again while still waiting.
            await self.backend.force(
                _waiting_key(portal, lane.name),
                1,
                WAITING_MARK_MS,
                self._now_ms(),
            )
            delay_ms = min(delay_ms, WAITING_MARK_MS)
        await self.sleep(delay_ms / 1000)

    def _outranks_a_lane(self, lane: LanePolicy) -> bool:
        return any(other.priority > lane.priority for other in self.lanes.values())

    async def _higher_lane_waits(self, portal: str, lane: LanePolicy) -> bool:
        now = self._now_ms()
        for other in self.lanes.values():
            if other.priority < lane.priority and await self.backend.occupancy(
                _waiting_key(portal, other.name), WAITING_MARK_MS, now
            ):
                return True
        return False

    async def acquire(self, portal: str, *, search: bool = False, lane: str = INTERACTIVE) -> float:
        """Wait until the portal has budget for one call; returns the seconds waited."""
        start = self.clock()
        await self._acquire(portal, search=search, in_flight=False, lane=self.lane(lane))
        return self.clock() - start

    async def acquire_slot(
        self, portal: str, *, search: bool = False, lane: str = INTERACTIVE
    ) -> Slot:
        """Wait until the portal has budget for one call and take it. Pass the slot to
        `settle()` once the answer (or the failure) is in.

        Search calls take a slot in the 1-s search window *and* in the 10-s window (counting
        both is the safe reading of HubSpot's docs). When the second slot is not free, the
        first one stays spent (counting high is safe) and both are tried again after the
        wait: holding a slot while waiting would date it earlier than the request.
        The slot counts as in flight (see DEFAULT_IN_FLIGHT_MS) until `settle()`.
        A lane below `interactive` first checks whether a higher lane waits; if one does and
        the lane already holds its share of the window, it waits too (see `LanePolicy`).
        """
        return await self._acquire(portal, search=search, in_flight=True, lane=self.lane(lane))

    async def _acquire(
        self, portal: str, *, search: bool, in_flight: bool, lane: LanePolicy
    ) -> Slot:
        self.check_daily(portal)
        b = self.budget(portal)
        lane_key = f"{portal}:10s:lane:{lane.name}"
        pace_key = f"{portal}:pace:{lane.name}"
        capped = lane.priority > min(p.priority for p in self.lanes.values())
        while True:
            slot = Slot(portal)
            if b.hold_until is not None:
                held = b.hold_until - self.clock()
                if held > 0:
                    await self._pause(portal, f"{portal}:hold", max(1, int(held * 1000)), lane)
                    continue
                b.hold_until = None
            if capped and await self._higher_lane_waits(portal, lane):
                share = max(1, int(b.limit * lane.contended_share))
                window = self._padded(b.window_ms)
                if await self.backend.occupancy(lane_key, window, self._now_ms()) >= share:
                    self.lane_waits[lane.name] = self.lane_waits.get(lane.name, 0) + 1
                    await self.sleep(poll_ms(b.window_ms) / 1000)
                    continue
            if search:
                delay = await self._take(
                    f"{portal}:search",
                    self.search_per_s,
                    self.search_window_ms,
                    slot,
                    in_flight=in_flight,
                )
                if delay > 0:
                    await self._pause(portal, f"{portal}:search", delay, lane)
                    continue
            pace_window = max(1, b.window_ms // PACE_PARTS)
            if capped:
                paced = self._padded(pace_window)
                taken = await self.backend.occupancy(pace_key, paced, self._now_ms())
                if taken >= max(1, b.limit // PACE_PARTS):
                    await self.sleep(poll_ms(pace_window) / 1000)
                    continue
            delay = await self._take(
                f"{portal}:10s", b.limit, b.window_ms, slot, in_flight=in_flight
            )
            if delay <= 0:
                if capped:
                    # What this lane holds of the window, counted next to the window itself,
                    # and of its pace.
                    await self._take(lane_key, _UNBOUNDED, b.window_ms, slot, in_flight=in_flight)
                    await self._take(pace_key, _UNBOUNDED, pace_window, slot, in_flight=in_flight)
                return slot
            await self._pause(portal, f"{portal}:10s", delay, lane)

    async def settle(self, slot: Slot) -> None:
        """The call is over: re-date its slots to now. HubSpot counted the request at some
        moment between our sending and its answer; counting it from the answer is the safe
        end, whatever the latency (or a stall between taking the slot and sending)."""
        move = getattr(self.backend, "move", None)
        if move is None:
            return
        now = self._now_ms()
        for key, window, stamp in slot.entries:
            if stamp != now:
                await move(key, window, stamp, now)

    async def observe(self, portal: str, headers: Mapping[str, str]) -> None:
        """Correct the budget from HubSpot's rate-limit headers (absent on search answers)."""
        b = self.budget(portal)
        max_ = _int(headers.get("x-hubspot-ratelimit-max"))
        interval = _int(headers.get("x-hubspot-ratelimit-interval-milliseconds"))
        remaining = _int(headers.get("x-hubspot-ratelimit-remaining"))
        if max_ and max_ != b.limit:
            log.info(
                "HubSpot reports %d requests per window for portal %s (was %d)",
                max_,
                portal,
                b.limit,
            )
            b.limit = max_
        if interval and interval != b.window_ms:
            b.window_ms = interval
        if remaining is not None and max_:
            key = f"{portal}:10s"
            window = self._padded(b.window_ms)
            now = self._now_ms()
            ours = await self.backend.occupancy(key, window, now)
            theirs = max_ - remaining
            if theirs > ours:
                # Someone else (another app process, a script with the same token) is using
                # this portal's budget: count their calls as ours until they leave the window.
                await self.backend.force(key, theirs - ours, window, now)
        daily_left = _int(headers.get("x-hubspot-ratelimit-daily-remaining"))
        if daily_left == 0:
            self.mark_daily_exhausted(portal)

    async def aclose(self) -> None:
        await self.backend.aclose()


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


_UNBOUNDED = 1 << 30
# Lower lanes take at most 1/PACE_PARTS of the budget per 1/PACE_PARTS of the window.
PACE_PARTS = 10


def _waiting_key(portal: str, lane: str) -> str:
    return f"{portal}:waiting:{lane}"


def lanes_with_sync_share(share: float) -> tuple[LanePolicy, ...]:
    """The default lanes, with the sync lane's share while a person waits set to `share`."""
    return tuple(
        LanePolicy(lane.name, lane.priority, share) if lane.name == SYNC else lane for lane in LANES
    )
