"""Sends of a marketing email to lead lists: the job and one row per recipient contact.

A fan-out job (one HubSpot call per contact) survives restarts because each recipient has its
own state: `pending` (not attempted), `sending` (a call may be in flight), then `sent`,
`failed`, `skipped`, `unknown` or `cancelled`. A runner that takes over a job whose worker died
turns `sending` into `unknown` (it may have been sent; never re-sent) and goes on with the
`pending` ones. Claims are conditional UPDATEs whose row count says who won, on SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from atom_host_stub.contract import Principal
from atom_hubspot.errors import Conflict, NotFound
from atom_hubspot.storage.db import rows_changed
from atom_hubspot.storage.models import ListSend, ListSendRecipient
from atom_hubspot.storage.scheduled_sends import in_environment

if TYPE_CHECKING:
    from atom_hubspot.storage.db import Database

RECIPIENT_STATES = ("pending", "sending", "sent", "failed", "skipped", "unknown", "cancelled")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _mine(send_id: str, worker_id: str) -> tuple[sa.ColumnElement[bool], ...]:
    """The job `send_id`, while `worker_id` runs it (not cancelled, not taken over)."""
    return (
        ListSend.id == send_id,
        ListSend.status == "running",
        ListSend.claimed_by == worker_id,
    )


class ListSendStore:
    """Per-principal create/read/cancel, and the runner's claims and progress."""

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
        list_ids: list[str],
        way: str,
        send_mode: str | None,
        send_at: datetime,
        status: str,
        error: str | None = None,
    ) -> ListSend:
        now = self.clock()
        row = ListSend(
            id=str(uuid.uuid4()),
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            portal_id=portal_id,
            connection_id=connection_id,
            email_id=email_id,
            list_ids=list(list_ids),
            way=way,
            send_mode=send_mode,
            send_at=send_at.astimezone(UTC),
            status=status,
            expanded=False,
            error=error,
            created_at=now,
            updated_at=now,
        )
        async with self.db.session(principal.tenant_id) as s:
            s.add(row)
        return row

    def _owned(self, principal: Principal) -> Any:
        return sa.select(ListSend).where(
            ListSend.tenant_id == principal.tenant_id, ListSend.user_id == principal.user_id
        )

    async def get(self, principal: Principal, send_id: str) -> ListSend:
        async with self.db.session(principal.tenant_id, read_only=True) as s:
            row: ListSend | None = (
                await s.execute(self._owned(principal).where(ListSend.id == send_id))
            ).scalar()
        if row is None:
            raise NotFound(f"List send {send_id} was not found.")
        return row

    async def list_for(
        self, principal: Principal, *, portal_id: int | None, limit: int, offset: int
    ) -> list[ListSend]:
        q = self._owned(principal)
        if portal_id is not None:
            q = q.where(ListSend.portal_id == portal_id)
        q = q.order_by(ListSend.created_at.desc(), ListSend.id).offset(offset).limit(limit)
        async with self.db.session(principal.tenant_id, read_only=True) as s:
            return list((await s.execute(q)).scalars().all())

    async def progress(self, tenant_id: str, send_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Recipients per state, per send."""
        out: dict[str, dict[str, int]] = {sid: {} for sid in send_ids}
        if not send_ids:
            return out
        q = (
            sa.select(ListSendRecipient.list_send_id, ListSendRecipient.status, sa.func.count())
            .where(ListSendRecipient.list_send_id.in_(list(send_ids)))
            .group_by(ListSendRecipient.list_send_id, ListSendRecipient.status)
        )
        async with self.db.session(tenant_id, read_only=True) as s:
            for sid, status, n in (await s.execute(q)).all():
                out[str(sid)][str(status)] = int(n)
        return out

    async def cancel(self, principal: Principal, send_id: str, *, allowed: Sequence[str]) -> None:
        """`allowed` states → cancelled, atomically; its pending recipients too."""
        now = self.clock()
        async with self.db.session(principal.tenant_id, write_lock=True) as s:
            res = await s.execute(
                sa.update(ListSend)
                .where(
                    ListSend.id == send_id,
                    ListSend.tenant_id == principal.tenant_id,
                    ListSend.user_id == principal.user_id,
                    ListSend.status.in_(list(allowed)),
                )
                .values(status="cancelled", updated_at=now)
            )
            if rows_changed(res) != 1:
                row = (
                    await s.execute(self._owned(principal).where(ListSend.id == send_id))
                ).scalar()
                if row is None:
                    raise NotFound(f"List send {send_id} was not found.")
                raise Conflict(
                    f"List send {send_id} is {row.status}; it cannot be cancelled.",
                    existing_id=send_id,
                    status_now=row.status,
                )
            await s.execute(
                sa.update(ListSendRecipient)
                .where(
                    ListSendRecipient.list_send_id == send_id,
                    ListSendRecipient.status == "pending",
                )
                .values(status="cancelled", updated_at=now)
            )

    async def set_status(
        self, tenant_id: str, send_id: str, status: str, error: str | None = None
    ) -> None:
        async with self.db.session(tenant_id) as s:
            await s.execute(
                sa.update(ListSend)
                .where(ListSend.id == send_id)
                .values(status=status, error=error, updated_at=self.clock())
            )

    # ------------------------------------------------------------------ runner side

    async def claim_due(
        self, worker_id: str, stale_after: timedelta, environment: str | None = None
    ) -> ListSend | None:
        """One fan-out job that is due, or whose worker stopped showing signs of life (with
        `environment`, over a connection made in it)."""
        now = self.clock()
        due = sa.or_(
            sa.and_(ListSend.status == "pending", ListSend.send_at <= now),
            sa.and_(ListSend.status == "running", ListSend.claimed_at < now - stale_after),
        )
        q = (
            sa.select(ListSend.id, ListSend.claimed_at)
            .where(ListSend.way == "fan_out", due, in_environment(ListSend, environment))
            .order_by(ListSend.send_at, ListSend.id)
            .limit(5)
        )
        async with self.db.session(None, read_only=True) as s:
            candidates = (await s.execute(q)).all()
        for send_id, claimed_at in candidates:
            async with self.db.session(None, write_lock=True) as s:
                res = await s.execute(
                    sa.update(ListSend)
                    .where(
                        ListSend.id == send_id,
                        due,
                        ListSend.claimed_at.is_(None)
                        if claimed_at is None
                        else ListSend.claimed_at == claimed_at,
                    )
                    .values(status="running", claimed_by=worker_id, claimed_at=now, updated_at=now)
                )
                if rows_changed(res) == 1:
                    row: ListSend = (
                        await s.execute(sa.select(ListSend).where(ListSend.id == send_id))
                    ).scalar_one()
                    return row
        return None

    async def still_mine(self, send_id: str, worker_id: str) -> bool:
        """Heartbeat: True while this worker holds the job and it is not cancelled."""
        return await self._update_if_mine(send_id, worker_id, claimed_at=self.clock())

    async def _update_if_mine(self, send_id: str, worker_id: str, **values: Any) -> bool:
        """Set `values` on the job if this worker still runs it; whether it did."""
        async with self.db.session(None) as s:
            res = await s.execute(
                sa.update(ListSend).where(*_mine(send_id, worker_id)).values(**values)
            )
            return rows_changed(res) == 1

    async def add_recipients(self, send_id: str, tenant_id: str, contact_ids: list[str]) -> int:
        """The lists' members as pending recipients (once: the job is marked expanded)."""
        now = self.clock()
        unique = list(dict.fromkeys(int(c) for c in contact_ids))
        async with self.db.session(None, write_lock=True) as s:
            for start in range(0, len(unique), 500):
                s.add_all(
                    ListSendRecipient(
                        list_send_id=send_id,
                        contact_id=cid,
                        tenant_id=tenant_id,
                        status="pending",
                        updated_at=now,
                    )
                    for cid in unique[start : start + 500]
                )
                await s.flush()
            await s.execute(sa.update(ListSend).where(ListSend.id == send_id).values(expanded=True))
        return len(unique)

    async def in_flight_to_unknown(self, send_id: str) -> int:
        """After a takeover: calls that may have reached HubSpot are unknown, never re-sent."""
        async with self.db.session(None) as s:
            res = await s.execute(
                sa.update(ListSendRecipient)
                .where(
                    ListSendRecipient.list_send_id == send_id,
                    ListSendRecipient.status == "sending",
                )
                .values(
                    status="unknown",
                    error={
                        "code": "outcome_unknown",
                        "message": "The process sending this stopped; it may have been sent. "
                        "Not re-sent, to avoid a duplicate: check in HubSpot.",
                    },
                    updated_at=self.clock(),
                )
            )
            return rows_changed(res)

    async def take_batch(self, send_id: str, worker_id: str, size: int) -> list[str]:
        """The next pending contacts, marked `sending` before any call is made."""
        now = self.clock()
        async with self.db.session(None, write_lock=True) as s:
            mine = (
                await s.execute(sa.select(ListSend.id).where(*_mine(send_id, worker_id)))
            ).first()
            if mine is None:
                return []
            ids = list(
                (
                    await s.execute(
                        sa.select(ListSendRecipient.contact_id)
                        .where(
                            ListSendRecipient.list_send_id == send_id,
                            ListSendRecipient.status == "pending",
                        )
                        .order_by(ListSendRecipient.contact_id)
                        .limit(size)
                    )
                )
                .scalars()
                .all()
            )
            if ids:
                await s.execute(
                    sa.update(ListSendRecipient)
                    .where(
                        ListSendRecipient.list_send_id == send_id,
                        ListSendRecipient.contact_id.in_(ids),
                    )
                    .values(status="sending", updated_at=now)
                )
                await s.execute(
                    sa.update(ListSend).where(ListSend.id == send_id).values(claimed_at=now)
                )
            return [str(i) for i in ids]

    async def record(self, send_id: str, results: list[tuple[str, str, Any]]) -> None:
        """(contact id, final state, error) per recipient of a batch."""
        now = self.clock()
        async with self.db.session(None) as s:
            for contact_id, status, error in results:
                await s.execute(
                    sa.update(ListSendRecipient)
                    .where(
                        ListSendRecipient.list_send_id == send_id,
                        ListSendRecipient.contact_id == int(contact_id),
                    )
                    .values(status=status, error=error, updated_at=now)
                )

    async def release_batch(self, send_id: str, contact_ids: list[str]) -> None:
        """Back to pending: nothing was called for these (e.g. reading their addresses failed)."""
        async with self.db.session(None) as s:
            await s.execute(
                sa.update(ListSendRecipient)
                .where(
                    ListSendRecipient.list_send_id == send_id,
                    ListSendRecipient.contact_id.in_([int(c) for c in contact_ids]),
                    ListSendRecipient.status == "sending",
                )
                .values(status="pending", updated_at=self.clock())
            )

    async def finish(self, send_id: str, worker_id: str, status: str, error: str | None) -> bool:
        return await self._update_if_mine(
            send_id, worker_id, status=status, error=error, updated_at=self.clock()
        )
