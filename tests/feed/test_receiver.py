"""`POST /webhooks/hubspot` through the host with the plugin: signed deliveries are stored once,
anything forged, stale, replayed, oversized or malformed is refused and stores nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from atom_hubspot.feed.signature import sign_v3
from atom_hubspot.storage.models import FeedEvent, FeedHealth
from tests.api.conftest import PORTAL_A, PORTAL_B, Stack, running_stack
from tests.conftest import SANDBOX_CLIENT_SECRET

URL = "http://host.local/webhooks/hubspot"
WRONG_SECRET = "not-the-secret"  # noqa: S105 - a wrong key on purpose


def event(event_id: int, portal_id: int = PORTAL_A, **kw: Any) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 1,
        "portalId": portal_id,
        "appId": 1,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0,
        "objectId": 101,
        "changeSource": "CRM",
        "propertyName": "firstname",
        "propertyValue": "Ada",
        **kw,
    }


async def deliver(
    stack: Stack,
    events: list[dict[str, Any]] | bytes,
    *,
    ts: int | None = None,
    secret: str = SANDBOX_CLIENT_SECRET,
    uri: str = URL,
) -> httpx.Response:
    body = events if isinstance(events, bytes) else json.dumps(events).encode()
    ts = int(time.time() * 1000) if ts is None else ts
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": sign_v3(secret, "POST", uri, body, ts),
        "X-HubSpot-Request-Timestamp": str(ts),
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.app), base_url="http://host.local"
    ) as c:
        return await c.post("/webhooks/hubspot", content=body, headers=headers)


async def stored(stack: Stack) -> list[FeedEvent]:
    async with stack.runtime.db.session(read_only=True) as s:  # type: ignore[attr-defined]
        return list((await s.execute(sa.select(FeedEvent).order_by(FeedEvent.id))).scalars())


async def test_signed_delivery_is_stored_once_and_redelivery_is_deduplicated(stack: Stack) -> None:
    first = await deliver(stack, [event(1), event(2, objectId=102)])
    assert first.status_code == 204, first.text
    rows = await stored(stack)
    assert [(r.event_id, r.status, r.object_type, r.object_id) for r in rows] == [
        (1, "pending", "contacts", 101),
        (2, "pending", "contacts", 102),
    ]
    assert rows[0].payload["propertyValue"] == "Ada"
    # HubSpot retries a delivery it thinks failed: new timestamp, same events.
    again = await deliver(stack, [event(1), event(2, objectId=102), event(3)])
    assert again.status_code == 204
    assert [r.event_id for r in await stored(stack)] == [1, 2, 3]


async def test_forged_stale_and_replayed_deliveries_get_401_and_store_nothing(
    stack: Stack,
) -> None:
    assert (await deliver(stack, [event(1)], secret=WRONG_SECRET)).status_code == 401
    stale = int(time.time() * 1000) - 6 * 60 * 1000
    assert (await deliver(stack, [event(2)], ts=stale)).status_code == 401
    wrong_uri = await deliver(stack, [event(3)], uri="https://elsewhere.example/webhooks/hubspot")
    assert wrong_uri.status_code == 401
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.app), base_url="http://host.local"
    ) as c:
        unsigned = await c.post("/webhooks/hubspot", json=[event(4)])
    assert unsigned.status_code == 401
    assert unsigned.json()["error"]["code"] == "signature_missing"
    assert await stored(stack) == []

    # A captured good delivery sent again, byte for byte, is a replay.
    body = json.dumps([event(5)]).encode()
    ts = int(time.time() * 1000)
    assert (await deliver(stack, body, ts=ts)).status_code == 204
    replay = await deliver(stack, body, ts=ts)
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "replayed"
    assert [r.event_id for r in await stored(stack)] == [5]
    async with stack.runtime.db.session(read_only=True) as s:  # type: ignore[attr-defined]
        health = await s.get(FeedHealth, 0)
    assert health is not None and health.signature_failures == 5
    assert health.last_signature_failure == "replayed"


async def test_events_of_unknown_portals_are_counted_not_stored(stack: Stack) -> None:
    unknown = 99_999_999
    answer = await deliver(stack, [event(1, portal_id=unknown), event(2, portal_id=PORTAL_B)])
    assert answer.status_code == 204
    assert [(r.portal_id, r.event_id) for r in await stored(stack)] == [(PORTAL_B, 2)]
    async with stack.runtime.db.session(read_only=True) as s:  # type: ignore[attr-defined]
        health = await s.get(FeedHealth, unknown)
    assert health is not None
    assert (health.events_received, health.events_unknown_portal) == (1, 1)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"[" + b'{"a":1},' * 40_000 + b"{}]", 413),  # past the 256 KiB bound
        (b"not json", 400),
        (b'{"eventId": 1}', 400),  # an object, not HubSpot's array
        (json.dumps([{"eventId": 1, "portalId": 1}]).encode(), 400),  # fields missing
        (json.dumps([event(i) for i in range(101)]).encode(), 400),  # > 100 events
        (b'[{"eventId": NaN}]', 400),
    ],
)
async def test_signed_but_unusable_bodies_are_refused(
    stack: Stack, body: bytes, status: int
) -> None:
    answer = await deliver(stack, body)
    assert answer.status_code == status, answer.text
    assert "Traceback" not in answer.text
    assert await stored(stack) == []


async def test_configured_public_url_is_what_the_signature_covers(
    hubspot_env: dict[str, str], sqlite_url: str, migrated_template: Path
) -> None:
    public = "https://atom.example.com/hooks/hubspot?install=eu"
    env = {**hubspot_env, "HUBSPOT_WEBHOOK_URL": public}
    async with running_stack(env, sqlite_url, migrated_template) as st:
        assert (await deliver(st, [event(1)], uri=public)).status_code == 204
        assert (await deliver(st, [event(2)])).status_code == 401
