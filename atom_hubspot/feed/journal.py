"""Pull HubSpot's changes from the Webhooks Journal into the same inbox as the webhooks.

For installs that cannot receive inbound HTTP (HUBSPOT_FEED_MODE=pull). Per portal: read the
entries after the stored offset, turn each journal event into the webhook event shape, and store
them with the new offset in one transaction, so a restart resumes exactly after the last entry
stored. An offset the journal no longer has (it keeps about three days) means a gap: the poller
starts again at the latest entry and asks for a sync of the gap by modification date.
https://developers.hubspot.com/docs/api-reference/latest/webhooks-journal/journal-entries/guide
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from atom_hubspot.client.journal import JournalAPI
from atom_hubspot.errors import HubSpotError, NotFound
from atom_hubspot.feed.events import OBJECT_TYPE_IDS, WebhookEvent
from atom_hubspot.feed.rounds import Rounds
from atom_hubspot.storage.feed import FeedInbox, Replayed

log = logging.getLogger("atom_hubspot.feed")

_SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal"}
_ACTIONS = {
    "CREATE": "creation",
    "UPDATE": "propertyChange",
    "DELETE": "deletion",
    "RESTORE": "restore",
    "MERGE": "merge",
    "ASSOCIATION_ADDED": "associationChange",
    "ASSOCIATION_REMOVED": "associationChange",
    # A snapshot puts an object's current state in the journal: read it like a change.
    "SNAPSHOT": "propertyChange",
}
MAX_ENTRIES_PER_POLL = 50


def journal_event_id(offset: str, index: int) -> int:
    """Journal events carry no eventId: one stable id from the entry and the position."""
    digest = hashlib.sha256(f"{offset}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


def to_webhook_event(raw: dict[str, Any], offset: str, index: int) -> WebhookEvent | None:
    """A journal event in the webhook event shape; None for what the mirror does not keep."""
    otype = OBJECT_TYPE_IDS.get(str(raw.get("objectTypeId", "")))
    action = _ACTIONS.get(str(raw.get("action", "")).upper())
    if otype is None or action is None:
        return None
    if raw.get("privacyDeletion"):
        action = "privacyDeletion"
    data: dict[str, Any] = {
        "eventId": journal_event_id(offset, index),
        "portalId": raw.get("portalId"),
        "occurredAt": raw.get("occurredAt"),
        "subscriptionType": f"{_SINGULAR[otype]}.{action}",
        "objectId": raw.get("objectId"),
        "objectTypeId": raw.get("objectTypeId"),
        "changeSource": raw.get("changeSource"),
    }
    if action == "associationChange":
        data["fromObjectId"] = raw.get("objectId")
        data["toObjectId"] = raw.get("associatedObjectId")
        data["associationType"] = raw.get("associationType")
        data["associationRemoved"] = str(raw.get("action", "")).upper() == "ASSOCIATION_REMOVED"
    for key in ("primaryObjectId", "mergedObjectIds", "newObjectId"):
        if key in raw:
            data[key] = raw[key]
    try:
        return WebhookEvent.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError:
        return None


@dataclass
class PollReport:
    portal_id: int
    entries: int = 0
    events: int = 0
    gap: bool = False


class JournalPoller:
    def __init__(
        self,
        api: JournalAPI,
        inbox: FeedInbox,
        portals: Callable[[], Awaitable[list[int]]],
        *,
        on_events: Callable[[], None] | None = None,
        on_gap: Callable[[int], Awaitable[None]] | None = None,
        interval_s: float = 5.0,
    ) -> None:
        self.api = api
        self.inbox = inbox
        self.portals = portals
        self.on_events = on_events
        self.on_gap = on_gap
        self.interval_s = interval_s
        self._rounds = Rounds("hubspot-journal", self._round, interval_s)

    async def poll_portal(self, portal_id: int) -> PollReport:
        report = PollReport(portal_id)
        offset = await self.inbox.journal_offset(portal_id)
        try:
            ref = (
                await self.api.earliest(portal_id)
                if offset is None
                else await self.api.next(offset, portal_id)
            )
        except NotFound:
            report.gap = True
            log.warning("journal: portal %s offset expired; re-syncing the gap", portal_id)
            latest = await self.api.latest(portal_id)
            await self.inbox.mark_polled(portal_id, latest.current_offset if latest else None)
            if self.on_gap is not None:
                await self.on_gap(portal_id)
            return report
        while ref is not None and report.entries < MAX_ENTRIES_PER_POLL:
            entry = await self.api.fetch(ref)
            events = [
                ev
                for i, raw in enumerate(entry.journal_events)
                if (ev := to_webhook_event(raw, ref.current_offset, i)) is not None
                and ev.portal_id == portal_id
            ]
            try:
                await self.inbox.accept(
                    f"journal:{portal_id}:{ref.current_offset}"[:64],
                    events,
                    source="journal",
                    journal=(portal_id, ref.current_offset),
                )
            except Replayed:
                # Stored by an earlier poll whose offset update was lost: move past it.
                await self.inbox.mark_polled(portal_id, ref.current_offset)
            report.entries += 1
            report.events += len(events)
            ref = await self.api.next(ref.current_offset, portal_id)
        if report.entries == 0:
            await self.inbox.mark_polled(portal_id)
        elif self.on_events is not None:
            self.on_events()
        return report

    async def poll_all(self) -> list[PollReport]:
        out = []
        for portal_id in await self.portals():
            try:
                out.append(await self.poll_portal(portal_id))
            except HubSpotError as exc:
                log.warning("journal: portal %s not polled: %s", portal_id, exc.code)
        return out

    def start(self) -> None:
        self._rounds.start()

    async def aclose(self) -> None:
        await self._rounds.aclose()

    async def _round(self) -> bool:
        await self.poll_all()
        return False
