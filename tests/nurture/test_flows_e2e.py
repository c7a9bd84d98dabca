"""Workflows end to end: host → plugin → client → sandbox. Listing with state and triggers,
enrolling and unenrolling through the list a workflow enrolls from, performance, and every
refusal (workflow off, no list trigger, tier, scope) with what it names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from atom_hubspot.sandbox.config import DEMO_PORTAL_ID
from tests.marketing.conftest import Stack

from .conftest import (
    NO_SCOPE_PORTAL_ID,
    NURTURE_FLOW,
    ONBOARDING_FLOW,
    RoutedTransport,
)

FLOWS = "/api/hubspot/nurture/flows"


def enrollments(flow_id: str) -> str:
    return f"{FLOWS}/{flow_id}/enrollments"


async def new_contact(stack: Stack, email: str) -> str:
    r = await stack.alice.post("/api/hubspot/contacts", json={"email": email})
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


def nurture_list(stack: Stack) -> Any:
    return stack.demo.lists[1]


async def test_flows_list_with_state_type_and_triggers_and_pages(stack: Stack) -> None:
    r = await stack.alice.get(FLOWS)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["meta"]["portal_id"] == DEMO_PORTAL_ID
    flows = {f["id"]: f for f in body["data"]["results"]}
    assert set(flows) == {NURTURE_FLOW, ONBOARDING_FLOW}
    nurture, onboarding = flows[NURTURE_FLOW], flows[ONBOARDING_FLOW]
    assert (nurture["enabled"], nurture["state"]) == (True, "enabled")
    assert (onboarding["enabled"], onboarding["state"]) == (False, "disabled")
    assert nurture["object_type_id"] == "0-1" and nurture["flow_type"] == "WORKFLOW"
    assert nurture["enrollment"]["type"] == "LIST_BASED"
    assert nurture["enrollment"]["list_ids"] == ["1"]
    assert nurture["enrollment"]["unenrolls_when_criteria_unmet"] is True
    # A property condition is a trigger, but no list whose membership alone enrolls.
    assert onboarding["enrollment"]["type"] == "LIST_BASED"
    assert onboarding["enrollment"]["list_ids"] == []
    assert body["data"]["total"] is None

    first = (await stack.alice.get(FLOWS, params={"limit": 1})).json()["data"]
    assert len(first["results"]) == 1 and first["next_after"]
    second = (
        await stack.alice.get(FLOWS, params={"limit": 1, "after": first["next_after"]})
    ).json()["data"]
    assert second["next_after"] is None
    assert {first["results"][0]["id"], second["results"][0]["id"]} == set(flows)


async def test_one_flow_and_bad_or_unknown_ids(stack: Stack) -> None:
    one = (await stack.alice.get(f"{FLOWS}/{NURTURE_FLOW}")).json()["data"]
    assert one["name"] == "Newsletter nurture"
    assert one["enrollment"]["criteria"]["listFilterBranch"]["filterBranchType"] == "OR"
    missing = await stack.alice.get(f"{FLOWS}/123")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    bad = await stack.alice.get(f"{FLOWS}/abc")
    assert bad.status_code == 422
    assert bad.json()["error"]["errors"][0]["field"] == "flow_id"


async def test_enroll_adds_to_the_enrollment_list_and_unenroll_removes(stack: Stack) -> None:
    cid = await new_contact(stack, "nurture-me@example.com")
    r = await stack.alice.post(enrollments(NURTURE_FLOW), json={"contact_ids": [cid, "99999"]})
    assert r.status_code == 200, r.text
    res = r.json()["data"]
    assert (res["action"], res["list_id"]) == ("enroll", "1")
    assert res["added"] == [cid] and res["missing"] == ["99999"]
    assert [f["id"] for f in res["feeds_flows"]] == [NURTURE_FLOW]
    assert res["feeds_flows_complete"] is True
    assert int(cid) in nurture_list(stack).members  # HubSpot's list holds it now

    again = (await stack.alice.post(enrollments(NURTURE_FLOW), json={"contact_ids": [cid]})).json()
    assert again["data"]["unchanged"] == [cid] and again["data"]["added"] == []

    out = await stack.alice.request(
        "DELETE", enrollments(NURTURE_FLOW), json={"contact_ids": [cid]}
    )
    assert out.status_code == 200, out.text
    assert out.json()["data"]["removed"] == [cid]
    assert int(cid) not in nurture_list(stack).members


async def test_the_answer_names_every_workflow_the_list_feeds(stack: Stack) -> None:
    twin = dict(stack.demo.flows[NURTURE_FLOW], id="585051999", name="Second nurture")
    stack.demo.flows["585051999"] = twin
    cid = await new_contact(stack, "twice@example.com")
    res = (await stack.alice.post(enrollments(NURTURE_FLOW), json={"contact_ids": [cid]})).json()
    assert [f["id"] for f in res["data"]["feeds_flows"]] == [NURTURE_FLOW, "585051999"]


async def test_refusals_name_why_and_change_nothing(stack: Stack) -> None:
    cid = await new_contact(stack, "refused@example.com")
    before = dict(nurture_list(stack).members)

    # A workflow without a list-membership trigger: HubSpot has no direct enroll call.
    r = await stack.alice.post(enrollments(ONBOARDING_FLOW), json={"contact_ids": [cid]})
    assert r.status_code == 409
    assert "does not enroll by list membership" in r.json()["error"]["message"]

    # A workflow that is off would not enroll the contacts added to its list.
    stack.demo.flows[NURTURE_FLOW]["isEnabled"] = False
    r = await stack.alice.post(enrollments(NURTURE_FLOW), json={"contact_ids": [cid]})
    assert r.status_code == 409 and "is off" in r.json()["error"]["message"]
    stack.demo.flows[NURTURE_FLOW]["isEnabled"] = True

    # A list the workflow does not enroll from.
    r = await stack.alice.post(
        enrollments(NURTURE_FLOW), json={"contact_ids": [cid], "list_id": "3"}
    )
    assert r.status_code == 422
    assert r.json()["error"]["errors"] == [
        {"field": "list_id", "message": "not a list the workflow enrolls from"}
    ]

    # Leaving the list does not unenroll when the workflow keeps contacts enrolled.
    crit = stack.demo.flows[NURTURE_FLOW]["enrollmentCriteria"]
    crit["unEnrollObjectsNotMeetingCriteria"] = False
    r = await stack.alice.request("DELETE", enrollments(NURTURE_FLOW), json={"contact_ids": [cid]})
    assert r.status_code == 409 and "keeps contacts enrolled" in r.json()["error"]["message"]
    crit["unEnrollObjectsNotMeetingCriteria"] = True

    # A DYNAMIC list's members come from its filters: nothing can be added by hand.
    crit["listFilterBranch"]["filterBranches"][0]["filters"][0]["listId"] = "2"
    r = await stack.alice.post(enrollments(NURTURE_FLOW), json={"contact_ids": [cid]})
    assert r.status_code == 409 and "DYNAMIC" in r.json()["error"]["message"]

    # A workflow of companies.
    stack.demo.flows[ONBOARDING_FLOW]["objectTypeId"] = "0-2"
    r = await stack.alice.post(enrollments(ONBOARDING_FLOW), json={"contact_ids": [cid]})
    assert r.status_code == 409 and r.json()["error"]["details"]["object_type_id"] == "0-2"

    assert nurture_list(stack).members == before


async def test_several_enrollment_lists_need_a_list_id(stack: Stack) -> None:
    branch = stack.demo.flows[NURTURE_FLOW]["enrollmentCriteria"]["listFilterBranch"]
    branch["filterBranches"].append(
        {
            "filterBranchType": "AND",
            "filterBranchOperator": "AND",
            "filterBranches": [],
            "filters": [{"filterType": "IN_LIST", "listId": "3", "operator": "IN_LIST"}],
        }
    )
    cid = await new_contact(stack, "two-lists@example.com")
    r = await stack.alice.post(enrollments(NURTURE_FLOW), json={"contact_ids": [cid]})
    assert r.status_code == 422
    assert r.json()["error"]["errors"][0]["field"] == "list_id"
    ok = await stack.alice.post(
        enrollments(NURTURE_FLOW), json={"contact_ids": [cid], "list_id": "3"}
    )
    assert ok.status_code == 200 and ok.json()["data"]["list_id"] == "3"
    assert int(cid) in stack.demo.lists[3].members


async def test_performance_counts_enrollments_and_list_sizes(stack: Stack) -> None:
    today = datetime.now(UTC).date()
    perf_url = f"{FLOWS}/{NURTURE_FLOW}/performance"
    params = {"start_date": today.isoformat(), "end_date": today.isoformat()}
    before = (await stack.alice.get(perf_url, params=params)).json()["data"]
    cids = [await new_contact(stack, f"perf{i}@example.com") for i in range(3)]
    await stack.alice.post(enrollments(NURTURE_FLOW), json={"contact_ids": cids})
    r = await stack.alice.get(perf_url, params=params)
    assert r.status_code == 200, r.text
    report = r.json()["data"]
    assert report["source"] == "hubspot" and report["bucket"] == "day"
    assert report["totals"]["ENROLLED"] == before["totals"].get("ENROLLED", 0) + 3
    assert report["series"] == [
        {"series": "ENROLLED", "bucket": today.isoformat(), "count": report["totals"]["ENROLLED"]}
    ]
    sizes = report["enrollment_lists"]
    assert [(s["list_id"], s["name"]) for s in sizes] == [("1", "Newsletter subscribers")]
    assert sizes[0]["size"] == len(nurture_list(stack).members)
    assert any("now" in n for n in report["notes"])

    monthly = (
        await stack.alice.get(
            perf_url,
            params={
                "bucket": "month",
                "start_date": (today - timedelta(days=365)).isoformat(),
                "end_date": today.isoformat(),
            },
        )
    ).json()["data"]
    assert all(p["bucket"].endswith("-01") for p in monthly["series"])
    assert monthly["totals"]["ENROLLED"] >= 3

    # The onboarding workflow is off: HubSpot reports no enrollments, and it has no list.
    off = (await stack.alice.get(f"{FLOWS}/{ONBOARDING_FLOW}/performance")).json()["data"]
    assert off["totals"] == {} and off["enrollment_lists"] == []


async def test_performance_says_unavailable_when_hubspot_does_not_answer_it(
    stack: Stack, transport: RoutedTransport
) -> None:
    transport.answers[f"/flows/performance/{NURTURE_FLOW}"] = (
        404,
        {"status": "error", "message": "Not found", "category": "OBJECT_NOT_FOUND"},
    )
    r = await stack.alice.get(f"{FLOWS}/{NURTURE_FLOW}/performance")
    assert r.status_code == 200, r.text
    report = r.json()["data"]
    assert report["source"] == "unavailable"
    assert report["totals"] == {} and report["series"] == []  # absent, never made up as zero
    assert report["enrollment_lists"][0]["size"] == len(nurture_list(stack).members)
    assert any("did not answer" in n for n in report["notes"])
    # An unknown workflow is still a 404: the workflow is read before its performance.
    assert (await stack.alice.get(f"{FLOWS}/123/performance")).status_code == 404


async def test_performance_range_is_checked(stack: Stack) -> None:
    url = f"{FLOWS}/{NURTURE_FLOW}/performance"
    r = await stack.alice.get(url, params={"start_date": "2026-05-02", "end_date": "2026-05-01"})
    assert r.status_code == 422 and r.json()["error"]["errors"][0]["field"] == "end_date"
    r = await stack.alice.get(url, params={"start_date": "2024-01-01", "end_date": "2026-01-01"})
    assert r.status_code == 422 and r.json()["error"]["errors"][0]["field"] == "start_date"
    r = await stack.alice.get(url, params={"bucket": "hour"})
    assert r.status_code == 422 and r.json()["error"]["errors"][0]["field"] == "bucket"


async def test_a_portal_without_workflows_gets_403_naming_the_tier(stack: Stack) -> None:
    for method, url, body in (
        ("GET", FLOWS, None),
        ("GET", f"{FLOWS}/{NURTURE_FLOW}", None),
        ("POST", enrollments(NURTURE_FLOW), {"contact_ids": ["1"]}),
    ):
        r = await stack.bob.request(method, url, json=body)
        assert r.status_code == 403, (url, r.text)
        err = r.json()["error"]
        assert err["code"] == "hubspot_tier_required"
        assert "Professional" in err["details"]["required_tier"]
        assert "needs Marketing Hub Professional" in err["message"]


async def test_a_token_without_the_automation_scope_gets_403_naming_it(stack: Stack) -> None:
    r = await stack.alice.get(FLOWS, params={"portal_id": NO_SCOPE_PORTAL_ID})
    assert r.status_code == 403, r.text
    err = r.json()["error"]
    assert err["code"] == "missing_scopes"
    assert err["details"]["required_scopes"] == ["automation"]
    assert "automation" in err["message"]


async def test_contact_ids_are_checked_before_anything_is_sent(stack: Stack) -> None:
    calls = sum(stack.sandbox.calls.values())
    for body in (
        {"contact_ids": []},
        {"contact_ids": ["1x"]},
        {"contact_ids": ["1"] * 1001},
        {"contact_ids": ["1"], "list_id": "one"},
        {"contact_ids": ["1"], "extra": True},
    ):
        r = await stack.alice.post(enrollments(NURTURE_FLOW), json=body)
        assert r.status_code == 422, body
        assert r.json()["error"]["code"] == "invalid_input"
    assert sum(stack.sandbox.calls.values()) == calls


async def test_a_change_made_is_reported_even_when_the_other_workflows_cannot_be_read(
    stack: Stack, transport: RoutedTransport
) -> None:
    # Listing the portal's workflows fails after the list has changed (HubSpot down for it).
    transport.answers["/automation/v4/flows"] = (
        503,
        {"status": "error", "message": "Service unavailable", "category": "INTERNAL_ERROR"},
    )
    cid = await new_contact(stack, "partial@example.com")
    r = await stack.alice.post(enrollments(NURTURE_FLOW), json={"contact_ids": [cid]})
    assert r.status_code == 200, r.text
    res = r.json()["data"]
    assert res["added"] == [cid] and int(cid) in nurture_list(stack).members
    assert [f["id"] for f in res["feeds_flows"]] == [NURTURE_FLOW]
    assert res["feeds_flows_complete"] is False
