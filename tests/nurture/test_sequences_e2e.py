"""Sequences end to end: listing a user's sequences, enrolling contacts one HubSpot call each
with a result per contact, the unenroll HubSpot does not offer (501), and tier and scope
refusals naming what is missing."""

from __future__ import annotations

import httpx

from atom_hubspot.sandbox.config import DEMO_PORTAL_ID, DEMO_USER_EMAIL, FaultConfig
from tests.marketing.conftest import Stack

from .conftest import NO_SCOPE_PORTAL_ID, SEQUENCE

SEQUENCES = "/api/hubspot/nurture/sequences"
ENROLL = f"{SEQUENCES}/{SEQUENCE}/enrollments"


async def new_contact(stack: Stack, email: str) -> str:
    r = await stack.alice.post("/api/hubspot/contacts", json={"email": email})
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


async def test_a_users_sequences_are_listed(stack: Stack) -> None:
    r = await stack.alice.get(SEQUENCES, params={"user_email": DEMO_USER_EMAIL})
    assert r.status_code == 200, r.text
    page = r.json()["data"]
    assert [s["id"] for s in page["results"]] == [SEQUENCE]
    assert page["results"][0]["name"] == "Demo request follow-up"
    assert page["total"] == 1 and page["next_after"] is None
    named = await stack.alice.get(SEQUENCES, params={"user_email": DEMO_USER_EMAIL, "name": "zzz"})
    assert named.json()["data"]["results"] == []


async def test_the_user_is_checked_and_named(stack: Stack) -> None:
    r = await stack.alice.get(SEQUENCES, params={"user_email": "someone@else.example"})
    assert r.status_code == 422
    assert r.json()["error"]["errors"][0]["field"] == "user_email"
    for bad in ({}, {"user_email": "not an email"}):
        r = await stack.alice.get(SEQUENCES, params=bad)
        assert r.status_code == 422 and r.json()["error"]["errors"][0]["field"] == "user_email"


async def test_enroll_gives_a_result_per_contact(stack: Stack) -> None:
    a = await new_contact(stack, "seq-a@example.com")
    b = await new_contact(stack, "seq-b@example.com")
    r = await stack.alice.post(
        ENROLL, json={"contact_ids": [a, b, a, "99999"], "sender_email": DEMO_USER_EMAIL}
    )
    assert r.status_code == 200, r.text
    res = r.json()["data"]
    assert res["sequence_name"] == "Demo request follow-up"
    assert (res["enrolled"], res["failed"], res["unknown"]) == (2, 1, 0)
    by_id = {o["contact_id"]: o for o in res["results"]}
    assert list(by_id) == [a, b, "99999"]  # a repeated id is enrolled once
    assert by_id[a]["status"] == "enrolled" and by_id[a]["to_email"] == "seq-a@example.com"
    assert by_id[a]["enrollment_id"]
    assert by_id["99999"]["status"] == "failed"
    assert by_id["99999"]["error"]["code"] == "not_found"
    held = [e["contactId"] for e in stack.demo.sequence_enrollments]
    assert held == [a, b]
    status = (
        await stack.alice.get(f"/api/hubspot/nurture/contacts/{a}/sequence-enrollment")
    ).json()
    assert status["data"]["enrolled"] is True
    assert status["data"]["sequence_id"] == SEQUENCE
    assert status["data"]["enrollment_id"] == by_id[a]["enrollment_id"]
    assert status["data"]["enrolled_by_email"] == DEMO_USER_EMAIL

    # HubSpot keeps a contact in one sequence at a time: enrolling again fails for it.
    again = (
        await stack.alice.post(ENROLL, json={"contact_ids": [a], "sender_email": DEMO_USER_EMAIL})
    ).json()["data"]
    assert again["results"][0]["status"] == "failed"
    assert "already enrolled" in again["results"][0]["error"]["message"]
    assert len(stack.demo.sequence_enrollments) == 2


async def test_an_enrollment_whose_answer_was_lost_is_unknown_and_not_repeated(
    stack: Stack,
) -> None:
    cid = await new_contact(stack, "seq-lost@example.com")
    stack.sandbox.set_faults(
        FaultConfig(script=["lost_answer"], paths=["/enrollments"], methods=["POST"])
    )
    r = await stack.alice.post(ENROLL, json={"contact_ids": [cid], "sender_email": DEMO_USER_EMAIL})
    assert r.status_code == 200, r.text
    res = r.json()["data"]
    assert res["unknown"] == 1 and res["results"][0]["status"] == "unknown"
    assert res["results"][0]["error"]["code"] == "outcome_unknown"
    # It reached HubSpot exactly once: the plugin did not send it again.
    assert [e["contactId"] for e in stack.demo.sequence_enrollments] == [cid]


