"""The sandbox delivers its changes as HubSpot does: signed batches of at most 100 events,
retried on failure with the attempt number, and edits "as a user" arrive like any change."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response

from atom_hubspot.feed.signature import verify
from atom_hubspot.sandbox import SandboxConfig
from atom_hubspot.sandbox.config import DEMO_PORTAL_ID
from atom_hubspot.sandbox.testing import SANDBOX_BASE_URL, sandbox_transport

TOKEN = "pat-na1-webhook-test"  # noqa: S105 - known to this sandbox only
SECRET = "sandbox-client-secret"  # noqa: S105 - the sandbox's fake secret
TARGET = "http://receiver.local/webhooks/hubspot"


class Receiver:
    """An ASGI webhook target that checks each delivery's v3 signature with the plugin's
    verifier and fails the first `fail_first` deliveries."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.deliveries: list[list[dict[str, Any]]] = []
        self.refused = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        body = await request.body()
        verify(
            secret=SECRET,
            method="POST",
            uri=str(request.url),
            body=body,
            headers={k.lower(): v for k, v in request.headers.items()},
            now_ms=int(time.time() * 1000),
        )
        if self.fail_first > 0:
            self.fail_first -= 1
            self.refused += 1
            await Response(status_code=503)(scope, receive, send)
            return
        self.deliveries.append(json.loads(body))
        await Response(status_code=204)(scope, receive, send)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [e for batch in self.deliveries for e in batch]


def setup(receiver: Receiver, **kw: Any) -> tuple[httpx.AsyncClient, Any]:
    transport = sandbox_transport(
        SandboxConfig(private_app_tokens={TOKEN: DEMO_PORTAL_ID}, requests_per_10s=None, **kw)
    )
    sandbox = transport.app.state.sandbox  # type: ignore[attr-defined]
    sandbox.webhooks.configure(TARGET, transport=httpx.ASGITransport(app=receiver))
    client = httpx.AsyncClient(
        transport=transport,
        base_url=SANDBOX_BASE_URL,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    return client, sandbox


async def test_changes_arrive_signed_and_in_hubspots_event_shape() -> None:
    receiver = Receiver()
    api, sandbox = setup(receiver)
    async with api:
        made = await api.post(
            "/crm/objects/2026-03/contacts",
            json={"properties": {"email": "hook@example.com", "firstname": "Hook"}},
        )
        cid = int(made.json()["id"])
        await api.patch(
            f"/crm/objects/2026-03/contacts/{cid}", json={"properties": {"firstname": "Ada"}}
        )
        company = (
            await api.post("/crm/objects/2026-03/companies", json={"properties": {"name": "Acme"}})
        ).json()
        await api.put(
            f"/crm/objects/2026-03/contacts/{cid}/associations/default/companies/{company['id']}"
        )
        await api.delete(f"/crm/objects/2026-03/contacts/{cid}")
        await sandbox.webhooks.flush()
    kinds = [(e["subscriptionType"], e.get("objectId")) for e in receiver.events]
    assert kinds[0] == ("contact.creation", cid)
    assert ("contact.propertyChange", cid) in kinds
    change = next(e for e in receiver.events if e["subscriptionType"] == "contact.propertyChange")
    assert (change["propertyName"], change["propertyValue"]) == ("firstname", "Ada")
    assoc = next(e for e in receiver.events if e["subscriptionType"] == "contact.associationChange")
    assert assoc["associationType"] == "CONTACT_TO_COMPANY"
    assert (assoc["fromObjectId"], assoc["toObjectId"]) == (cid, int(company["id"]))
    assert assoc["associationRemoved"] is False
    assert kinds[-1] == ("contact.deletion", cid)
    ids = [e["eventId"] for e in receiver.events]
    assert len(ids) == len(set(ids))
    assert all(
        e["portalId"] == DEMO_PORTAL_ID and e["changeSource"] == "API" for e in receiver.events
    )


async def test_batches_hold_at_most_100_events() -> None:
    receiver = Receiver()
    api, sandbox = setup(receiver)
    async with api:
        for round_ in range(3):
            inputs = [{"properties": {"email": f"b{round_}-{i}@example.com"}} for i in range(100)]
            r = await api.post(
                "/crm/objects/2026-03/contacts/batch/create", json={"inputs": inputs}
            )
            assert r.status_code in (200, 201), r.text
        await sandbox.webhooks.flush()
    assert len(receiver.events) == 300
    assert max(len(batch) for batch in receiver.deliveries) <= 100


async def test_failed_deliveries_are_retried_with_the_attempt_number() -> None:
    receiver = Receiver(fail_first=2)
    api, sandbox = setup(receiver, webhook_retry_base_s=0.01)
    async with api:
        await api.post(
            "/crm/objects/2026-03/contacts", json={"properties": {"email": "r@example.com"}}
        )
        await sandbox.webhooks.flush()
        deadline = time.monotonic() + 5
        while not receiver.deliveries and time.monotonic() < deadline:
            await sandbox.webhooks.flush()
    assert receiver.refused == 2
    assert [e["attemptNumber"] for e in receiver.events] == [2]
    assert sandbox.webhooks.status()["failed_attempts"] == 2


async def test_gives_up_after_max_attempts() -> None:
    receiver = Receiver(fail_first=100)
    api, sandbox = setup(receiver, webhook_retry_base_s=0.0, webhook_max_attempts=3)
    async with api:
        await api.post(
            "/crm/objects/2026-03/contacts", json={"properties": {"email": "g@example.com"}}
        )
        for _ in range(20):
            await sandbox.webhooks.flush()
    status = sandbox.webhooks.status()
    assert (receiver.refused, status["dropped_batches"], status["pending_batches"]) == (3, 1, 0)


async def test_edit_as_a_user_in_hubspot_arrives_as_crm_ui_change() -> None:
    receiver = Receiver()
    api, sandbox = setup(receiver)
    async with api:
        cid = (
            await api.post(
                "/crm/objects/2026-03/contacts", json={"properties": {"email": "u@example.com"}}
            )
        ).json()["id"]
        r = await api.patch(
            f"/_sandbox/portals/{DEMO_PORTAL_ID}/objects/contacts/{cid}",
            json={"properties": {"lastname": "Lovelace"}},
        )
        assert r.status_code == 200, r.text
        bad = await api.patch(f"/_sandbox/portals/{DEMO_PORTAL_ID}/objects/contacts/{cid}", json={})
        assert bad.status_code == 400
        await sandbox.webhooks.flush()
    edit = receiver.events[-1]
    assert (edit["subscriptionType"], edit["propertyName"], edit["propertyValue"]) == (
        "contact.propertyChange",
        "lastname",
        "Lovelace",
    )
    assert edit["changeSource"] == "CRM_UI"


async def test_without_a_target_changes_are_only_journaled() -> None:
    transport = sandbox_transport(SandboxConfig(private_app_tokens={TOKEN: DEMO_PORTAL_ID}))
    sandbox = transport.app.state.sandbox  # type: ignore[attr-defined]
    async with httpx.AsyncClient(
        transport=transport, base_url=SANDBOX_BASE_URL, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as api:
        await api.post(
            "/crm/objects/2026-03/contacts", json={"properties": {"email": "j@example.com"}}
        )
    status = sandbox.webhooks.status()
    assert (status["pending_batches"], status["journal_events"]) == (0, 1)
