"""Rate-limit governor: stay under HubSpot's limits instead of bouncing off them.

HubSpot limits each installed account (portal) to a number of requests per rolling 10 s
(110 for public apps; 100/190/250 for private apps by tier), search separately to 5 per second,
and private apps also per day. https://developers.hubspot.com/docs/guides/apps/api-usage/usage-details

Before each call the governor takes a slot in the portal's 10-s window (and, for search, in the
1-s search window); when the window is full it *waits* until a slot frees rather than letting
the call bounce with a 429. Answers' `X-HubSpot-RateLimit-Max/-Remaining/-Interval-Milliseconds`
headers correct the budget (the real tier, other consumers of the same portal). A `DAILY` 429
marks the portal exhausted: calls then fail fast with `RateLimited` until the reset.

The window store is pluggable: in-process memory (default), PostgreSQL (table
`hubspot_rate_windows`, shared by processes and replicas) or Redis (the `limits` library's
moving window). Clock and sleep are injectable, so tests never sleep for real.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from atom_hubspot.errors import RateLimited, StorageError

if TYPE_CHECKING:
    from atom_hubspot.settings import HubSpotSettings

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


class WindowBackend(Protocol):
    """A rolling-window counter shared by whoever uses the same store."""

    async def acquire(
        self, key: str, limit: int, window_ms: int, now_ms: int, stamp_ms: int | None = None
    ) -> int:
        """Take one slot if the window holds fewer than `limit`; return 0 when taken, else the
        milliseconds after which a slot may be free (nothing taken). The slot is dated
        `stamp_ms` (default now); a date in the future holds it while the call is in flight."""
        ...

    async def occupancy(self, key: str, window_ms: int, now_ms: int) -> int:
        """How many slots the window currently holds."""
        ...

    async def force(self, key: str, count: int, window_ms: int, now_ms: int) -> None:
        """Record `count` slots used elsewhere (HubSpot's Remaining header says so)."""
        ...

    async def aclose(self) -> None: ...


# --------------------------------------------------------------------------- memory


def _poll_ms(window_ms: int) -> int:
    """How soon to look again when the slot to wait for is a call still in flight."""
    return max(10, window_ms // 20)


class MemoryWindowBackend:
    """Exact sliding log per key (sorted stamps), in this process (the default)."""

    def __init__(self) -> None:
        self._logs: dict[str, list[int]] = {}

    def _log(self, key: str, window_ms: int, now_ms: int) -> list[int]:
        q = self._logs.setdefault(key, [])
        gone = bisect.bisect_right(q, now_ms - window_ms)
        if gone:
            del q[:gone]
        return q

    async def acquire(
        self, key: str, limit: int, window_ms: int, now_ms: int, stamp_ms: int | None = None
    ) -> int:
        q = self._log(key, window_ms, now_ms)
        if len(q) < limit:
            bisect.insort(q, now_ms if stamp_ms is None else stamp_ms)
            return 0
        # The (len - limit + 1)-th oldest entry must leave the window before one slot is free.
        to_leave = q[len(q) - limit]
        if to_leave > now_ms:  # in flight: it is re-dated when its answer comes
            return _poll_ms(window_ms)
        return max(1, to_leave + window_ms - now_ms + 1)

    async def occupancy(self, key: str, window_ms: int, now_ms: int) -> int:
        return len(self._log(key, window_ms, now_ms))

    async def move(self, key: str, window_ms: int, from_ms: int, to_ms: int) -> None:
        """Re-date one entry (from its in-flight or taking time to its answer time)."""
        q = self._log(key, window_ms, to_ms)
        i = bisect.bisect_left(q, from_ms)
        if i < len(q) and q[i] == from_ms:
            del q[i]
        # (not found: already out of the window; count the call from its end anyway)
        bisect.insort(q, to_ms)

    async def oldest(self, key: str, window_ms: int, now_ms: int) -> int | None:
        q = self._log(key, window_ms, now_ms)
        return q[0] if q and q[0] <= now_ms else None

    async def force(self, key: str, count: int, window_ms: int, now_ms: int) -> None:
        q = self._log(key, window_ms, now_ms)
        for _ in range(count):
            bisect.insort(q, now_ms)

    async def aclose(self) -> None:
        return None  # nothing to release; the counts stay for whoever shares this governor


# --------------------------------------------------------------------------- PostgreSQL


class PostgresWindowBackend:
    """Shared window in `hubspot_rate_windows(key, window_start ms, count)`.

    Counts go into buckets of 1/20 of the window; a bucket is counted while any part of it may
    still be inside the window, so the count errs high (never lets a burst through). One
    transaction per slot, serialised per key by an advisory lock. The table is created by the
    plugin's Alembic migrations.
    """

    BUCKETS_PER_WINDOW = 20

    def __init__(self, url: str) -> None:
        self._url = _plain_pg_url(url)
        self._conn: Any = None
        self._lock = asyncio.Lock()

    async def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            try:
                import psycopg
            except ImportError as exc:  # pragma: no cover - depends on the installed extras
                raise StorageError(
                    "the PostgreSQL rate-limit backend needs psycopg: "
                    "pip install 'atom-hubspot[postgres]'"
                ) from exc
            try:
                self._conn = await psycopg.AsyncConnection.connect(self._url, connect_timeout=5)
            except Exception as exc:
                raise StorageError(
                    f"cannot reach PostgreSQL for the shared rate-limit budget "
                    f"({type(exc).__name__})"
                ) from None
        return self._conn

    def _bucket_ms(self, window_ms: int) -> int:
        return max(1, window_ms // self.BUCKETS_PER_WINDOW)

    async def _buckets(
        self, cur: Any, key: str, window_ms: int, now_ms: int
    ) -> list[tuple[int, int]]:
        b = self._bucket_ms(window_ms)
        await cur.execute(
            "DELETE FROM hubspot_rate_windows WHERE key = %s AND window_start <= %s",
            (key, now_ms - window_ms - b),
        )
        await cur.execute(
            "SELECT window_start, count FROM hubspot_rate_windows "
            "WHERE key = %s AND window_start > %s ORDER BY window_start",
            (key, now_ms - window_ms - b),
        )
        return [(int(s), int(c)) for s, c in await cur.fetchall()]

    async def _add(self, cur: Any, key: str, count: int, window_ms: int, now_ms: int) -> None:
        b = self._bucket_ms(window_ms)
        await cur.execute(
            "INSERT INTO hubspot_rate_windows (key, window_start, count) VALUES (%s, %s, %s) "
            "ON CONFLICT (key, window_start) DO UPDATE "
            "SET count = hubspot_rate_windows.count + EXCLUDED.count",
            (key, now_ms - now_ms % b, count),
        )

    async def _run(self, fn: Callable[[Any], Awaitable[Any]]) -> Any:
        async with self._lock:
            conn = await self._connection()
            try:
                async with conn.transaction(), conn.cursor() as cur:
                    return await fn(cur)
            except StorageError:
                raise
            except Exception as exc:
                await self._reset()
                raise StorageError(
                    f"the shared rate-limit budget could not be read ({type(exc).__name__})"
                ) from None

    async def _reset(self) -> None:
        if self._conn is not None:
            try:
                await self._conn.close()
            finally:
                self._conn = None

    async def acquire(
        self, key: str, limit: int, window_ms: int, now_ms: int, stamp_ms: int | None = None
    ) -> int:
        b = self._bucket_ms(window_ms)
        stamp = now_ms if stamp_ms is None else stamp_ms

        async def go(cur: Any) -> int:
            await cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))
            buckets = await self._buckets(cur, key, window_ms, now_ms)
            used = sum(c for _, c in buckets)
            if used < limit:
                await self._add(cur, key, 1, window_ms, stamp)
                return 0
            # Free buckets oldest first until one slot is available; that bucket's exit time.
            for start, c in buckets:
                used -= c
                if used < limit:
                    if start > now_ms:  # calls in flight: re-dated when their answers come
                        return _poll_ms(window_ms)
                    return max(1, start + window_ms + b - now_ms + 1)
            return b  # pragma: no cover - unreachable: the loop empties `used`

        return int(await self._run(go))

    async def occupancy(self, key: str, window_ms: int, now_ms: int) -> int:
        async def go(cur: Any) -> int:
            return sum(c for _, c in await self._buckets(cur, key, window_ms, now_ms))

        return int(await self._run(go))

    async def force(self, key: str, count: int, window_ms: int, now_ms: int) -> None:
        async def go(cur: Any) -> None:
            await cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))
            await self._add(cur, key, count, window_ms, now_ms)

        await self._run(go)

    async def move(self, key: str, window_ms: int, from_ms: int, to_ms: int) -> None:
        b = self._bucket_ms(window_ms)
        if from_ms - from_ms % b == to_ms - to_ms % b:
            return  # same bucket: nothing changes

        async def go(cur: Any) -> None:
            await cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))
            await cur.execute(
                "UPDATE hubspot_rate_windows SET count = count - 1 "
                "WHERE key = %s AND window_start = %s AND count > 0",
                (key, from_ms - from_ms % b),
            )
            await self._add(cur, key, 1, window_ms, to_ms)

        await self._run(go)

    async def aclose(self) -> None:
        async with self._lock:
            await self._reset()