async def test_enroll_input_is_checked(stack: Stack) -> None:
    r = await stack.alice.post(
        ENROLL, json={"contact_ids": ["1"], "sender_email": "stranger@else.example"}
    )
    assert r.status_code == 422
    assert r.json()["error"]["errors"][0]["field"] == "sender_email"
    unknown = await stack.alice.post(
        f"{SEQUENCES}/999/enrollments",
        json={"contact_ids": ["1"], "sender_email": DEMO_USER_EMAIL},
    )
    assert unknown.status_code == 404
    for body in (
        {"contact_ids": ["1"]},
        {"contact_ids": [], "sender_email": DEMO_USER_EMAIL},
        {"contact_ids": ["1"] * 101, "sender_email": DEMO_USER_EMAIL},
        {"contact_ids": ["-1"], "sender_email": DEMO_USER_EMAIL},
        {"contact_ids": ["1"], "sender_email": "no-at-sign"},
    ):
        r = await stack.alice.post(ENROLL, json=body)
        assert r.status_code == 422, body
    assert stack.demo.sequence_enrollments == []


async def test_unenroll_is_501_with_guidance_and_changes_nothing(stack: Stack) -> None:
    cid = await new_contact(stack, "seq-stay@example.com")
    await stack.alice.post(ENROLL, json={"contact_ids": [cid], "sender_email": DEMO_USER_EMAIL})
    calls = sum(stack.sandbox.calls.values())
    r = await stack.alice.delete(ENROLL)
    assert r.status_code == 501
    err = r.json()["error"]
    assert err["code"] == "not_supported_by_hubspot"
    assert "no unenroll endpoint" in err["message"] and "Unenroll" in err["message"]
    assert sum(stack.sandbox.calls.values()) == calls  # nothing was sent to HubSpot
    assert [e["contactId"] for e in stack.demo.sequence_enrollments] == [cid]


async def test_a_portal_without_a_sales_seat_gets_403_naming_it(stack: Stack) -> None:
    # Bob's portal has its user (an owner) but Sales Hub Starter.
    owner_email = stack.bobs.user_email
    for method, url, kw in (
        ("GET", SEQUENCES, {"params": {"user_email": owner_email}}),
        ("POST", ENROLL, {"json": {"contact_ids": ["1"], "sender_email": owner_email}}),
    ):
        r = await stack.bob.request(method, url, **kw)
        assert r.status_code == 403, r.text
        err = r.json()["error"]
        assert err["code"] == "hubspot_tier_required"
        assert "Sales Hub or Service Hub Professional" in err["details"]["required_tier"]


async def test_a_token_without_the_sequence_scopes_gets_403_naming_them(stack: Stack) -> None:
    portal = stack.sandbox.portals[NO_SCOPE_PORTAL_ID]
    r = await stack.alice.get(
        SEQUENCES, params={"user_email": portal.user_email, "portal_id": NO_SCOPE_PORTAL_ID}
    )
    assert r.status_code == 403, r.text
    err = r.json()["error"]
    assert err["code"] == "missing_scopes"
    assert err["details"]["required_scopes"] == ["automation.sequences.read"]


async def test_a_seat_taken_away_at_run_time_is_refused_and_given_back_works(
    stack: Stack,
) -> None:
    """The sandbox's admin API changes the demo portal's Sales Hub tier while the host runs."""
    admin = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.sandbox_app), base_url="http://sandbox"
    )
    url = f"/_sandbox/portals/{DEMO_PORTAL_ID}"
    params = {"user_email": DEMO_USER_EMAIL}
    async with admin:
        changed = await admin.patch(url, json={"sales_tier": "starter"})
        assert changed.json()["salesTier"] == "starter"
        refused = await stack.alice.get(SEQUENCES, params=params)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "hubspot_tier_required"
        await admin.patch(url, json={"sales_tier": "professional"})
        assert (await stack.alice.get(SEQUENCES, params=params)).status_code == 200
        bad = await admin.patch(url, json={"sales_tier": "platinum"})
        assert bad.status_code == 400 and "sales_tier" in bad.json()["message"]


async def test_a_contact_in_no_sequence_and_an_unknown_contact(stack: Stack) -> None:
    cid = await new_contact(stack, "seq-none@example.com")
    url = "/api/hubspot/nurture/contacts/{}/sequence-enrollment"
    r = await stack.alice.get(url.format(cid))
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {
        "contact_id": cid,
        "enrolled": False,
        "enrollment_id": None,
        "sequence_id": None,
        "sequence_name": None,
        "to_email": None,
        "enrolled_by_email": None,
        "enrolled_at": None,
    }
    unknown = await stack.alice.get(url.format("99999"))
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    bad = await stack.alice.get(url.format("x1"))
    assert bad.status_code == 422 and bad.json()["error"]["errors"][0]["field"] == "contact_id"
