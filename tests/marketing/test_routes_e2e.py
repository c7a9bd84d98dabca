"""Campaign, lead-list and email routes end to end: stub host → plugin → client → sandbox.

Each test checks the answer and what changed in the sandbox's state (or that nothing did)."""

from __future__ import annotations

import copy
from typing import Any

from atom_hubspot.service.lead_lists import Segment, segment_filter_branch
from tests.marketing.conftest import BOB_PORTAL_ID, Stack

# --------------------------------------------------------------------------- campaigns


async def test_campaigns_page_create_and_read(stack: Stack) -> None:
    seen: list[str] = []
    after: str | None = None
    for _ in range(20):
        params: dict[str, Any] = {"limit": 2} | ({"after": after} if after else {})
        r = await stack.alice.get("/api/hubspot/campaigns", params=params)
        assert r.status_code == 200, r.text
        page = r.json()["data"]
        assert len(page["results"]) <= 2
        seen += [c["id"] for c in page["results"]]
        after = page["next_after"]
        if after is None:
            break
    assert sorted(seen) == sorted(stack.demo.campaigns)

    body = {
        "name": "Black Friday",
        "start_date": "2026-11-27",
        "end_date": "2026-11-30",
        "notes": "Door-buster offers",
    }
    r = await stack.alice.post("/api/hubspot/campaigns", json=body)
    assert r.status_code == 201, r.text
    created = r.json()["data"]
    assert (created["name"], created["start_date"], created["end_date"], created["notes"]) == (
        "Black Friday",
        "2026-11-27",
        "2026-11-30",
        "Door-buster offers",
    )
    stored = stack.demo.campaigns[created["id"]]
    assert stored.properties["hs_name"] == "Black Friday"
    assert stored.properties["hs_start_date"] == "2026-11-27"

    r = await stack.alice.get(f"/api/hubspot/campaigns/{created['id']}")
    assert r.status_code == 200 and r.json()["data"]["name"] == "Black Friday"
    r = await stack.alice.get("/api/hubspot/campaigns/00000000-0000-0000-0000-000000000000")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


async def test_duplicate_campaign_name_is_a_conflict(stack: Stack) -> None:
    r = await stack.alice.post("/api/hubspot/campaigns", json={"name": "Twice"})
    assert r.status_code == 201, r.text
    before = set(stack.demo.campaigns)
    r = await stack.alice.post("/api/hubspot/campaigns", json={"name": "twice"})
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "conflict"
    assert set(stack.demo.campaigns) == before


async def test_lead_lists_page_with_after(stack: Stack) -> None:
    for i in range(3):
        r = await stack.alice.post("/api/hubspot/lead-lists", json={"name": f"Paged {i}"})
        assert r.status_code == 201, r.text
    seen: list[str] = []
    after: str | None = None
    for _ in range(50):
        params: dict[str, Any] = {"limit": 2, "query": "Paged"}
        params |= {"after": after} if after else {}
        r = await stack.alice.get("/api/hubspot/lead-lists", params=params)
        assert r.status_code == 200, r.text
        page = r.json()["data"]
        assert page["total"] == 3 and len(page["results"]) <= 2
        seen += [x["name"] for x in page["results"]]
        after = page["next_after"]
        if after is None:
            break
    assert sorted(seen) == ["Paged 0", "Paged 1", "Paged 2"]
    r = await stack.alice.get("/api/hubspot/lead-lists", params={"after": "not-a-cursor"})
    assert r.status_code == 422 and r.json()["error"]["errors"][0]["field"] == "after"


