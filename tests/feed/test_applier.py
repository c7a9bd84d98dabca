"""From a change in the sandbox to the mirror: the sandbox delivers signed webhooks to the host,
the inbox keeps them, the applier reads the changed records back and writes them to the mirror.
Duplicates and disorder leave the mirror equal to HubSpot's state; merges, deletions and
privacy deletions land; a poison event is parked without blocking the others."""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

import httpx
import sqlalchemy as sa

from atom_hubspot.feed.applier import FeedApplier
from atom_hubspot.feed.signature import sign_v3
from atom_hubspot.storage.feed import FeedInbox
from atom_hubspot.storage.mirror import MirrorStore
from atom_hubspot.storage.models import FeedEvent
from tests.api.conftest import PORTAL_A, PRINCIPALS, Stack
from tests.conftest import SANDBOX_CLIENT_SECRET

HOOK = "http://host.local/webhooks/hubspot"


async def wire(stack: Stack, *, disorder: float = 0.0) -> tuple[FeedApplier, MirrorStore, Any]:
    """Sandbox deliveries go to the host app; the test's own applier (the runtime's background
    one is stopped, so each round is the test's to run) reads through Alice's connection."""
    runtime: Any = stack.runtime
    await runtime.feed.aclose()
    hooks = stack.sandbox.webhooks
    hooks.configure(HOOK, transport=httpx.ASGITransport(app=stack.app))
    hooks.disorder = disorder
    store = MirrorStore(runtime.db)

    async def client_for(portal_id: int) -> Any:
        client, _ = await runtime.connections.client_for(PRINCIPALS["alice"], portal_id)
        return client

    return FeedApplier(FeedInbox(runtime.db), store, client_for), store, runtime


async def api(stack: Stack, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """A change made in HubSpot (the sandbox) by someone else's integration."""
    token = next(t for t, g in stack.sandbox.access_tokens.items() if g.portal_id == PORTAL_A)
    async with httpx.AsyncClient(transport=stack.transport, base_url="http://sandbox.local") as c:
        r = await c.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code < 300, r.text
    return r.json() if r.content else None


async def settle(stack: Stack, applier: FeedApplier) -> None:
    await stack.sandbox.webhooks.flush()
    while (await applier.apply_pending()).applied:
        pass


def hubspot_state(stack: Stack, object_type: str, rid: int) -> dict[str, str] | None:
    rec = stack.sandbox.portals[PORTAL_A].records[object_type].get(rid)
    return None if rec is None or rec.archived else dict(rec.properties)


async def test_a_change_in_hubspot_reaches_the_mirror(stack: Stack) -> None:
    applier, store, _ = await wire(stack)
    made = await api(
        stack,
        "POST",
        "/crm/objects/2026-03/contacts",
        {"properties": {"email": "feed@example.com", "firstname": "Feed"}},
    )
    cid = int(made["id"])
    await api(
        stack,
        "PATCH",
        f"/_sandbox/portals/{PORTAL_A}/objects/contacts/{cid}",
        {"properties": {"firstname": "Ada"}},
    )
    await settle(stack, applier)
    mirrored = await store.get_record(PORTAL_A, "contacts", cid)
    assert mirrored is not None
    assert mirrored.properties["firstname"] == "Ada"
    assert mirrored.properties["email"] == "feed@example.com"
    await api(stack, "DELETE", f"/crm/objects/2026-03/contacts/{cid}")
    await settle(stack, applier)
    assert await store.get_record(PORTAL_A, "contacts", cid) is None


async def test_duplicates_and_disorder_leave_the_mirror_equal_to_hubspot(stack: Stack) -> None:
    applier, store, _ = await wire(stack, disorder=0.5)
    rng = random.Random(7)
    ids = []
    for i in range(8):
        made = await api(
            stack,
            "POST",
            "/crm/objects/2026-03/contacts",
            {"properties": {"email": f"d{i}@example.com"}},
        )
        ids.append(int(made["id"]))
    for n in range(40):
        cid = rng.choice(ids)
        await api(
            stack,
            "PATCH",
            f"/crm/objects/2026-03/contacts/{cid}",
            {"properties": {"firstname": f"v{n}", "lastname": rng.choice(["A", "B", ""])}},
        )
    await api(stack, "DELETE", f"/crm/objects/2026-03/contacts/{ids[0]}")
    await settle(stack, applier)
    status = stack.sandbox.webhooks.status()
    assert status["delivered_batches"] > 0
    for cid in ids:
        expected = hubspot_state(stack, "contacts", cid)
        mirrored = await store.get_record(PORTAL_A, "contacts", cid)
        if expected is None:
            assert mirrored is None
        else:
            assert mirrored is not None, cid
            # HubSpot answers null for a property asked for that has no value.
            assert {k: v for k, v in mirrored.properties.items() if v is not None} == expected


async def deliver(stack: Stack, events: list[dict[str, Any]]) -> None:
    body = json.dumps(events).encode()
    ts = int(time.time() * 1000)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.app), base_url="http://host.local"
    ) as c:
        r = await c.post(
            "/webhooks/hubspot",
            content=body,
            headers={
                "X-HubSpot-Signature-v3": sign_v3(SANDBOX_CLIENT_SECRET, "POST", HOOK, body, ts),
                "X-HubSpot-Request-Timestamp": str(ts),
                "Content-Type": "application/json",
            },
        )
    assert r.status_code == 204, r.text


