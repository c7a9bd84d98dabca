"""Apply the inbox's events to the mirror: in order, coalesced, never trusting a single value.

Each round takes the oldest pending events (by `occurredAt`), groups them per portal, and turns
them into the least work that brings the mirror to HubSpot's current state:
- creation, property change, deletion, restore, association change → the record is read again
  (one batch read per object type for all of them; HubSpot's answer, not the event's value, is
  what lands, so a late or duplicated event cannot take the mirror back; a record HubSpot no
  longer has is archived);
- merge → the merged ids resolve to the survivor, which is read again;
- privacy deletion → the record is purged from the mirror;
- list membership → the lists are read again.
An event that cannot be applied for a reason of its own (a poison event) is parked with its
error and shown; the others go on. A passing failure (HubSpot busy, storage down) leaves the
events pending for the next round.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from atom_hubspot.errors import (
    HubSpotError,
    NotConnected,
    RateLimited,
    ReconnectRequired,
    StorageError,
    Unavailable,
)
from atom_hubspot.feed.rounds import Rounds
from atom_hubspot.storage.feed import FeedInbox
from atom_hubspot.storage.mirror import MirrorStore
from atom_hubspot.storage.models import FeedEvent
from atom_hubspot.sync.engine import PortalSyncer
from atom_hubspot.sync.objects import RECORD_TYPES

if TYPE_CHECKING:
    from atom_hubspot.client import HubSpotClient

log = logging.getLogger("atom_hubspot.feed")

ClientFor = Callable[[int], Awaitable["HubSpotClient"]]
# Errors that say "later", not "this event is bad": the events stay pending.
PASSING = (RateLimited, Unavailable, StorageError)
REFRESHED = {"creation", "propertyChange", "deletion", "restore", "associationChange"}
PROPERTY_NAMES_TTL_S = 300.0


@dataclass
class PortalPlan:
    """What one portal's events ask of the mirror."""

    refresh: dict[str, set[int]] = field(default_factory=dict)
    # Records whose links may have changed (a property change leaves links alone).
    links: dict[str, set[int]] = field(default_factory=dict)
    merges: list[tuple[str, int, list[int]]] = field(default_factory=list)
    purges: list[tuple[str, int]] = field(default_factory=list)
    lists: bool = False
    events: list[int] = field(default_factory=list)  # inbox ids this plan settles
    parked: dict[int, str] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)


def plan(events: Sequence[FeedEvent]) -> PortalPlan:
    """One portal's events (oldest first) → the work they need. Pure: no I/O."""
    out = PortalPlan()
    for ev in sorted(events, key=lambda e: (e.occurred_at, e.id)):
        kind = ev.subscription_type.rsplit(".", 1)[-1]
        head = ev.subscription_type.split(".", 1)[0]
        if head == "list" or "membership" in kind.lower():
            out.lists = True
            out.events.append(ev.id)
            continue
        otype = ev.object_type
        if otype not in RECORD_TYPES:
            out.skipped.append(ev.id)  # an object type the mirror does not keep
            continue
        payload = ev.payload or {}
        if kind == "privacyDeletion":
            if ev.object_id is None:
                out.parked[ev.id] = "privacy deletion without objectId"
                continue
            out.purges.append((otype, ev.object_id))
        elif kind == "merge":
            survivor = payload.get("newObjectId") or payload.get("primaryObjectId")
            merged = payload.get("mergedObjectIds")
            if not isinstance(survivor, int) or not isinstance(merged, list):
                out.parked[ev.id] = "merge without primaryObjectId/newObjectId and mergedObjectIds"
                continue
            ids = [int(i) for i in merged if isinstance(i, int) and int(i) != survivor]
            out.merges.append((otype, survivor, ids))
            out.refresh.setdefault(otype, set()).add(survivor)
            out.links.setdefault(otype, set()).add(survivor)
        elif kind in REFRESHED:
            if ev.object_id is None:
                out.parked[ev.id] = f"{ev.subscription_type} without objectId"
                continue
            out.refresh.setdefault(otype, set()).add(ev.object_id)
            if kind != "propertyChange":
                out.links.setdefault(otype, set()).add(ev.object_id)
        else:
            out.skipped.append(ev.id)
            continue
        out.events.append(ev.id)
    # A purged record is not read back in.
    for otype, rid in out.purges:
        out.refresh.get(otype, set()).discard(rid)
    return out


