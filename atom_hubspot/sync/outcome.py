"""What a sync run reports: its progress per object type, each type's result, the run's report,
and how a run learns it must stop (its lease was lost)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class SyncProgress:
    """What a run has done so far for one object type (for progress bars and status)."""

    portal_id: int
    object_type: str
    mode: str
    processed: int
    expected: int | None
    started: float
    now: float

    @property
    def rate(self) -> float:
        spent = self.now - self.started
        return self.processed / spent if spent > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        if not self.expected or self.rate <= 0:
            return None
        return max(0.0, (self.expected - self.processed) / self.rate)


@dataclass
class ObjectSyncResult:
    object_type: str
    mode: str
    records: int = 0
    archived: int = 0
    error: str | None = None
    seconds: float = 0.0


@dataclass
class SyncReport:
    portal_id: int
    results: list[ObjectSyncResult] = field(default_factory=list)
    skipped: str | None = None  # why nothing ran (another process holds the portal)

    @property
    def ok(self) -> bool:
        return self.skipped is None and all(r.error is None for r in self.results)


Progress = Callable[[SyncProgress], None]
# Called between pages; False means this process no longer holds the portal: stop.
StillHolder = Callable[[], Awaitable[bool]]


class SyncStopped(Exception):
    """The run stopped between pages (the lease was lost); its cursor is stored."""
