"""The tests' clocks: time that moves only when a test moves it or the code sleeps on it.

- `StepClock`: epoch seconds, for code that takes `clock=` as a float callable (health cache,
  property-name cache), the rate governor's `clock=`/`sleep=` (`time`, `sleep`) and the
  sandbox's `Clock` protocol.
- `DateClock`: an aware datetime, for the stores and runners that take `clock=` returning one.
- `tests.client.fakes.VirtualClock` parks concurrent sleepers until every task waits (the
  governor's fairness tests); the sandbox also has its own `ManualClock`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta


class StepClock:
    """Seconds since the epoch; `sleep` moves them on (and is recorded) instead of waiting.

    Read it by calling it, by `time()` (the governor's `clock=`) or by `now()` (the sandbox's
    `Clock` protocol): one clock for client and sandbox alike."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = float(start)
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def time(self) -> float:
        return self.t

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)


class DateClock:
    """An aware UTC datetime that moves only by `advance`."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 0.0, **delta: float) -> None:
        self.now += timedelta(seconds=seconds, **delta)
