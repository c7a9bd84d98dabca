"""The scheduled-sends table (`hubspot_scheduled_sends`): a principal's own rows, and the
claims the scheduler's runner makes on due rows.

Claiming is atomic across processes: PostgreSQL `SELECT … FOR UPDATE SKIP LOCKED` then the
update in the same transaction; SQLite a write-locked transaction with a conditional
`UPDATE … WHERE status = 'pending'` whose rowcount says whether this process won. A claimed
row is never claimed again; a claim whose worker stopped (no heartbeat) is closed with the
recipients without an outcome marked unknown, never re-sent.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, cast

import sqlalchemy as sa

from atom_host_stub.contract import Principal
from atom_hubspot.errors import Conflict, NotFound
from atom_hubspot.storage.db import Database, rows_changed
from atom_hubspot.storage.models import Connection, ScheduledSend, utcnow

log = logging.getLogger("atom_hubspot.scheduler")

SendStatus = Literal["pending", "claimed", "sent", "partial", "failed", "cancelled"]


@dataclass(frozen=True)
class NewSend:
    """A send to store: the marketing email, its recipients (as stored) and when."""

    portal_id: int
    connection_id: str
    email_id: int
    recipients: list[dict[str, Any]]
    send_at: datetime
    contact_properties: dict[str, Any] | None = None
    custom_properties: dict[str, Any] | None = None


@dataclass(frozen=True)
class SendQuery:
    """Which of a principal's scheduled sends to list, and which page."""

    portal_id: int | None = None
    status: str | None = None
    limit: int = 100
    offset: int = 0


def _unknown_result(recipient: dict[str, Any]) -> dict[str, Any]:
    """A recipient's result when the process sending to it stopped before recording one (the
    shape of the service's RecipientResult)."""
    return {
        "contact_id": recipient.get("contact_id"),
        "email": recipient.get("email"),
        "status": "unknown",
        "status_id": None,
        "send_result": None,
        "error": {
            "code": "outcome_unknown",
            "message": "The process sending this stopped; it may have been sent. Not "
            "re-sent, to avoid a duplicate: check in HubSpot.",
        },
    }


class SendRecord(Protocol):
    """A scheduled send as read: an ORM row, or a plain row of the same columns."""

    id: str
    portal_id: int
    email_id: int
    recipients: list[dict[str, Any]]
    send_at: datetime
    status: str
    attempts: int
    results: Any | None
    error: str | None
    created_at: datetime
    updated_at: datetime


# What a principal's reads select: the SendRecord columns, from the table. A Core select of
# columns, not of the ORM entity: on every request the entity's select cost about a third
# more CPU than the read itself (measured on PostgreSQL), for rows no session tracks anyway.
_T = ScheduledSend.__table__.c
_RECORD = (
    _T.id, _T.portal_id, _T.email_id, _T.recipients, _T.send_at, _T.status, _T.attempts,
    _T.results, _T.error, _T.created_at, _T.updated_at,
)  # fmt: skip


@functools.cache
def _listing(by_portal: bool, by_status: bool) -> sa.Select[Any]:
    """A principal's sends, latest first: built once per filter combination, bound per call."""
    q = sa.select(*_RECORD).where(
        _T.tenant_id == sa.bindparam("tenant_id"), _T.user_id == sa.bindparam("user_id")
    )
    if by_portal:
        q = q.where(_T.portal_id == sa.bindparam("portal_id"))
    if by_status:
        q = q.where(_T.status == sa.bindparam("status"))
    return (
        q.order_by(_T.send_at.desc(), _T.id)
        .offset(sa.bindparam("offset"))
        .limit(sa.bindparam("limit"))
    )


@functools.cache
def _one() -> sa.Select[Any]:
    return sa.select(*_RECORD).where(
        _T.tenant_id == sa.bindparam("tenant_id"),
        _T.user_id == sa.bindparam("user_id"),
        _T.id == sa.bindparam("id"),
    )


class ScheduledSendStore:
    """The table's operations: per-principal create/list/cancel, and the runner's claims."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    # ------------------------------------------------------------------ per principal

    async def create(self, principal: Principal, send: NewSend) -> ScheduledSend:
        """A pending row; `send_at` must carry a time zone (checked by the caller)."""
        now = self.clock()
        row = ScheduledSend(
            id=str(uuid.uuid4()),
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            portal_id=send.portal_id,
            connection_id=send.connection_id,
            email_id=send.email_id,
            recipients=send.recipients,
            contact_properties=send.contact_properties or {},
            custom_properties=send.custom_properties or {},
            send_at=send.send_at.astimezone(UTC),
            status="pending",
            attempts=0,
            created_at=now,
            updated_at=now,
        )
        async with self.db.session(principal.tenant_id) as s:
            s.add(row)
        return row

    def _owned(self, principal: Principal) -> sa.Select[ScheduledSend]:
        M = ScheduledSend
        return sa.select(M).where(
            M.tenant_id == principal.tenant_id, M.user_id == principal.user_id
        )

    async def list_for(self, principal: Principal, query: SendQuery) -> list[SendRecord]:
        """The principal's rows, latest `send_at` first: one prebuilt statement, no ORM
        session (on every request; see Database.rows)."""
        params = {
            "tenant_id": principal.tenant_id,
            "user_id": principal.user_id,
            "portal_id": query.portal_id,
            "status": query.status,
            "limit": query.limit,
            "offset": query.offset,
        }
        stmt = _listing(query.portal_id is not None, query.status is not None)
        return cast(list[SendRecord], await self.db.rows(stmt, params, principal.tenant_id))

    async def get(self, principal: Principal, send_id: str) -> SendRecord:
        params = {"tenant_id": principal.tenant_id, "user_id": principal.user_id, "id": send_id}
        row = await self.db.first(_one(), params, principal.tenant_id)
        if row is None:
            raise NotFound(f"Scheduled send {send_id} was not found.")
        return cast(SendRecord, row)

    async def cancel(self, principal: Principal, send_id: str) -> ScheduledSend:
        """pending → cancelled, atomically; anything else is a conflict saying why."""
        M = ScheduledSend
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
            return row

    # ------------------------------------------------------------------ runner side

    async def claim_due(
        self, worker_id: str, *, limit: int = 20, environment: str | None = None
    ) -> list[ScheduledSend]:
        """Claim up to `limit` due pending rows for `worker_id`; each row goes to one worker.
        With `environment`, no send over a connection made in another: those wait, pending,
        for a host that runs in theirs."""
        M = ScheduledSend
        now = self.clock()
        due = (
            sa.select(M)
            .where(M.status == "pending", M.send_at <= now, in_environment(M, environment))
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
        M = ScheduledSend
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
        M = ScheduledSend
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
                        results[i] = _unknown_result(rec)
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


def in_environment(model: Any, environment: str | None) -> sa.ColumnElement[bool]:
    """`model.connection_id` is not a connection made in another environment than
    `environment` (anything when None); a send whose connection is gone stays claimable, to
    fail there as not connected."""
    if environment is None:
        return sa.true()
    elsewhere = sa.select(Connection.id).where(Connection.environment != environment)
    return cast("sa.ColumnElement[bool]", model.connection_id.not_in(elsewhere))
