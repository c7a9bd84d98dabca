"""Tenant isolation on every marketing route: no key → 401 before any plugin code; Bob using
Alice's ids or Alice's portal → 401/403/404, and nothing of Alice's changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from atom_hubspot.sandbox.config import DEMO_PORTAL_ID
from tests.marketing.conftest import Stack
from tests.marketing.test_openapi import ROUTES


async def _alices_things(stack: Stack) -> dict[str, str]:
    r = await stack.alice.post("/api/hubspot/lead-lists", json={"name": "Alice's list"})
    list_id = r.json()["data"]["id"]
    contact = next(c for c in stack.demo.records["contacts"].values() if not c.archived)
    await stack.alice.post(
        f"/api/hubspot/lead-lists/{list_id}/members", json={"contact_ids": [str(contact.id)]}
    )
    email_id = next(i for i, e in sorted(stack.demo.emails.items()) if e["isPublished"])
    r = await stack.alice.post(
        "/api/hubspot/send-email",
        json={
            "email_id": int(email_id),
            "emails": ["later@example.com"],
            "send_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        },
    )
    return {
        "campaign_id": next(iter(stack.demo.campaigns)),
        "list_id": list_id,
        "send_id": r.json()["data"]["scheduled"]["id"],
        "contact_id": str(contact.id),
        "email_id": str(email_id),
    }


def _url(path: str, ids: dict[str, str]) -> str:
    return "/api/hubspot" + path.format(**ids)


async def test_no_api_key_is_401_everywhere(stack: Stack) -> None:
    ids = {"campaign_id": "x", "list_id": "1", "send_id": "0" * 36, "email_id": "1"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.app), base_url="http://host"
    ) as anon:
        for method, path, _, has_body in ROUTES:
            r = await anon.request(
                method.upper(), _url(path, ids), json={"contact_ids": ["1"]} if has_body else None
            )
            assert r.status_code == 401, (method, path, r.status_code)
        r = await anon.get(
            "/api/hubspot/campaigns", headers={"Authorization": "Bearer wrong-key-0123456789"}
        )
        assert r.status_code == 401


async def test_bob_cannot_reach_alices_data(stack: Stack) -> None:
    ids = await _alices_things(stack)
    members_before = dict(stack.demo.lists[int(ids["list_id"])].members)
    body = {"contact_ids": [ids["contact_id"]]}
    for method, path, _, has_body in ROUTES:
        if "{" not in path:
            continue
        r = await stack.bob.request(
            method.upper(), _url(path, ids), json=body if has_body else None
        )
        assert r.status_code in (401, 403, 404), (method, path, r.status_code, r.text)
        assert r.json()["ok"] is False

    # Asking for Alice's portal by id: Bob has no connection to it.
    for method, path, _, has_body in ROUTES:
        if path.startswith(("/scheduled-sends", "/list-sends")) and method != "post":
            continue  # the caller's own rows; portal_id only filters them
        r = await stack.bob.request(
            method.upper(),
            _url(path, ids),
            params={"portal_id": DEMO_PORTAL_ID},
            json=body if has_body else None,
        )
        assert r.status_code in (401, 403, 404, 422), (method, path, r.status_code)
        if r.status_code == 401:
            assert r.json()["error"]["code"] == "not_connected"
    r = await stack.bob.get("/api/hubspot/scheduled-sends", params={"portal_id": DEMO_PORTAL_ID})
    assert r.json()["data"]["results"] == []
    r = await stack.bob.get("/api/hubspot/list-sends", params={"portal_id": DEMO_PORTAL_ID})
    assert r.json()["data"]["results"] == []

    # Nothing of Alice's changed.
    assert stack.demo.lists[int(ids["list_id"])].members == members_before
    r = await stack.alice.get(f"/api/hubspot/scheduled-sends/{ids['send_id']}")
    assert r.json()["data"]["status"] == "pending"
    assert stack.sandbox.sends() == []
    assert stack.bobs.lists == {} and stack.bobs.campaigns == {}
