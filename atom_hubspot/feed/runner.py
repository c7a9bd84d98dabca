"""The change feed's background work: one process applies, whatever the number of workers.

Every process's webhook receiver stores deliveries in the inbox; the process holding the
`hubspot.feed` lease (storage/leases.py) applies them to the mirror and, in pull mode, reads the
Webhooks Journal. Another process takes over within the lease's ttl when the holder dies, and
carries on from the inbox and the stored journal offsets: nothing acknowledged is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from atom_hubspot.client.journal import JOURNAL_SCOPES, AppToken, JournalAPI
from atom_hubspot.client.oauth import OAuthAPI
from atom_hubspot.feed.applier import FeedApplier
from atom_hubspot.feed.journal import JournalPoller
from atom_hubspot.storage.feed import FeedInbox
from atom_hubspot.storage.leases import LeaderLease, LeaseStore
from atom_hubspot.storage.models import FeedEvent, utcnow

if TYPE_CHECKING:
    from atom_hubspot.client import HubSpotHTTP
    from atom_hubspot.settings import HubSpotSettings
    from atom_hubspot.storage.db import Database
    from atom_hubspot.storage.mirror import MirrorStore
    from atom_hubspot.sync.runner import MirrorSyncRunner

log = logging.getLogger("atom_hubspot.feed")

FEED_LEASE = "hubspot.feed"
LEASE_TTL_S = 15.0
# An idle applier looks at the inbox this often (deliveries to another worker wake nobody here).
IDLE_S = 0.5


@dataclass
class FeedStatus:
    """The feed of one portal, as `GET /api/hubspot/sync` and the dashboard show it."""

    mode: str
    last_event_at: datetime | None
    events_per_minute: float
    pending: int
    parked: int
    journal_offset: str | None
    signature_failures: int
    last_signature_failure: str | None
    last_signature_failure_at: datetime | None


class ChangeFeed:
    def __init__(
        self,
        settings: HubSpotSettings,
        db: Database,
        http: HubSpotHTTP,
        store: MirrorStore,
        sync: MirrorSyncRunner,
    ) -> None:
        self.settings = settings
        self.db = db
        self.inbox = FeedInbox(db)
        self.sync = sync
        self.applier = FeedApplier(self.inbox, store, sync.client_for_portal, idle_s=IDLE_S)
        self.poller: JournalPoller | None = None
        if settings.feed_mode == "pull":
            oauth = OAuthAPI(http, settings.app.client_id, settings.app.secret)
            self.poller = JournalPoller(
                JournalAPI(http, AppToken(oauth, JOURNAL_SCOPES)),
                self.inbox,
                sync.connected_portals,
                on_events=self.applier.wake,
                on_gap=self._resync,
                interval_s=settings.journal_poll_s,
            )
        self.leader = LeaderLease(
            LeaseStore(db),
            FEED_LEASE,
            ttl_s=LEASE_TTL_S,
            on_acquired=lambda _lease: self._begin(),
            on_lost=self._end,
        )
        self._gaps: set[asyncio.Task[object]] = set()

    @property
    def active(self) -> bool:
        return self.settings.feed_mode in ("push", "pull")

    def start(self) -> None:
        if self.active:
            self.leader.start()

    def wake(self) -> None:
        self.applier.wake()

    def _begin(self) -> None:
        self.applier.start()
        if self.poller is not None:
            self.poller.start()

    async def _end(self) -> None:
        await self.applier.aclose()
        if self.poller is not None:
            await self.poller.aclose()

    async def aclose(self) -> None:
        await self.leader.aclose()
        await self._end()
        for task in list(self._gaps):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _resync(self, portal_id: int) -> None:
        """The journal lost events: an incremental sync reads everything changed since."""
        task = asyncio.get_running_loop().create_task(self.sync.sync_portal(portal_id))
        self._gaps.add(task)
        task.add_done_callback(self._gaps.discard)

    async def status(self, portal_ids: list[int]) -> dict[int, FeedStatus]:
        health = {h.portal_id: h for h in await self.inbox.health(portal_ids)}
        since = utcnow() - timedelta(minutes=5)
        async with self.db.session(read_only=True) as s:
            rows = await s.execute(
                sa.select(FeedEvent.portal_id, sa.func.count())
                .where(FeedEvent.portal_id.in_(portal_ids), FeedEvent.received_at >= since)
                .group_by(FeedEvent.portal_id)
            )
            recent = {int(p): int(n) for p, n in rows}
        signatures = await self.inbox.signature_health()
        out = {}
        for pid in portal_ids:
            h = health[pid]
            out[pid] = FeedStatus(
                mode=self.settings.feed_mode,
                last_event_at=h.last_event_at,
                events_per_minute=round(recent.get(pid, 0) / 5.0, 1),
                pending=h.pending,
                parked=h.parked,
                journal_offset=h.journal_offset,
                signature_failures=signatures.signature_failures if signatures else 0,
                last_signature_failure=signatures.last_signature_failure if signatures else None,
                last_signature_failure_at=(
                    signatures.last_signature_failure_at if signatures else None
                ),
            )
        return out