def event(event_id: int, subscription_type: str, **kw: Any) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "portalId": PORTAL_A,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": subscription_type,
        "attemptNumber": 0,
        **kw,
    }


async def test_merge_privacy_deletion_and_a_poison_event(stack: Stack) -> None:
    applier, store, runtime = await wire(stack)
    a = int(
        (
            await api(
                stack,
                "POST",
                "/crm/objects/2026-03/contacts",
                {"properties": {"email": "keep@example.com"}},
            )
        )["id"]
    )
    b = int(
        (
            await api(
                stack,
                "POST",
                "/crm/objects/2026-03/contacts",
                {"properties": {"email": "dupe@example.com"}},
            )
        )["id"]
    )
    c = int(
        (
            await api(
                stack,
                "POST",
                "/crm/objects/2026-03/contacts",
                {"properties": {"email": "forget@example.com"}},
            )
        )["id"]
    )
    await settle(stack, applier)
    assert all([await store.get_record(PORTAL_A, "contacts", i) for i in (a, b, c)])

    await deliver(
        stack,
        [
            event(
                9_000_001,
                "contact.merge",
                objectId=a,
                primaryObjectId=a,
                mergedObjectIds=[b],
                newObjectId=a,
            ),
            event(9_000_002, "contact.privacyDeletion", objectId=c),
            event(9_000_003, "contact.merge", objectId=a),  # no merged ids: cannot be applied
        ],
    )
    report = await applier.apply_pending()
    assert (report.applied, report.parked) == (2, 1)
    survivor = await store.get_record(PORTAL_A, "contacts", b)
    assert survivor is not None and survivor.id == a  # the merged id resolves to the survivor
    assert await store.get_record(PORTAL_A, "contacts", c) is None
    async with runtime.db.session(read_only=True) as s:
        parked = (
            (await s.execute(sa.select(FeedEvent).where(FeedEvent.status == "parked")))
            .scalars()
            .all()
        )
        purged = await s.execute(
            sa.text("SELECT count(*) FROM hubspot_mirror_records WHERE record_id = :c"), {"c": c}
        )
    assert [p.event_id for p in parked] == [9_000_003]
    assert parked[0].error and "mergedObjectIds" in parked[0].error
    assert purged.scalar() == 0  # purged, not merely archived

    # The poison event does not hold up what comes after it.
    await api(
        stack, "PATCH", f"/crm/objects/2026-03/contacts/{a}", {"properties": {"firstname": "After"}}
    )
    await settle(stack, applier)
    after = await store.get_record(PORTAL_A, "contacts", a)
    assert after is not None and after.properties["firstname"] == "After"


async def test_serve_applies_the_feed_by_itself_and_reports_it(stack: Stack) -> None:
    """No test-driven rounds: the runtime's own feed (it holds the feed lease) applies the
    deliveries, and the sync status and the health check show the feed."""
    runtime: Any = stack.runtime
    stack.sandbox.webhooks.configure(HOOK, transport=httpx.ASGITransport(app=stack.app))
    cid = int(
        (
            await api(
                stack,
                "POST",
                "/crm/objects/2026-03/contacts",
                {"properties": {"email": "bg@example.com"}},
            )
        )["id"]
    )
    await api(
        stack,
        "PATCH",
        f"/_sandbox/portals/{PORTAL_A}/objects/contacts/{cid}",
        {"properties": {"firstname": "Background"}},
    )
    await stack.sandbox.webhooks.flush()
    store = MirrorStore(runtime.db)
    deadline = time.monotonic() + 10
    mirrored = None
    while time.monotonic() < deadline:
        mirrored = await store.get_record(PORTAL_A, "contacts", cid)
        if mirrored is not None and mirrored.properties.get("firstname") == "Background":
            break
        await asyncio.sleep(0.05)
    assert mirrored is not None and mirrored.properties.get("firstname") == "Background"
    async with stack.client("alice") as c:
        while time.monotonic() < deadline:  # settled just after the mirror was written
            status = (await c.get("/api/hubspot/sync")).json()["data"]["portals"][0]
            if status["feed"]["pending"] == 0:
                break
            await asyncio.sleep(0.05)
    assert status["feed"]["mode"] == "push"
    assert status["feed"]["last_event_at"] is not None
    assert status["feed"]["pending"] == 0 and status["feed"]["parked"] == 0
