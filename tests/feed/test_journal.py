"""Pull mode: the Webhooks Journal read into the inbox with its offset, across restarts, and
an expired offset treated as a gap to re-sync."""

from __future__ import annotations

from typing import Any

from atom_hubspot.client.journal import JOURNAL_SCOPES, AppToken, JournalAPI
from atom_hubspot.client.oauth import OAuthAPI
from atom_hubspot.feed.journal import JournalPoller, to_webhook_event
from atom_hubspot.storage.feed import FeedInbox
from tests.api.conftest import PORTAL_A, Stack
from tests.conftest import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from tests.feed.test_applier import api, wire


def poller(stack: Stack, gaps: list[int] | None = None) -> JournalPoller:
    runtime: Any = stack.runtime
    oauth = OAuthAPI(runtime.http, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)
    journal = JournalAPI(runtime.http, AppToken(oauth, JOURNAL_SCOPES))

    async def portals() -> list[int]:
        return [PORTAL_A]

    async def on_gap(portal_id: int) -> None:
        (gaps if gaps is not None else []).append(portal_id)

    return JournalPoller(journal, FeedInbox(runtime.db), portals, on_gap=on_gap)


async def test_journal_feeds_the_mirror_and_resumes_after_a_restart(stack: Stack) -> None:
    applier, store, _ = await wire(stack)
    stack.sandbox.webhooks.configure(None)  # no inbound HTTP: pull only
    cid = int(
        (
            await api(
                stack,
                "POST",
                "/crm/objects/2026-03/contacts",
                {"properties": {"email": "pull@example.com"}},
            )
        )["id"]
    )
    await api(
        stack,
        "PATCH",
        f"/crm/objects/2026-03/contacts/{cid}",
        {"properties": {"firstname": "Pulled"}},
    )

    first = await poller(stack).poll_portal(PORTAL_A)
    assert (first.entries, first.events) == (2, 2)
    await applier.apply_pending()
    mirrored = await store.get_record(PORTAL_A, "contacts", cid)
    assert mirrored is not None and mirrored.properties["firstname"] == "Pulled"

    # A new process (a new poller) starts after the stored offset: nothing is read twice.
    again = await poller(stack).poll_portal(PORTAL_A)
    assert (again.entries, again.events) == (0, 0)
    await api(
        stack,
        "PATCH",
        f"/crm/objects/2026-03/contacts/{cid}",
        {"properties": {"lastname": "Later"}},
    )
    later = await poller(stack).poll_portal(PORTAL_A)
    assert (later.entries, later.events) == (1, 1)
    await applier.apply_pending()
    mirrored = await store.get_record(PORTAL_A, "contacts", cid)
    assert mirrored is not None and mirrored.properties["lastname"] == "Later"
    inbox = FeedInbox(stack.runtime.db)  # type: ignore[attr-defined]
    health = (await inbox.health([PORTAL_A]))[0]
    assert health.journal_offset == stack.sandbox.webhooks.journal_book.entries[-1].offset


async def test_an_expired_offset_is_a_gap_to_resync(stack: Stack) -> None:
    stack.sandbox.webhooks.configure(None)
    await api(
        stack, "POST", "/crm/objects/2026-03/contacts", {"properties": {"email": "gap@example.com"}}
    )
    gaps: list[int] = []
    p = poller(stack, gaps)
    assert (await p.poll_portal(PORTAL_A)).entries == 1
    stack.sandbox.webhooks.journal_book.entries.clear()  # the journal forgot (3 days passed)
    await api(
        stack,
        "POST",
        "/crm/objects/2026-03/contacts",
        {"properties": {"email": "gap2@example.com"}},
    )
    report = await p.poll_portal(PORTAL_A)
    assert report.gap and gaps == [PORTAL_A]
    # It starts again at the latest entry; the gap itself is the sync's to fill.
    newest = stack.sandbox.webhooks.journal_book.entries[-1].offset
    assert await FeedInbox(stack.runtime.db).journal_offset(PORTAL_A) == newest  # type: ignore[attr-defined]


def test_journal_events_map_to_the_webhook_shape() -> None:
    ev = to_webhook_event(
        {
            "portalId": 5,
            "occurredAt": 1,
            "action": "ASSOCIATION_REMOVED",
            "objectTypeId": "0-3",
            "objectId": 9,
            "associatedObjectId": 4,
        },
        "off-1",
        0,
    )
    assert ev is not None
    assert (ev.subscription_type, ev.from_object_id, ev.to_object_id, ev.association_removed) == (
        "deal.associationChange",
        9,
        4,
        True,
    )
    assert (
        to_webhook_event(
            {"portalId": 5, "occurredAt": 1, "action": "CREATE", "objectTypeId": "0-5"}, "o", 0
        )
        is None
    )
    assert (
        to_webhook_event({"action": "CREATE", "objectTypeId": "0-1"}, "o", 0) is None
    )  # no portal
    a = to_webhook_event(
        {"portalId": 5, "occurredAt": 1, "action": "CREATE", "objectTypeId": "0-1", "objectId": 1},
        "o",
        0,
    )
    b = to_webhook_event(
        {"portalId": 5, "occurredAt": 1, "action": "CREATE", "objectTypeId": "0-1", "objectId": 1},
        "o",
        1,
    )
    assert a is not None and b is not None and a.event_id != b.event_id
