"""Sending a marketing email to lead lists through the host: published by HubSpot (now or at a
time, cancelled by unpublishing), or fanned out one contact at a time by the plugin — durable,
resumed after its worker dies, never sending anyone twice."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from atom_hubspot.storage.list_sends import ListSendStore
from atom_hubspot.storage.models import ListSend
from tests.marketing.conftest import Stack, host_env, running_host


@pytest.fixture
async def fast(
    hubspot_env: dict[str, str], marketing_db_url: str, sandbox_app: Any
) -> AsyncIterator[Stack]:
    env = host_env(hubspot_env, marketing_db_url, HUBSPOT_SCHEDULER_INTERVAL="0.05")
    async with running_host(env, sandbox_app) as s:
        yield s


def _email(stack: Stack, *, automated: bool, published: bool) -> int:
    """A fresh email in the demo portal (copied from a seeded one)."""
    base = next(iter(stack.demo.emails.values()))
    new_id = max(stack.demo.emails) + 1
    e = copy.deepcopy(base)
    e.update(
        id=str(new_id),
        type="AUTOMATED_EMAIL" if automated else "BATCH_EMAIL",
        state=("AUTOMATED" if automated else "PUBLISHED") if published else "DRAFT",
        isPublished=published,
        _published_ts=None if automated or not published else 1.0,
    )
    e.pop("to", None)
    stack.demo.emails[new_id] = e
    return new_id


async def _lead_list(stack: Stack, name: str, n: int) -> tuple[str, list[str]]:
    r = await stack.alice.post("/api/hubspot/lead-lists", json={"name": name})
    lid = r.json()["data"]["id"]
    ids = [
        str(c.id)
        for c in stack.demo.records["contacts"].values()
        if c.properties.get("email") and not c.archived
    ][:n]
    r = await stack.alice.post(f"/api/hubspot/lead-lists/{lid}/members", json={"contact_ids": ids})
    assert r.status_code == 200, r.text
    return lid, ids


def _sends(stack: Stack, email_id: int) -> list[dict[str, Any]]:
    return [s for s in stack.sandbox.sends() if s["emailId"] == email_id]


async def _wait(stack: Stack, send_id: str, timeout_s: float = 20.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        r = await stack.alice.get(f"/api/hubspot/list-sends/{send_id}")
        data: dict[str, Any] = r.json()["data"]
        if data["status"] not in ("pending", "running"):
            return data
        assert asyncio.get_running_loop().time() < deadline, data
        await asyncio.sleep(0.05)


async def test_a_regular_email_is_published_to_the_lists_now(stack: Stack) -> None:
    lid, ids = await _lead_list(stack, "Launch", 3)
    eid = _email(stack, automated=False, published=False)
    r = await stack.alice.post("/api/hubspot/list-sends", json={"email_id": eid, "list_ids": [lid]})
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert (data["way"], data["status"], data["progress"]) == ("publish", "sent", None)
    assert sorted(s["contactId"] for s in _sends(stack, eid)) == sorted(ids)
    assert stack.demo.emails[eid]["to"]["contactIlsLists"]["include"] == [lid]
    # Sent once: a second request is a conflict, nothing more goes out.
    r = await stack.alice.post("/api/hubspot/list-sends", json={"email_id": eid, "list_ids": [lid]})
    assert r.status_code == 409 and len(_sends(stack, eid)) == 3


async def test_a_scheduled_publish_can_be_cancelled(stack: Stack) -> None:
    lid, _ = await _lead_list(stack, "Later", 2)
    eid = _email(stack, automated=False, published=False)
    at = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    r = await stack.alice.post(
        "/api/hubspot/list-sends", json={"email_id": eid, "list_ids": [lid], "send_at": at}
    )
    assert r.status_code == 201, r.text
    sid = r.json()["data"]["id"]
    assert r.json()["data"]["status"] == "scheduled"
    assert stack.demo.emails[eid]["state"] == "SCHEDULED" and _sends(stack, eid) == []
    r = await stack.alice.delete(f"/api/hubspot/list-sends/{sid}")
    assert r.status_code == 200 and r.json()["data"]["status"] == "cancelled"
    assert stack.demo.emails[eid]["state"] == "DRAFT"
    r = await stack.alice.delete(f"/api/hubspot/list-sends/{sid}")
    assert r.status_code == 409


async def test_publishing_needs_enterprise_or_the_add_on(stack: Stack) -> None:
    r = await stack.bob.post("/api/hubspot/lead-lists", json={"name": "Bob's"})
    lid = r.json()["data"]["id"]
    draft = _email(stack, automated=False, published=False)
    stack.bobs.emails[draft] = copy.deepcopy(stack.demo.emails[draft])
    r = await stack.bob.post("/api/hubspot/list-sends", json={"email_id": draft, "list_ids": [lid]})
    assert r.status_code == 403, r.text
    err = r.json()["error"]
    assert err["code"] == "hubspot_tier_required"
    assert "Marketing Hub Enterprise or the transactional email add-on" in err["message"]
    assert stack.bobs.emails[draft]["state"] == "DRAFT"


async def test_an_automated_email_fans_out_one_call_per_member(fast: Stack) -> None:
    lid, first = await _lead_list(fast, "Nurture", 4)
    lid2, second = await _lead_list(fast, "Overlap", 5)
    assert set(first) < set(second)  # the lists overlap: 5 distinct contacts
    eid = _email(fast, automated=True, published=True)
    r = await fast.alice.post(
        "/api/hubspot/list-sends", json={"email_id": eid, "list_ids": [lid, lid2]}
    )
    assert r.status_code == 202, r.text
    assert r.json()["data"]["way"] == "fan_out"
    done = await _wait(fast, r.json()["data"]["id"])
    assert done["status"] == "sent", done
    assert done["progress"]["total"] == done["progress"]["sent"] == len(set(first) | set(second))
    sent = _sends(fast, eid)
    assert sorted(s["to"] for s in sent) == sorted({s["to"] for s in sent})  # no one twice
    assert {s["kind"] for s in sent} == {"single_send"} and len(sent) == 5
    r = await fast.alice.get("/api/hubspot/list-sends", params={"limit": 1})
    page = r.json()["data"]
    assert len(page["results"]) == 1 and page["next_after"] is None and page["total"] is None


async def test_an_unpublished_automated_email_is_refused(stack: Stack) -> None:
    lid, _ = await _lead_list(stack, "Nope", 1)
    eid = _email(stack, automated=True, published=False)
    r = await stack.alice.post("/api/hubspot/list-sends", json={"email_id": eid, "list_ids": [lid]})
    assert r.status_code == 409 and "must be published" in r.json()["error"]["message"]


async def test_a_fan_out_whose_worker_died_resumes_without_resending(fast: Stack) -> None:
    lid, ids = await _lead_list(fast, "Resume", 5)
    eid = _email(fast, automated=True, published=True)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    r = await fast.alice.post(
        "/api/hubspot/list-sends", json={"email_id": eid, "list_ids": [lid], "send_at": later}
    )
    sid = r.json()["data"]["id"]
    # A worker claims it, lists the members, marks one as being sent, and dies.
    db = fast.runtime.db
    dead = ListSendStore(db, clock=lambda: datetime.now(UTC) + timedelta(hours=2))
    job = await dead.claim_due("dead-worker", timedelta(minutes=5))
    assert job is not None and job.id == sid
    await dead.add_recipients(sid, job.tenant_id, ids)
    in_flight = await dead.take_batch(sid, "dead-worker", 1)
    assert in_flight == [min(ids, key=int)]
    async with db.session(None) as s:  # its heartbeat stopped an hour ago
        await s.execute(
            sa.update(ListSend)
            .where(ListSend.id == sid)
            .values(claimed_at=datetime.now(UTC) - timedelta(hours=1))
        )
    done = await _wait(fast, sid)
    assert done["status"] == "partial", done
    assert (done["progress"]["sent"], done["progress"]["unknown"]) == (4, 1)
    sent_to = {s["contactId"] if "contactId" in s else s["to"] for s in _sends(fast, eid)}
    assert len(_sends(fast, eid)) == 4 and len(sent_to) == 4


async def test_a_pending_fan_out_can_be_cancelled(fast: Stack) -> None:
    lid, _ = await _lead_list(fast, "Stop", 3)
    eid = _email(fast, automated=True, published=True)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    r = await fast.alice.post(
        "/api/hubspot/list-sends", json={"email_id": eid, "list_ids": [lid], "send_at": later}
    )
    sid = r.json()["data"]["id"]
    r = await fast.alice.delete(f"/api/hubspot/list-sends/{sid}")
    assert r.status_code == 200 and r.json()["data"]["status"] == "cancelled"
    r = await fast.bob.get(f"/api/hubspot/list-sends/{sid}")
    assert r.status_code == 404  # another tenant's send does not exist for Bob
    assert _sends(fast, eid) == []
