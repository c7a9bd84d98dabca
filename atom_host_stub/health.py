"""Health checks: run concurrently, each bounded in time, never raising, cached briefly.

The cache matters: the dashboard refreshes itself and anyone may load it, and a check may call
HubSpot; reusing results for a few seconds means the page cannot hammer the API.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from atom_host_stub._records import Record, about
from atom_host_stub.contract import ConnectedAccount, HealthCheck, HealthResult, HealthStatus

if TYPE_CHECKING:
    import asyncio

# Per tenant; never serialised as such: `status.for_caller` merges the caller's own in.
_NOT_SERIALISED = about(exclude=True)


@dataclass(kw_only=True)
class HealthReport(Record):
    """One check's latest result, with how long it took."""

    name: str
    status: HealthStatus
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    accounts: list[ConnectedAccount] | None = None
    connect_url: str | None = None
    tenant_details: dict[str, dict[str, Any]] = field(
        default_factory=dict, metadata=_NOT_SERIALISED
    )
    tenant_accounts: dict[str, list[ConnectedAccount]] = field(
        default_factory=dict, metadata=_NOT_SERIALISED
    )
    duration_ms: float
    checked_at: datetime


@dataclass
class RegisteredCheck:
    plugin: str
    name: str
    check: HealthCheck
    timeout_s: float


class HealthMonitor:
    """Holds every plugin's checks; `results()` runs them all (or reuses a fresh-enough run)."""

    def __init__(self, cache_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.cache_s = cache_s
        self._clock = clock
        self._checks: list[RegisteredCheck] = []
        self._cached: dict[str, list[HealthReport]] | None = None
        self._cached_at = 0.0
        self._lock: asyncio.Lock | None = None

    def register(self, plugin: str, name: str, check: HealthCheck, timeout_s: float = 5.0) -> None:
        if any(c.plugin == plugin and c.name == name for c in self._checks):
            raise ValueError(f"plugin {plugin!r} registered health check {name!r} twice")
        if timeout_s <= 0:
            raise ValueError(f"health check {name!r} needs a positive timeout")
        self._checks.append(RegisteredCheck(plugin, name, check, timeout_s))
        self._cached = None

    def remove_plugin(self, plugin: str) -> None:
        self._checks = [c for c in self._checks if c.plugin != plugin]
        self._cached = None

    async def results(self, *, fresh: bool = False) -> dict[str, list[HealthReport]]:
        """{plugin: reports}. Concurrent callers share one run; results live `cache_s`."""
        import asyncio  # only code that runs checks pays for it

        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            age = self._clock() - self._cached_at
            if fresh or self._cached is None or age >= self.cache_s:
                reports = await asyncio.gather(*(run_check(c) for c in self._checks))
                grouped: dict[str, list[HealthReport]] = {}
                for registered, report in zip(self._checks, reports, strict=True):
                    grouped.setdefault(registered.plugin, []).append(report)
                self._cached, self._cached_at = grouped, self._clock()
            return self._cached


async def _call(check: HealthCheck) -> Any:
    result: Any = check()
    if inspect.isawaitable(result):
        result = await result
    return result


async def run_check(registered: RegisteredCheck) -> HealthReport:
    """Run one check within its timeout; a timeout or an exception is a `down` result."""
    import asyncio

    started = time.perf_counter()
    checked_at = datetime.now(UTC)
    try:
        result = await asyncio.wait_for(_call(registered.check), registered.timeout_s)
        if not isinstance(result, HealthResult):
            result = HealthResult(
                status=HealthStatus.DOWN,
                message=f"check returned {type(result).__name__}, not a HealthResult",
            )
    except TimeoutError:
        result = HealthResult(
            status=HealthStatus.DOWN, message=f"no answer within {registered.timeout_s:g} s"
        )
    except Exception as exc:
        # The exception's text may carry secrets; its type is enough to start looking.
        result = HealthResult(
            status=HealthStatus.DOWN, message=f"check raised {type(exc).__name__}"
        )
    return HealthReport(
        name=registered.name,
        status=result.status,
        message=result.message,
        details=result.details,
        accounts=result.accounts,
        connect_url=result.connect_url,
        tenant_details=result.tenant_details,
        tenant_accounts=result.tenant_accounts,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
        checked_at=checked_at,
    )
