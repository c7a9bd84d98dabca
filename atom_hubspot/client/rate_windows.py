"""Where the rate-limit governor keeps its rolling windows: in this process, in PostgreSQL, or
in Redis.

Every backend counts slots per key in a rolling window and answers "taken" or "free again in
N ms". The in-process log is exact; PostgreSQL (table `hubspot_rate_windows`, created by the
plugin's migrations) and Redis (the `limits` library's moving window) share one budget between
processes and replicas.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from atom_hubspot.errors import StorageError


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


def poll_ms(window_ms: int) -> int:
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
            return poll_ms(window_ms)
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
                        return poll_ms(window_ms)
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
