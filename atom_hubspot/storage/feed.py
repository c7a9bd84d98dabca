"""The change feed's inbox: events stored before HubSpot is answered, then applied in order.

Every write here is idempotent: a redelivered event (same portal and eventId) is stored once, the
same signed delivery seen twice is refused as a replay, and counters only move forward.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from atom_hubspot.feed.events import WebhookEvent
from atom_hubspot.storage.db import Database
from atom_hubspot.storage.models import (
    Connection,
    FeedDelivery,
    FeedEvent,
    FeedHealth,
    utcnow,
)

# Deliveries older than the signature window cannot be replayed anyway (they are stale).
REPLAY_MEMORY = timedelta(minutes=10)
ANY_PORTAL = 0


class Replayed(Exception):
    """This exact signed delivery was accepted before."""


@dataclass(frozen=True)
class Accepted:
    stored: int
    duplicates: int
    unknown_portal: int


@dataclass(frozen=True)
class PortalFeedHealth:
    portal_id: int
    events_received: int
    events_unknown_portal: int
    last_event_at: datetime | None
    pending: int
    parked: int
    journal_offset: str | None


def _insert(dialect: str, table: Any) -> Any:
    return (sqlite.insert if dialect == "sqlite" else postgresql.insert)(table)


class FeedInbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def accept(
        self,
        digest: str,
        events: Sequence[WebhookEvent],
        *,
        source: str,
        journal: tuple[int, str] | None = None,
    ) -> Accepted:
        """Store a verified delivery in one transaction. Raises Replayed when `digest` was seen;
        then nothing is stored. Events of portals nobody here is connected to are counted, not
        kept. `journal` (portal, offset): the journal position these events bring the portal
        to, saved in the same transaction, so a restart neither loses nor repeats an entry."""
        now = utcnow()
        async with self.db.session() as s:
            if digest:
                seen = await s.execute(
                    _insert(self.db.dialect, FeedDelivery)
                    .values(digest=digest, received_at=now)
                    .on_conflict_do_nothing()
                    .returning(FeedDelivery.digest)
                )
                if seen.first() is None:
                    raise Replayed()
            known = await self._known_portals(s, {e.portal_id for e in events})
            rows = [
                {
                    "portal_id": e.portal_id,
                    "event_id": e.event_id,
                    "source": source,
                    "subscription_type": e.subscription_type,
                    "object_type": e.object_type,
                    "object_id": e.object_id,
                    "occurred_at": e.occurred_at,
                    "payload": e.payload(),
                    "status": "pending",
                    "attempts": 0,
                    "received_at": now,
                }
                for e in events
                if e.portal_id in known
            ]
            stored = 0
            if rows:
                result = await s.execute(
                    _insert(self.db.dialect, FeedEvent)
                    .values(rows)
                    .on_conflict_do_nothing(index_elements=["portal_id", "event_id"])
                    .returning(FeedEvent.id)
                )
                stored = len(result.all())
            unknown = len(events) - len(rows)
            per_portal: dict[int, tuple[int, int]] = {}
            for e in events:
                got, unk = per_portal.get(e.portal_id, (0, 0))
                per_portal[e.portal_id] = (got + 1, unk + (e.portal_id not in known))
            for portal_id, (got, unk) in per_portal.items():
                await self._bump(
                    s,
                    portal_id,
                    events_received=got,
                    events_unknown_portal=unk,
                    last_event_at=now,
                )
            if journal is not None:
                await self._bump(s, journal[0], journal_offset=journal[1], journal_polled_at=now)
        return Accepted(stored=stored, duplicates=len(rows) - stored, unknown_portal=unknown)

    async def record_signature_failure(self, reason: str) -> None:
        async with self.db.session() as s:
            await self._bump(
                s,
                ANY_PORTAL,
                signature_failures=1,
                last_signature_failure_at=utcnow(),
                last_signature_failure=reason[:64],
            )

    async def _bump(self, s: AsyncSession, portal_id: int, **changes: Any) -> None:
        counters = ("events_received", "events_unknown_portal", "signature_failures")
        values = {"portal_id": portal_id, **{c: 0 for c in counters}, **changes}
        stmt = _insert(self.db.dialect, FeedHealth).values(values)
        update: dict[str, Any] = {}
        for key, value in changes.items():
            column = getattr(FeedHealth, key)
            update[key] = column + value if key in counters else value
        await s.execute(stmt.on_conflict_do_update(index_elements=["portal_id"], set_=update))

    async def _known_portals(self, s: AsyncSession, portal_ids: Iterable[int]) -> set[int]:
        ids = sorted(set(portal_ids))
        if not ids:
            return set()
        rows = await s.execute(
            sa.select(Connection.portal_id)
            .where(Connection.portal_id.in_(ids), Connection.status == "connected")
            .distinct()
        )
        return {int(r[0]) for r in rows}

    # ---------------------------------------------------------------- the applier's side

    async def pending(self, limit: int) -> list[FeedEvent]:
        """The oldest pending events (by when they happened), at most `limit`."""
        async with self.db.session(read_only=True) as s:
            rows = await s.execute(
                sa.select(FeedEvent)
                .where(FeedEvent.status == "pending")
                .order_by(FeedEvent.occurred_at, FeedEvent.id)
                .limit(limit)
            )
            return list(rows.scalars())

    async def settle(
        self,
        applied: Sequence[int],
        skipped: Sequence[int] = (),
        parked: dict[int, str] | None = None,
    ) -> None:
        now = utcnow()
        async with self.db.session() as s:
            if applied:
                await s.execute(
                    sa.update(FeedEvent)
                    .where(FeedEvent.id.in_(list(applied)))
                    .values(status="applied", applied_at=now, attempts=FeedEvent.attempts + 1)
                )
            if skipped:
                await s.execute(
                    sa.update(FeedEvent)
                    .where(FeedEvent.id.in_(list(skipped)))
                    .values(status="skipped", applied_at=now)
                )
            for event_pk, error in (parked or {}).items():
                await s.execute(
                    sa.update(FeedEvent)
                    .where(FeedEvent.id == event_pk)
                    .values(status="parked", error=error[:500], attempts=FeedEvent.attempts + 1)
                )

    async def retry_parked(self, portal_id: int | None = None) -> int:
        """Put parked events back in line (after the cause is fixed); returns how many."""
        async with self.db.session() as s:
            stmt = sa.update(FeedEvent).where(FeedEvent.status == "parked")
            if portal_id is not None:
                stmt = stmt.where(FeedEvent.portal_id == portal_id)
            result = await s.execute(stmt.values(status="pending", error=None))
            return int(getattr(result, "rowcount", 0) or 0)

    async def prune(self, *, applied_older_than: timedelta = timedelta(days=1)) -> None:
        now = utcnow()
        async with self.db.session() as s:
            await s.execute(
                sa.delete(FeedDelivery).where(FeedDelivery.received_at < now - REPLAY_MEMORY)
            )
            await s.execute(
                sa.delete(FeedEvent).where(
                    FeedEvent.status.in_(("applied", "skipped")),
                    FeedEvent.applied_at < now - applied_older_than,
                )
            )

    async def health(self, portal_ids: Sequence[int]) -> list[PortalFeedHealth]:
        ids = list(portal_ids)
        async with self.db.session(read_only=True) as s:
            counts = await s.execute(
                sa.select(FeedEvent.portal_id, FeedEvent.status, sa.func.count())
                .where(FeedEvent.portal_id.in_(ids), FeedEvent.status.in_(("pending", "parked")))
                .group_by(FeedEvent.portal_id, FeedEvent.status)
            )
            by_status = {(int(p), str(st)): int(n) for p, st, n in counts}
            rows = {
                h.portal_id: h
                for h in (
                    await s.execute(sa.select(FeedHealth).where(FeedHealth.portal_id.in_(ids)))
                ).scalars()
            }
        out = []
        for pid in ids:
            h = rows.get(pid)
            out.append(
                PortalFeedHealth(
                    portal_id=pid,
                    events_received=h.events_received if h else 0,
                    events_unknown_portal=h.events_unknown_portal if h else 0,
                    last_event_at=h.last_event_at if h else None,
                    pending=by_status.get((pid, "pending"), 0),
                    parked=by_status.get((pid, "parked"), 0),
                    journal_offset=h.journal_offset if h else None,
                )
            )
        return out

    async def journal_offset(self, portal_id: int) -> str | None:
        async with self.db.session(read_only=True) as s:
            row = await s.get(FeedHealth, portal_id)
            return row.journal_offset if row is not None else None

    async def mark_polled(self, portal_id: int, offset: str | None = None) -> None:
        """The journal was read (and nothing new came), or restarts at `offset`."""
        changes: dict[str, Any] = {"journal_polled_at": utcnow()}
        if offset is not None:
            changes["journal_offset"] = offset
        async with self.db.session() as s:
            await self._bump(s, portal_id, **changes)

    async def signature_health(self) -> FeedHealth | None:
        async with self.db.session(read_only=True) as s:
            return await s.get(FeedHealth, ANY_PORTAL)