@dataclass
class ApplyReport:
    applied: int = 0
    parked: int = 0
    skipped: int = 0
    deferred: int = 0


class FeedApplier:
    def __init__(
        self,
        inbox: FeedInbox,
        store: MirrorStore,
        client_for: ClientFor,
        *,
        batch_size: int = 500,
        idle_s: float = 1.0,
    ) -> None:
        self.inbox = inbox
        self.store = store
        self.client_for = client_for
        self.batch_size = batch_size
        self._rounds = Rounds("hubspot-feed", self._round, idle_s)
        self._names: dict[int, tuple[float, dict[str, list[str]]]] = {}

    def wake(self) -> None:
        self._rounds.wake()

    def _property_names(self, portal_id: int) -> dict[str, list[str]]:
        """The portal's property names, read once per PROPERTY_NAMES_TTL_S (a property made
        in HubSpot meanwhile is in the next sync)."""
        now = time.monotonic()
        cached = self._names.get(portal_id)
        if cached is None or now - cached[0] > PROPERTY_NAMES_TTL_S:
            cached = self._names[portal_id] = (now, {})
        return cached[1]

    async def apply_pending(self) -> ApplyReport:
        """One round over the oldest pending events; returns what happened to them."""
        report = ApplyReport()
        events = await self.inbox.pending(self.batch_size)
        by_portal: dict[int, list[FeedEvent]] = {}
        for ev in events:
            by_portal.setdefault(ev.portal_id, []).append(ev)
        for portal_id, evs in by_portal.items():
            await self._apply_portal(portal_id, evs, report)
        return report

    async def _apply_portal(
        self, portal_id: int, events: list[FeedEvent], report: ApplyReport
    ) -> None:
        work = plan(events)
        try:
            client = await self.client_for(portal_id)
        except (NotConnected, ReconnectRequired) as exc:
            # Nobody can read this portal any more: its mirror is purged on disconnect.
            await self.inbox.settle([], skipped=[e.id for e in events])
            report.skipped += len(events)
            log.info("feed: portal %s has no working connection (%s)", portal_id, exc.code)
            return
        syncer = PortalSyncer(
            client, self.store, portal_id, property_names=self._property_names(portal_id)
        )
        try:
            await self._execute(syncer, portal_id, work)
        except PASSING as exc:
            report.deferred += len(events)
            log.info("feed: portal %s deferred (%s)", portal_id, exc.code)
            return
        except HubSpotError:
            # One of them is bad: apply one at a time so only that one is parked.
            await self._one_by_one(syncer, portal_id, events, report)
            return
        await self.inbox.settle(work.events, skipped=work.skipped, parked=work.parked)
        report.applied += len(work.events)
        report.skipped += len(work.skipped)
        report.parked += len(work.parked)

    async def _one_by_one(
        self, syncer: PortalSyncer, portal_id: int, events: list[FeedEvent], report: ApplyReport
    ) -> None:
        for ev in events:
            work = plan([ev])
            try:
                await self._execute(syncer, portal_id, work)
            except PASSING:
                report.deferred += 1
                continue
            except HubSpotError as exc:
                work.parked[ev.id] = f"{exc.code}: {exc.message}"[:500]
                work.events = []
                log.warning(
                    "feed: event %s of portal %s parked: %s (correlation id %s)",
                    ev.event_id,
                    portal_id,
                    exc.code,
                    exc.correlation_id,
                )
            await self.inbox.settle(work.events, skipped=work.skipped, parked=work.parked)
            report.applied += len(work.events)
            report.skipped += len(work.skipped)
            report.parked += len(work.parked)

    async def _execute(self, syncer: PortalSyncer, portal_id: int, work: PortalPlan) -> None:
        for otype, rid in work.purges:
            await self.store.purge_record(portal_id, otype, rid)
        for otype, survivor, merged in work.merges:
            await self.store.merge_records(portal_id, otype, survivor, merged)
        for otype, ids in work.refresh.items():
            await syncer.refresh(otype, ids, links=work.links.get(otype, ()))
        if work.lists:
            await syncer.refresh_lists()

    # ------------------------------------------------------------------ background

    def start(self) -> None:
        self._rounds.start()

    async def aclose(self) -> None:
        await self._rounds.aclose()

    async def _round(self) -> bool:
        report = await self.apply_pending()
        return (report.applied + report.parked + report.skipped) >= self.batch_size
