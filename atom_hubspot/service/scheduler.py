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
from typing import TYPE_CHECKING, Any, Protocol, cast

from pydantic import BaseModel, Field

from atom_host_stub.contract import Principal
from atom_hubspot.errors import (
    HubSpotError,
    InputError,
    RateLimited,
    StorageError,
    Unavailable,
)
from atom_hubspot.service.email_sends import Recipient, RecipientResult, SendSummary
from atom_hubspot.service.leased_loop import LeasedLoop
from atom_hubspot.service.pages import ResultsPage, offset_cursor
from atom_hubspot.storage.models import ScheduledSend
from atom_hubspot.storage.scheduled_sends import (
    NewSend,
    ScheduledSendStore,
    SendQuery,
    SendRecord,
    SendStatus,
)

if TYPE_CHECKING:
    from atom_hubspot.service.marketing import MarketingService, SendMode
    from atom_hubspot.settings import HubSpotSettings
    from atom_hubspot.storage.db import Database

log = logging.getLogger("atom_hubspot.scheduler")

MAX_ATTEMPTS = 3  # tries of a row that failed before any recipient was attempted
MAX_SCHEDULE_AHEAD = timedelta(days=366)
DEFAULT_STALE_AFTER_S = 300.0
# One process runs the runner at a time (storage/leases.py); a dead holder's successor takes
# over within about this long.
SCHEDULER_LEASE = "hubspot.scheduled-sends"
SCHEDULER_LEASE_TTL_S = 30.0


def utcnow() -> datetime:
    return datetime.now(UTC)


def send_mode_for(settings: HubSpotSettings) -> SendMode:
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
    def from_row(cls, row: SendRecord) -> ScheduledSendInfo:
        return cls(
            id=row.id,
            portal_id=row.portal_id,
            email_id=row.email_id,
            recipients=[Recipient(**r) for r in (row.recipients or [])],
            send_at=row.send_at,
            status=cast(SendStatus, row.status),
            attempts=row.attempts or 0,
            results=[None if r is None else RecipientResult(**r) for r in row.results]
            if row.results is not None
            else None,
            error=row.error,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class ScheduledSendList(ResultsPage[ScheduledSendInfo]):
    """Scheduled sends, one page."""


# --------------------------------------------------------------------------- a principal's sends


class ScheduledSends:
    """Scheduled sends as the routes answer them: checks the request, then the table
    (`storage.scheduled_sends`) stores it. The runner claims rows through `table`."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.table = ScheduledSendStore(db, clock=clock)

    @property
    def db(self) -> Database:
        return self.table.db

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
        if send_at - self.table.clock() > MAX_SCHEDULE_AHEAD:
            raise InputError(
                "send_at is more than a year ahead",
                errors=[{"field": "send_at", "message": "too far ahead"}],
            )
        stored = [r.model_dump(exclude_none=True) for r in recipients]
        send = NewSend(
            portal_id,
            connection_id,
            email_id,
            stored,
            send_at,
            contact_properties,
            custom_properties,
        )
        row = await self.table.create(principal, send)
        return ScheduledSendInfo.from_row(row)

    async def list_for(
        self,
        principal: Principal,
        *,
        portal_id: int | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[ScheduledSendInfo]:
        rows = await self.table.list_for(principal, SendQuery(portal_id, status, limit, offset))
        return [ScheduledSendInfo.from_row(r) for r in rows]

    async def page_for(
        self,
        principal: Principal,
        *,
        portal_id: int | None = None,
        status: str | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> ScheduledSendList:
        """One page of the principal's sends, latest first; `after` from the last page."""
        offset = offset_cursor(after)
        items = await self.list_for(
            principal, portal_id=portal_id, status=status, limit=limit + 1, offset=offset
        )
        return ScheduledSendList(
            results=items[:limit],
            next_after=str(offset + limit) if len(items) > limit else None,
        )

    async def get(self, principal: Principal, send_id: str) -> ScheduledSendInfo:
        return ScheduledSendInfo.from_row(await self.table.get(principal, send_id))

    async def cancel(self, principal: Principal, send_id: str) -> ScheduledSendInfo:
        """pending → cancelled, atomically; anything else is a conflict saying why."""
        return ScheduledSendInfo.from_row(await self.table.cancel(principal, send_id))


# --------------------------------------------------------------------------- runner


class _WithMarketing(Protocol):
    @property
    def marketing(self) -> MarketingService: ...


class SendsRuntime(Protocol):
    """What the send runners need of the plugin's runtime (HubSpotRuntime is one)."""

    settings: HubSpotSettings
    db: Database

    async def services_for(
        self,
        principal: Principal,
        portal_id: int | None = None,
        *,
        lane: str | None = None,
        send_mode: SendMode | None = None,
    ) -> _WithMarketing: ...


def _final_status(summary: SendSummary) -> SendStatus:
    if summary.requested and summary.sent == summary.requested:
        return "sent"
    if summary.sent == 0 and summary.unknown == 0:
        return "failed"
    return "partial"


class ScheduledSendRunner(LeasedLoop):
    """Performs due scheduled sends in the background of one host process."""

    def __init__(
        self,
        runtime: SendsRuntime,
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
        self.store = ScheduledSends(runtime.db, clock=lambda: self.clock())
        super().__init__(
            runtime.db,
            SCHEDULER_LEASE,
            worker_id=self.worker_id,
            interval_s=self.interval_s,
            lease_ttl_s=lease_ttl_s,
            what="scheduled sends",
        )

    async def aclose(self) -> None:
        """Stop after the row in hand and give the lease up, so another process takes over
        at once; a row cut short is recovered as 'unknown' later."""
        await super().aclose()

    async def run_once(self) -> int:
        """Recover stale claims, then claim and perform what is due. Returns rows performed."""
        await self.store.table.recover_stale(self.stale_after)
        rows = await self.store.table.claim_due(
            self.worker_id,
            limit=self.batch_size,
            environment=self.runtime.settings.environment.value,
        )
        if not rows:
            return 0
        sem = asyncio.Semaphore(self.max_parallel)

        async def perform(row: ScheduledSend) -> None:
            async with sem:
                await self._perform(row)

        await asyncio.gather(*(perform(r) for r in rows))
        return len(rows)

    async def _perform(self, row: ScheduledSend) -> None:
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
                        await self.store.table.record_progress(
                            send_id, self.worker_id, list(results)
                        )
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
                ok = await self.store.table.finish(
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

    async def _fail_or_release(self, row: ScheduledSend, err: HubSpotError) -> None:
        transient = isinstance(err, Unavailable | RateLimited | StorageError)
        if transient and (row.attempts or 0) < MAX_ATTEMPTS:
            await self.store.table.release(
                row.id, self.worker_id, error=f"attempt {row.attempts}: {err.code}: {err.message}"
            )
            log.info("scheduled send %s: nothing sent (%s); will try again", row.id, err.code)
            return
        await self.store.table.finish(
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
                await self.store.table.heartbeat(send_id, self.worker_id)
            except StorageError:
                log.warning("scheduled send %s: heartbeat not recorded", send_id)