def _plain_pg_url(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgresql+asyncpg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


# --------------------------------------------------------------------------- Redis


class RedisWindowBackend:
    """Shared moving window on Redis through the `limits` library's async storage.

    `limits` stamps entries with the wall clock (`time.time()`) itself, so an injected clock
    does not apply to this backend; windows are whole seconds (HubSpot's are 10 s and 1 s).
    """

    def __init__(self, url: str, *, key_prefix: str = "atom-hubspot") -> None:
        try:
            from limits.aio.storage import RedisStorage
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise StorageError(
                "the Redis rate-limit backend needs `limits` and `redis`: "
                "pip install 'atom-hubspot[redis]'"
            ) from exc
        uri = url if url.startswith("async+") else "async+" + url
        self._storage = RedisStorage(uri, implementation="redispy", key_prefix=key_prefix)

    @staticmethod
    def _expiry(window_ms: int) -> int:
        return max(1, math.ceil(window_ms / 1000))

    async def acquire(
        self, key: str, limit: int, window_ms: int, now_ms: int, stamp_ms: int | None = None
    ) -> int:
        # `limits` dates entries itself (now): no in-flight holding on this backend.
        expiry = self._expiry(window_ms)
        try:
            if await self._storage.acquire_entry(key, limit, expiry):
                return 0
            oldest, _count = await self._storage.get_moving_window(key, limit, expiry)
        except Exception as exc:
            raise StorageError(
                f"the shared rate-limit budget on Redis is unreachable ({type(exc).__name__})"
            ) from None
        return max(1, int((oldest + expiry - time.time()) * 1000) + 1)

    async def occupancy(self, key: str, window_ms: int, now_ms: int) -> int:
        expiry = self._expiry(window_ms)
        _, count = await self._storage.get_moving_window(key, 10_000, expiry)
        return int(count)

    async def force(self, key: str, count: int, window_ms: int, now_ms: int) -> None:
        expiry = self._expiry(window_ms)
        # Best effort: fills the window up to the limit at most (then it is full anyway).
        used = await self.occupancy(key, window_ms, now_ms)
        if count > 0:
            await self._storage.acquire_entry(key, used + count, expiry, amount=count)

    async def clear(self, key: str) -> None:
        await self._storage.clear(key)

    async def aclose(self) -> None:
        return None


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
        self._budgets: dict[str, _PortalBudget] = {}
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

    async def _pause(self, key: str, delay_ms: int) -> None:
        self.waits += 1
        self.waited_s += delay_ms / 1000
        log.info("rate limit: waiting %.3f s for budget (%s)", delay_ms / 1000, key)
        await self.sleep(delay_ms / 1000)

    async def acquire(self, portal: str, *, search: bool = False) -> float:
        """Wait until the portal has budget for one call; returns the seconds waited."""
        start = self.clock()
        await self._acquire(portal, search=search, in_flight=False)
        return self.clock() - start

    async def acquire_slot(self, portal: str, *, search: bool = False) -> Slot:
        """Wait until the portal has budget for one call and take it. Pass the slot to
        `settle()` once the answer (or the failure) is in.

        Search calls take a slot in the 1-s search window *and* in the 10-s window (counting
        both is the safe reading of HubSpot's docs). When the second slot is not free, the
        first one stays spent (counting high is safe) and both are tried again after the
        wait: holding a slot while waiting would date it earlier than the request.
        The slot counts as in flight (see DEFAULT_IN_FLIGHT_MS) until `settle()`.
        """
        return await self._acquire(portal, search=search, in_flight=True)

    async def _acquire(self, portal: str, *, search: bool, in_flight: bool) -> Slot:
        self.check_daily(portal)
        b = self.budget(portal)
        while True:
            slot = Slot(portal)
            if b.hold_until is not None:
                held = b.hold_until - self.clock()
                if held > 0:
                    await self._pause(f"{portal}:hold", max(1, int(held * 1000)))
                    continue
                b.hold_until = None
            if search:
                delay = await self._take(
                    f"{portal}:search",
                    self.search_per_s,
                    self.search_window_ms,
                    slot,
                    in_flight=in_flight,
                )
                if delay > 0:
                    await self._pause(f"{portal}:search", delay)
                    continue
            delay = await self._take(
                f"{portal}:10s", b.limit, b.window_ms, slot, in_flight=in_flight
            )
            if delay <= 0:
                return slot
            await self._pause(f"{portal}:10s", delay)

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