async def test_campaign_bad_input_changes_nothing(stack: Stack) -> None:
    before = set(stack.demo.campaigns)
    cases = [
        ({"start_date": "2026-11-27"}, "name"),
        ({"name": ""}, "name"),
        ({"name": "X", "start_date": "27/11/2026"}, "start_date"),
        ({"name": "X", "start_date": "2026-12-01", "end_date": "2026-11-01"}, "end_date"),
        ({"name": "X", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        r = await stack.alice.post("/api/hubspot/campaigns", json=body)
        assert r.status_code == 422, (body, r.text)
        err = r.json()["error"]
        assert err["code"] == "invalid_input"
        assert field in [e["field"] for e in err["errors"]], (body, err)
    assert set(stack.demo.campaigns) == before


async def test_campaigns_need_marketing_hub_professional(stack: Stack) -> None:
    r = await stack.bob.get("/api/hubspot/campaigns")
    assert r.status_code == 403
    err = r.json()["error"]
    assert err["code"] == "hubspot_tier_required"
    assert err["details"]["required_tier"] == "Marketing Hub Professional"
    assert "Marketing Hub Professional" in err["message"]
    r = await stack.bob.post("/api/hubspot/campaigns", json={"name": "Nope"})
    assert r.status_code == 403 and stack.bobs.campaigns == {}
    # Alice's campaign id through Bob's connection: refused, and Alice's data untouched.
    cid = next(iter(stack.demo.campaigns))
    r = await stack.bob.get(f"/api/hubspot/campaigns/{cid}")
    assert r.status_code in (403, 404)


# --------------------------------------------------------------------------- lead lists


def _contact_ids(stack: Stack, n: int) -> list[str]:
    return [
        str(r.id)
        for r in sorted(stack.demo.records["contacts"].values(), key=lambda r: r.id)
        if not r.archived
    ][:n]


async def test_manual_lead_list_membership(stack: Stack) -> None:
    r = await stack.alice.post("/api/hubspot/lead-lists", json={"name": "Webinar leads"})
    assert r.status_code == 201, r.text
    lst = r.json()["data"]
    assert lst["processing_type"] == "MANUAL" and lst["object_type_id"] == "0-1"
    lid = lst["id"]
    members = stack.demo.lists[int(lid)].members
    a, b, c = _contact_ids(stack, 3)

    r = await stack.alice.post(
        f"/api/hubspot/lead-lists/{lid}/members", json={"contact_ids": [a, b, "999999999"]}
    )
    assert r.status_code == 200, r.text
    res = r.json()["data"]
    assert (sorted(res["added"]), res["missing"], res["unchanged"]) == (
        sorted([a, b]),
        ["999999999"],
        [],
    )
    assert {str(i) for i in members} == {a, b}

    r = await stack.alice.post(
        f"/api/hubspot/lead-lists/{lid}/members", json={"contact_ids": [a, c]}
    )
    res = r.json()["data"]
    assert (res["added"], res["unchanged"]) == ([c], [a])

    ids: list[str] = []
    after = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 2} | ({"after": after} if after else {})
        r = await stack.alice.get(f"/api/hubspot/lead-lists/{lid}/members", params=params)
        assert r.status_code == 200, r.text
        ids += r.json()["data"]["results"]
        after = r.json()["data"]["next_after"]
        if not after:
            break
    assert sorted(ids) == sorted([a, b, c])

    r = await stack.alice.request(
        "DELETE", f"/api/hubspot/lead-lists/{lid}/members", json={"contact_ids": [a, "999999999"]}
    )
    assert r.status_code == 200, r.text
    res = r.json()["data"]
    assert (res["removed"], res["missing"], res["unchanged"]) == ([a], ["999999999"], [])
    assert {str(i) for i in members} == {b, c}

    # An existing contact that is not a member: unchanged, not missing.
    r = await stack.alice.request(
        "DELETE", f"/api/hubspot/lead-lists/{lid}/members", json={"contact_ids": [a, b]}
    )
    res = r.json()["data"]
    assert (res["removed"], res["missing"], res["unchanged"]) == ([b], [], [a])
    assert {str(i) for i in members} == {c}
    r = await stack.alice.post(f"/api/hubspot/lead-lists/{lid}/members", json={"contact_ids": [b]})
    assert r.json()["data"]["added"] == [b]
    r = await stack.alice.get(f"/api/hubspot/lead-lists/{lid}")
    assert r.status_code == 200 and r.json()["data"]["size"] == 2

    r = await stack.alice.get("/api/hubspot/lead-lists", params={"query": "Webinar leads"})
    assert lid in [x["id"] for x in r.json()["data"]["results"]]


async def test_lead_list_bad_input_and_other_tenant_change_nothing(stack: Stack) -> None:
    r = await stack.alice.post("/api/hubspot/lead-lists", json={"name": "Fixed"})
    lid = r.json()["data"]["id"]
    members = stack.demo.lists[int(lid)].members
    [a] = _contact_ids(stack, 1)
    for body, field in [
        ({"contact_ids": ["abc"]}, "contact_ids.0"),
        ({"contact_ids": []}, "contact_ids"),
        ({"ids": [a]}, "contact_ids"),
    ]:
        r = await stack.alice.post(f"/api/hubspot/lead-lists/{lid}/members", json=body)
        assert r.status_code == 422, r.text
        assert field in [e["field"] for e in r.json()["error"]["errors"]]
    assert members == {}

    r = await stack.alice.post("/api/hubspot/lead-lists", json={"name": "Fixed"})
    assert r.status_code == 409  # HubSpot list names are unique

    # Bob's connection is to another portal: Alice's list id does not exist there.
    r = await stack.bob.post(f"/api/hubspot/lead-lists/{lid}/members", json={"contact_ids": [a]})
    assert r.status_code == 404
    r = await stack.bob.get(f"/api/hubspot/lead-lists/{lid}")
    assert r.status_code == 404
    r = await stack.bob.request(
        "DELETE", f"/api/hubspot/lead-lists/{lid}/members", json={"contact_ids": [a]}
    )
    assert r.status_code == 404
    assert members == {} and stack.bobs.lists == {}


async def test_dynamic_lead_list_from_a_segment(stack: Stack) -> None:
    segment = {
        "match": "all",
        "conditions": [
            {"property": "lifecyclestage", "operator": "in", "value": ["customer", "evangelist"]},
            {"property": "city", "operator": "known"},
        ],
    }
    r = await stack.alice.post(
        "/api/hubspot/lead-lists",
        json={"name": "Happy customers", "processing_type": "DYNAMIC", "segment": segment},
    )
    assert r.status_code == 201, r.text
    lst = r.json()["data"]
    assert lst["processing_type"] == "DYNAMIC"
    stored = stack.demo.lists[int(lst["id"])]
    assert stored.filter_branch == segment_filter_branch(Segment.model_validate(segment))
    assert stored.filter_branch["filterBranchType"] == "OR"
    [and_branch] = stored.filter_branch["filterBranches"]
    assert [f["operation"]["operationType"] for f in and_branch["filters"]] == [
        "ENUMERATION",
        "ALL_PROPERTY",
    ]

    # HubSpot decides the members: the seeded customers and evangelists with a city.
    want = sorted(
        str(c.id)
        for c in stack.demo.records["contacts"].values()
        if not c.archived
        and c.properties.get("lifecyclestage") in ("customer", "evangelist")
        and c.properties.get("city")
    )
    r = await stack.alice.get(f"/api/hubspot/lead-lists/{lst['id']}/members", params={"limit": 100})
    assert sorted(r.json()["data"]["results"]) == want and want

    # Members cannot be added by hand to a DYNAMIC list: 422, nothing changed.
    r = await stack.alice.post(
        f"/api/hubspot/lead-lists/{lst['id']}/members", json={"contact_ids": [want[0]]}
    )
    assert r.status_code == 422 and "DYNAMIC" in r.json()["error"]["message"]


async def test_segment_validation(stack: Stack) -> None:
    before = set(stack.demo.lists)
    cases = [
        ({"name": "A", "processing_type": "DYNAMIC"}, "segment"),
        (
            {"name": "B", "segment": {"conditions": [{"property": "city", "operator": "known"}]}},
            "segment",
        ),
        (
            {
                "name": "C",
                "processing_type": "DYNAMIC",
                "segment": {
                    "conditions": [
                        {"property": "numberofemployees", "operator": "gt", "value": "many"}
                    ]
                },
            },
            "segment.conditions.0.value",
        ),
        (
            {
                "name": "D",
                "processing_type": "DYNAMIC",
                "segment": {"conditions": [{"property": "city", "operator": "like", "value": "x"}]},
            },
            "segment.conditions.0.operator",
        ),
        (
            {"name": "E", "processing_type": "DYNAMIC", "segment": {"conditions": []}},
            "segment.conditions",
        ),
        ({"name": "F", "processing_type": "SNAPSHOT"}, "processing_type"),
    ]
    for body, field in cases:
        r = await stack.alice.post("/api/hubspot/lead-lists", json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in [e["field"] for e in r.json()["error"]["errors"]], (body, r.json())
    assert set(stack.demo.lists) == before


async def test_dynamic_list_on_an_unknown_property_is_refused_naming_it(stack: Stack) -> None:
    before = set(stack.demo.lists)
    segment = {
        "conditions": [
            {"property": "lifecyclestage", "operator": "eq", "value": "lead"},
            {"property": "favourite_colour", "operator": "eq", "value": "blue"},
        ]
    }
    r = await stack.alice.post(
        "/api/hubspot/lead-lists",
        json={"name": "Blue", "processing_type": "DYNAMIC", "segment": segment},
    )
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert "favourite_colour" in err["message"]
    assert [e["field"] for e in err["errors"]] == ["segment.conditions.1.property"]
    assert set(stack.demo.lists) == before


# --------------------------------------------------------------------------- email


async def test_email_templates_are_the_sendable_marketing_emails(stack: Stack) -> None:
    r = await stack.alice.get("/api/hubspot/email-templates", params={"limit": 100})
    assert r.status_code == 200, r.text
    got = {e["id"] for e in r.json()["data"]["results"]}
    assert got == {str(i) for i, e in stack.demo.emails.items() if e["isPublished"]}
    r = await stack.alice.get(
        "/api/hubspot/email-templates", params={"limit": 100, "include_unpublished": "true"}
    )
    assert {e["id"] for e in r.json()["data"]["results"]} == {str(i) for i in stack.demo.emails}
    assert len(got) < len(stack.demo.emails)  # the seed has drafts, which are left out


def _published_email(stack: Stack) -> int:
    return next(int(i) for i, e in sorted(stack.demo.emails.items()) if e["isPublished"])


def _contacts_with_email(stack: Stack, n: int) -> list[Any]:
    return [
        c
        for c in sorted(stack.demo.records["contacts"].values(), key=lambda r: r.id)
        if not c.archived and c.properties.get("email")
    ][:n]


async def test_send_now_one_call_per_recipient_with_results(stack: Stack) -> None:
    eid = _published_email(stack)
    c1, c2 = _contacts_with_email(stack, 2)
    body = {
        "email_id": eid,
        "contact_ids": [str(c1.id), str(c2.id), "999999999"],
        "emails": ["ada@example.com", "bounce@example.com", c1.properties["email"].upper()],
        "contact_properties": {"firstname": "Ada"},
    }
    r = await stack.alice.post("/api/hubspot/send-email", json=body)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["mode"] == "sent" and data["scheduled"] is None
    s = data["summary"]
    assert [(x["status"], (x["error"] or {}).get("code")) for x in s["results"]] == [
        ("sent", None),
        ("sent", None),
        ("skipped", "not_found"),
        ("sent", None),
        ("failed", "send_refused"),
        ("skipped", "duplicate"),
    ]
    assert (s["requested"], s["sent"], s["failed"], s["skipped"], s["unknown"]) == (6, 3, 1, 2, 0)
    assert s["results"][4]["send_result"] == "PREVIOUSLY_BOUNCED"

    sends = stack.sandbox.sends(stack.demo.portal_id)
    assert sorted(x["to"] for x in sends) == sorted(
        [c1.properties["email"], c2.properties["email"], "ada@example.com", "bounce@example.com"]
    )
    assert all(
        x["emailId"] == eid and x["contactProperties"] == {"firstname": "Ada"} for x in sends
    )
    assert len({x["sendId"] for x in sends}) == 4  # HubSpot's per-send dedup key, one each


async def test_send_bad_input_sends_nothing(stack: Stack) -> None:
    eid = _published_email(stack)
    cases = [
        ({"email_id": eid}, "contact_ids"),
        ({"email_id": eid, "emails": ["not-an-address"]}, "emails.0"),
        ({"email_id": eid, "contact_ids": ["12x"]}, "contact_ids.0"),
        ({"contact_ids": ["1"]}, "email_id"),
        ({"email_id": eid, "emails": ["a@example.com"], "send_at": "tomorrow"}, "send_at"),
        (
            {"email_id": eid, "emails": ["a@example.com"], "send_at": "2099-01-01T09:00:00"},
            "send_at",
        ),
        ({"email_id": eid, "emails": ["a@example.com"], "bcc": "x"}, "bcc"),
    ]
    for body, field in cases:
        r = await stack.alice.post("/api/hubspot/send-email", json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in [e["field"] for e in r.json()["error"]["errors"]], (body, r.json())
    r = await stack.alice.post(
        "/api/hubspot/send-email", json={"email_id": 424242, "emails": ["a@example.com"]}
    )
    assert r.status_code == 404
    assert stack.sandbox.sends() == []
    r = await stack.alice.get("/api/hubspot/scheduled-sends")
    assert r.json()["data"]["results"] == []


async def test_sending_a_draft_is_refused_up_front(stack: Stack) -> None:
    draft = next(int(i) for i, e in stack.demo.emails.items() if not e["isPublished"])
    for send_at in (None, "2099-01-01T09:00:00Z"):
        body: dict[str, Any] = {"email_id": draft, "emails": ["a@example.com"]}
        if send_at:
            body["send_at"] = send_at
        r = await stack.alice.post("/api/hubspot/send-email", json=body)
        assert r.status_code == 409, r.text
        err = r.json()["error"]
        assert err["code"] == "conflict" and "must be published" in err["message"]
    assert stack.sandbox.sends() == []
    r = await stack.alice.get("/api/hubspot/scheduled-sends")
    assert r.json()["data"]["results"] == []


async def test_send_needs_marketing_hub_enterprise(stack: Stack) -> None:
    eid = _published_email(stack)
    stack.bobs.emails[eid] = copy.deepcopy(stack.demo.emails[eid])  # the same email in Bob's
    r = await stack.bob.post(
        "/api/hubspot/send-email",
        json={"email_id": eid, "emails": ["a@example.com", "b@example.com"]},
    )
    assert r.status_code == 403, r.text
    err = r.json()["error"]
    assert err["code"] == "hubspot_tier_required"
    assert "Marketing Hub Enterprise" in err["message"]
    assert stack.sandbox.sends() == []


async def test_send_with_a_past_send_at_goes_now(stack: Stack) -> None:
    eid = _published_email(stack)
    r = await stack.alice.post(
        "/api/hubspot/send-email",
        json={"email_id": eid, "emails": ["now@example.com"], "send_at": "2020-01-01T00:00:00Z"},
    )
    assert r.status_code == 200 and r.json()["data"]["mode"] == "sent"
    assert [x["to"] for x in stack.sandbox.sends()] == ["now@example.com"]
    assert BOB_PORTAL_ID not in {x["portalId"] for x in stack.sandbox.sends()}
