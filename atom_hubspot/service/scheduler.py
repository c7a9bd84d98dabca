"""Scheduled marketing-email sends: stored durably, performed once, never twice.

HubSpot's single-send takes one recipient per call and cannot schedule, so "send later" is
ours. A send is a row in `hubspot_scheduled_sends`; the host process holding the scheduler's
lease (one at a time, whatever the number of workers and hosts) runs the
`ScheduledSendRunner` that claims due rows and performs them. The claims stay safe on their
own, for the moment two holders may overlap while a lease changes hands:

- Claiming is atomic across processes: PostgreSQL `SELECT … FOR UPDATE SKIP LOCKED` then the
  update in the same transaction; SQLite a write-locked transaction with a conditional
  `UPDATE … WHERE status = 'pending'` whose rowcount says whether this process won.
- Rows survive restarts: a pending row is performed by whichever process is up when it is due.
- HubSpot has no idempotency keys, so a claimed row is never claimed again. If its process dies
  mid-send, the row goes stale (its `claimed_at` heartbeat stops); another runner then marks the
  recipients without a recorded outcome as "unknown" — they may have been sent — and does not
  re-send them. Progress is recorded after each recipient so that this set stays small.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field

from atom_host_stub.contract import Principal
from atom_hubspot.errors import (
    Conflict,
    HubSpotError,
    InputError,
    NotFound,
    RateLimited,
    StorageError,
    Unavailable,
)
from atom_hubspot.service.marketing import (
    Recipient,
    RecipientResult,
    SendSummary,
)
from atom_hubspot.storage.db import rows_changed

if TYPE_CHECKING:
    from atom_hubspot.runtime import HubSpotRuntime
    from atom_hubspot.settings import HubSpotSettings
    from atom_hubspot.storage.db import Database
    from atom_hubspot.storage.leases import LeaderLease

log = logging.getLogger("atom_hubspot.scheduler")

MAX_ATTEMPTS = 3  # tries of a row that failed before any recipient was attempted
MAX_SCHEDULE_AHEAD = timedelta(days=366)
DEFAULT_STALE_AFTER_S = 300.0
# One process runs the runner at a time (storage/leases.py); a dead holder's successor takes
# over within about this long.
SCHEDULER_LEASE = "hubspot.scheduled-sends"
SCHEDULER_LEASE_TTL_S = 30.0
SendStatus = Literal["pending", "claimed", "sent", "partial", "failed", "cancelled"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def send_mode_for(settings: HubSpotSettings) -> Literal["single_send", "transactional"]:
    """Transactional only when it is enabled and single-send is not."""
    from atom_hubspot.settings import Feature

    feats = set(settings.features)
    if Feature.TRANSACTIONAL in feats and Feature.SINGLE_SEND not in feats:
        return "transactional"
    return "single_send"


# --------------------------------------------------------------------------- answer model


class ScheduledSendInfo(BaseModel):
    id: str = Field(examples=["3f1c2a9e-8d44-4b7a-9a51-0c7d9b0f1e22"])
    portal_id: int = Field(examples=[1234567])
    email_id: int = Field(examples=[123456789])
    recipients: list[Recipient]
    send_at: datetime
    status: SendStatus = Field(examples=["pending"])
    attempts: int = 0
    results: list[RecipientResult | None] | None = Field(
        default=None, description="Per recipient, in the order given; null while not yet done"
    )
    error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Any) -> ScheduledSendInfo:
        return cls(
            id=row.id,
            portal_id=row.portal_id,
            email_id=row.email_id,
            recipients=[Recipient(**r) for r in (row.recipients or [])],
            send_at=row.send_at,
            status=row.status,
            attempts=row.attempts or 0,
            results=[None if r is None else RecipientResult(**r) for r in row.results]
            if row.results is not None
            else None,
            error=row.error,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


# --------------------------------------------------------------------------- storage


def _model() -> Any:
    from atom_hubspot.storage.models import ScheduledSend

    return ScheduledSend


class ScheduledSendStore:
    """The table's operations: per-principal create/list/cancel, and the runner's claims."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    # ------------------------------------------------------------------ per principal

    async def create(
        self,
        principal: Principal,
        *,
        portal_id: int,
        connection_id: str,
        email_id: int,
        recipients: list[Recipient],
        send_at: datetime,
        contact_properties: dict[str, Any] | None = None,
        custom_properties: dict[str, Any] | None = None,
    ) -> ScheduledSendInfo:
        if send_at.tzinfo is None:
            raise InputError(
                "send_at needs a time zone (e.g. 2026-12-01T09:00:00Z)",
                errors=[{"field": "send_at", "message": "no time zone"}],
            )
        now = self.clock()
        if send_at - now > MAX_SCHEDULE_AHEAD:
            raise InputError(
                "send_at is more than a year ahead",
                errors=[{"field": "send_at", "message": "too far ahead"}],
            )
        M = _model()
        row = M(
            id=str(uuid.uuid4()),
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            portal_id=portal_id,
            connection_id=connection_id,
            email_id=email_id,
            recipients=[r.model_dump(exclude_none=True) for r in recipients],
            contact_properties=contact_properties or {},
            custom_properties=custom_properties or {},
            send_at=send_at.astimezone(UTC),
            status="pending",
            attempts=0,
            created_at=now,
            updated_at=now,
        )
        async with self.db.session(principal.tenant_id) as s:
            s.add(row)
        return ScheduledSendInfo.from_row(row)

    def _owned(self, principal: Principal) -> Any:
        M = _model()
        return sa.select(M).where(
            M.tenant_id == principal.tenant_id, M.user_id == principal.user_id
        )

    async def list_for(
        self,
        principal: Principal,
        *,
        portal_id: int | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[ScheduledSendInfo]:
        M = _model()
        q = self._owned(principal)
        if portal_id is not None:
            q = q.where(M.portal_id == portal_id)
        if status is not None:
            q = q.where(M.status == status)
        q = q.order_by(M.send_at.desc(), M.id).offset(offset).limit(limit)
        async with self.db.session(principal.tenant_id, read_only=True) as s:
            rows = (await s.execute(q)).scalars().all()
            return [ScheduledSendInfo.from_row(r) for r in rows]

    async def get(self, principal: Principal, send_id: str) -> ScheduledSendInfo:
        M = _model()
        async with self.db.session(principal.tenant_id, read_only=True) as s:
            row = (await s.execute(self._owned(principal).where(M.id == send_id))).scalar()
            if row is None:
                raise NotFound(f"Scheduled send {send_id} was not found.")
            return ScheduledSendInfo.from_row(row)

    async def cancel(self, principal: Principal, send_id: str) -> ScheduledSendInfo:
        """pending → cancelled, atomically; anything else is a conflict saying why."""
        M = _model()
        now = self.clock()
        async with self.db.session(principal.tenant_id, write_lock=True) as s:
            res = await s.execute(
                sa.update(M)
                .where(
                    M.id == send_id,
                    M.tenant_id == principal.tenant_id,
                    M.user_id == principal.user_id,
                    M.status == "pending",
                )
                .values(status="cancelled", updated_at=now)
            )
            row = (await s.execute(self._owned(principal).where(M.id == send_id))).scalar()
            if row is None:
                raise NotFound(f"Scheduled send {send_id} was not found.")
            if rows_changed(res) != 1:
                what = {
                    "claimed": "is being sent right now",
                    "cancelled": "is already cancelled",
                }.get(row.status, f"was already performed ({row.status})")
                raise Conflict(
                    f"Scheduled send {send_id} {what}; it cannot be cancelled.",
                    existing_id=send_id,
                    status_now=row.status,
                )
            await s.refresh(row)
            return ScheduledSendInfo.from_row(row)

    # ------------------------------------------------------------------ runner side

    async def claim_due(self, worker_id: str, *, limit: int = 20) -> list[Any]:
        """Claim up to `limit` due pending rows for `worker_id`; each row goes to one worker."""
        M = _model()
        now = self.clock()
        due = (
            sa.select(M)
            .where(M.status == "pending", M.send_at <= now)
            .order_by(M.send_at, M.id)
            .limit(limit)
        )
        claimed: list[Any] = []
        if self.db.dialect == "postgresql":
            async with self.db.session(None) as s:
                rows = (await s.execute(due.with_for_update(skip_locked=True))).scalars().all()
                for row in rows:
                    row.status = "claimed"
                    row.claimed_by = worker_id
                    row.claimed_at = now
                    row.attempts = (row.attempts or 0) + 1
                    claimed.append(row)
            return claimed
        # Look first without the write lock: an idle runner must not take SQLite's one write
        # lock every tick (it would make other writers' read-then-write transactions fail).
        async with self.db.session(None, read_only=True) as s:
            if not (await s.execute(due.with_only_columns(M.id))).first():
                return []
        async with self.db.session(None, write_lock=True) as s:
            ids = (await s.execute(due.with_only_columns(M.id))).scalars().all()
            for sid in ids:
                res = await s.execute(
                    sa.update(M)
                    .where(M.id == sid, M.status == "pending")
                    .values(
                        status="claimed",
                        claimed_by=worker_id,
                        claimed_at=now,
                        attempts=M.attempts + 1,
                        updated_at=now,
                    )
                )
                if rows_changed(res) == 1:
                    claimed.append(sid)
            rows = (
                (await s.execute(sa.select(M).where(M.id.in_(claimed)))).scalars().all()
                if claimed
                else []
            )
            return sorted(rows, key=lambda r: (r.send_at, r.id))

    async def _update_claimed(self, send_id: str, worker_id: str, **values: Any) -> bool:
        """Write to a row this worker still holds; False if it no longer does."""
        M = _model()
        values.setdefault("updated_at", self.clock())
        async with self.db.session(None) as s:
            res = await s.execute(
                sa.update(M)
                .where(M.id == send_id, M.status == "claimed", M.claimed_by == worker_id)
                .values(**values)
            )
            return rows_changed(res) == 1

    async def heartbeat(self, send_id: str, worker_id: str) -> bool:
        return await self._update_claimed(send_id, worker_id, claimed_at=self.clock())

    async def record_progress(
        self, send_id: str, worker_id: str, results: list[dict[str, Any] | None]
    ) -> bool:
        return await self._update_claimed(
            send_id, worker_id, results=results, claimed_at=self.clock()
        )

    async def finish(
        self,
        send_id: str,
        worker_id: str,
        *,
        status: SendStatus,
        results: list[dict[str, Any] | None] | None,
        error: str | None,
    ) -> bool:
        return await self._update_claimed(
            send_id, worker_id, status=status, results=results, error=error
        )

    async def release(self, send_id: str, worker_id: str, error: str) -> bool:
        """Back to pending: nothing was attempted (e.g. HubSpot unavailable before any send)."""
        return await self._update_claimed(
            send_id, worker_id, status="pending", claimed_by=None, claimed_at=None, error=error
        )

    async def recover_stale(self, stale_after: timedelta) -> int:
        """Close claimed rows whose worker stopped showing signs of life, without re-sending."""
        M = _model()
        cutoff = self.clock() - stale_after
        q = sa.select(M).where(M.status == "claimed", M.claimed_at < cutoff)
        n = 0
        async with self.db.session(None, read_only=True) as s:  # cheap look first (claim_due)
            if not (await s.execute(q.with_only_columns(M.id).limit(1))).first():
                return 0
        lock = self.db.dialect == "sqlite"
        async with self.db.session(None, write_lock=lock) as s:
            if self.db.dialect == "postgresql":
                q = q.with_for_update(skip_locked=True)
            rows = (await s.execute(q)).scalars().all()
            for row in rows:
                recipients = row.recipients or []
                results: list[dict[str, Any] | None] = list(row.results or [])
                results += [None] * (len(recipients) - len(results))
                unknown = 0
                for i, r in enumerate(results):
                    if r is None:
                        rec = recipients[i] if i < len(recipients) else {}
                        results[i] = RecipientResult(
                            contact_id=rec.get("contact_id"),
                            email=rec.get("email"),
                            status="unknown",
                            error={
                                "code": "outcome_unknown",
                                "message": "The process sending this stopped; it may have "
                                "been sent. Not re-sent, to avoid a duplicate: check in "
                                "HubSpot.",
                            },
                        ).model_dump()
                        unknown += 1
                sent = sum(1 for r in results if r and r.get("status") == "sent")
                res = await s.execute(
                    sa.update(M)
                    .where(
                        M.id == row.id,
                        M.status == "claimed",
                        M.claimed_by == row.claimed_by,
                        M.claimed_at == row.claimed_at,
                    )
                    .values(
                        status="partial" if sent or unknown else "failed",
                        results=results,
                        updated_at=self.clock(),
                        error=f"outcome unknown for {unknown} recipient(s): the process "
                        f"sending this ({row.claimed_by}) stopped before it finished; not "
                        "re-sent, to avoid duplicates",
                    )
                )
                if rows_changed(res) == 1:
                    n += 1
                    log.warning(
                        "scheduled send %s: stale claim closed, %d recipient(s) unknown",
                        row.id,
                        unknown,
                    )
        return n


# --------------------------------------------------------------------------- runner


def _final_status(summary: SendSummary) -> SendStatus:
    if summary.requested and summary.sent == summary.requested:
        return "sent"
    if summary.sent == 0 and summary.unknown == 0:
        return "failed"
    return "partial"


class ScheduledSendRunner:
    """Performs due scheduled sends in the background of one host process."""

    def __init__(
        self,
        runtime: HubSpotRuntime,
        *,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        interval_s: float | None = None,
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        batch_size: int = 20,
        max_parallel: int = 4,
        lease_ttl_s: float = SCHEDULER_LEASE_TTL_S,
    ) -> None:
        self.runtime = runtime
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.clock = clock
        self.interval_s = interval_s or runtime.settings.scheduler_interval_s
        self.stale_after = timedelta(seconds=stale_after_s)
        self.batch_size = batch_size
        self.max_parallel = max_parallel
        # The store asks the runner for the time, so a test may swap `runner.clock` later.
        self.store = ScheduledSendStore(runtime.db, clock=lambda: self.clock())
        self.lease_ttl_s = lease_ttl_s
        self.leader: LeaderLease | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        """Perform due sends in the background of whichever host process holds the
        scheduler's lease — one process at a time, however many workers and hosts share the
        database; another takes over within the lease's ttl when the holder dies."""
        if self.leader is None:
            from atom_hubspot.storage.leases import LeaderLease, LeaseStore

            self.leader = LeaderLease(
                LeaseStore(self.runtime.db),
                SCHEDULER_LEASE,
                holder=self.worker_id,
                ttl_s=self.lease_ttl_s,
                on_acquired=lambda _lease: self._start_loop(),
                on_lost=self._stop_loop,
            )
        self.leader.start()

    @property
    def running(self) -> bool:
        """Whether this process performs the sends now (it holds the lease)."""
        return self._task is not None and not self._task.done()

    async def aclose(self) -> None:
        """Stop after the row in hand and give the lease up, so another process takes over
        at once; a row cut short is recovered as 'unknown' later."""
        leader, self.leader = self.leader, None
        if leader is not None:
            await leader.aclose()
        await self._stop_loop()

    def _start_loop(self) -> None:
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.get_running_loop().create_task(
                self._loop(), name=f"hubspot-scheduled-sends-{self.worker_id}"
            )

    async def _stop_loop(self) -> None:
        self._stopping.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=max(5.0, self.interval_s))
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # shutting down
                await task

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except StorageError as err:
                log.warning("scheduled sends: database unavailable (%s); will retry", err.code)
            except Exception:  # the loop must outlive one bad tick
                log.exception("scheduled sends: unexpected error in a tick; will retry")
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval_s)
            except TimeoutError:
                pass

    async def run_once(self) -> int:
        """Recover stale claims, then claim and perform what is due. Returns rows performed."""
        await self.store.recover_stale(self.stale_after)
        rows = await self.store.claim_due(self.worker_id, limit=self.batch_size)
        if not rows:
            return 0
        sem = asyncio.Semaphore(self.max_parallel)

        async def perform(row: Any) -> None:
            async with sem:
                await self._perform(row)

        await asyncio.gather(*(perform(r) for r in rows))
        return len(rows)

    async def _perform(self, row: Any) -> None:
        send_id = row.id
        principal = Principal(tenant_id=row.tenant_id, user_id=row.user_id)
        recipients = [Recipient(**r) for r in (row.recipients or [])]
        heartbeat = asyncio.get_running_loop().create_task(self._heartbeat(send_id))
        try:
            try:
                service = (await self.runtime.services_for(principal, row.portal_id)).marketing
            except HubSpotError as err:
                await self._fail_or_release(row, err)
                return
            results: list[dict[str, Any] | None] = [None] * len(recipients)
            write_lock = asyncio.Lock()

            async def on_result(i: int, result: RecipientResult) -> None:
                results[i] = result.model_dump()
                async with write_lock:
                    try:
                        await self.store.record_progress(send_id, self.worker_id, list(results))
                    except StorageError:
                        # Progress is best effort; the final write (or stale recovery) settles it.
                        log.warning("scheduled send %s: progress not recorded", send_id)

            try:
                summary = await service.send_email(
                    int(row.email_id),
                    recipients,
                    contact_properties=row.contact_properties or None,
                    custom_properties=row.custom_properties or None,
                    on_result=on_result,
                    raise_when_nothing_sent=False,
                    send_key=send_id.replace("-", ""),
                )
            except HubSpotError as err:
                # Raised before any recipient was attempted (e.g. reading the contacts).
                await self._fail_or_release(row, err)
                return
            status = _final_status(summary)
            error = (
                None
                if status == "sent"
                else (
                    f"{summary.sent} sent, {summary.failed} failed, {summary.skipped} skipped, "
                    f"{summary.unknown} unknown"
                )
            )
            async with write_lock:
                ok = await self.store.finish(
                    send_id,
                    self.worker_id,
                    status=status,
                    results=[r.model_dump() for r in summary.results],
                    error=error,
                )
            if ok:
                log.info(
                    "scheduled send %s performed: %s (%d sent of %d)",
                    send_id,
                    status,
                    summary.sent,
                    summary.requested,
                )
            else:
                log.warning(
                    "scheduled send %s: the claim was lost before the result was written", send_id
                )
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await heartbeat

    async def _fail_or_release(self, row: Any, err: HubSpotError) -> None:
        transient = isinstance(err, Unavailable | RateLimited | StorageError)
        if transient and (row.attempts or 0) < MAX_ATTEMPTS:
            await self.store.release(
                row.id, self.worker_id, error=f"attempt {row.attempts}: {err.code}: {err.message}"
            )
            log.info("scheduled send %s: nothing sent (%s); will try again", row.id, err.code)
            return
        await self.store.finish(
            row.id,
            self.worker_id,
            status="failed",
            results=None,
            error=f"{err.code}: {err.message} (nothing was sent)",
        )
        log.info("scheduled send %s failed before sending: %s", row.id, err.code)

    async def _heartbeat(self, send_id: str) -> None:
        every = max(1.0, self.stale_after.total_seconds() / 3)
        while True:
            await asyncio.sleep(every)
            try:
                await self.store.heartbeat(send_id, self.worker_id)
            except StorageError:
                log.warning("scheduled send %s: heartbeat not recorded", send_id)
