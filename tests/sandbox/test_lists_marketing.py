"""Lists, campaigns, marketing emails and sends — both path styles."""

from __future__ import annotations

import re

import httpx
import pytest

from atom_hubspot.sandbox.core import Sandbox

from .conftest import assert_error_shape

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


async def test_list_create_get_search(api: httpx.AsyncClient, p: dict[str, str]):
    r = await api.post(
        p["lists"], json={"name": "VIPs", "objectTypeId": "0-1", "processingType": "MANUAL"}
    )
    assert r.status_code == 200, r.text
    lst = r.json()["list"]
    assert lst["name"] == "VIPs" and lst["processingType"] == "MANUAL" and lst["size"] == 0
    assert isinstance(lst["listId"], str)
    dup = await api.post(
        p["lists"], json={"name": "vips", "objectTypeId": "0-1", "processingType": "MANUAL"}
    )
    assert dup.status_code == 409
    assert_error_shape(dup.json())
    got = await api.get(f"{p['lists']}/{lst['listId']}")
    assert got.json()["list"]["listId"] == lst["listId"]
    found = await api.post(f"{p['lists']}/search", json={"query": "vip", "count": 10})
    body = found.json()
    assert body["total"] == 1 and body["lists"][0]["name"] == "VIPs"
    assert set(body) >= {"lists", "total", "offset", "hasMore"}
    every = await api.post(f"{p['lists']}/search", json={"count": 2, "offset": 0})
    assert every.json()["hasMore"] is True and every.json()["total"] == 4
    assert (await api.get(f"{p['lists']}/999")).status_code == 404
    assert (await api.delete(f"{p['lists']}/{lst['listId']}")).status_code == 204
    assert (await api.get(f"{p['lists']}/{lst['listId']}")).status_code == 404


async def test_memberships_add_remove_and_paging(api: httpx.AsyncClient, p: dict[str, str]):
    lst = (
        await api.post(
            p["lists"], json={"name": "Members", "objectTypeId": "0-1", "processingType": "MANUAL"}
        )
    ).json()["list"]
    ids = [
        o["id"]
        for o in (await api.get(f"{p['objects']}/contacts", params={"limit": 5})).json()["results"]
    ]
    base = f"{p['lists']}/{lst['listId']}/memberships"
    r = await api.put(f"{base}/add", json=[*ids, "999999999"])
    assert r.status_code == 200
    assert r.json()["recordsIdsAdded"] == ids  # (sic)
    assert r.json()["recordIdsMissing"] == ["999999999"]
    not_array = await api.put(f"{base}/add", json={"ids": ids})
    assert not_array.status_code == 400
    r = await api.put(f"{base}/remove", json=ids[:2])
    assert r.json()["recordIdsRemoved"] == ids[:2]
    r = await api.put(
        f"{base}/add-and-remove", json={"recordIdsToAdd": ids[:1], "recordIdsToRemove": ids[4:]}
    )
    assert r.json()["recordsIdsAdded"] == ids[:1] and r.json()["recordIdsRemoved"] == ids[4:]
    seen, after = [], None
    while True:
        params = {"limit": 1, **({"after": after} if after else {})}
        page = (await api.get(base, params=params)).json()
        seen += [m["recordId"] for m in page["results"]]
        after = page.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    assert sorted(seen) == sorted([ids[2], ids[3], ids[0]])
    assert (await api.get(f"{p['lists']}/{lst['listId']}")).json()["list"]["size"] == 3


async def test_dynamic_lists_refuse_manual_changes(api: httpx.AsyncClient, p: dict[str, str]):
    branch = {
        "filterBranchType": "OR",
        "filters": [],
        "filterBranches": [
            {
                "filterBranchType": "AND",
                "filterBranches": [],
                "filters": [
                    {
                        "filterType": "PROPERTY",
                        "property": "lifecyclestage",
                        "operation": {
                            "operationType": "ENUMERATION",
                            "operator": "IS_ANY_OF",
                            "values": ["lead"],
                        },
                    }
                ],
            }
        ],
    }
    r = await api.post(
        p["lists"],
        json={
            "name": "Leads",
            "objectTypeId": "0-1",
            "processingType": "DYNAMIC",
            "filterBranch": branch,
        },
    )
    lst = r.json()["list"]
    leads = await api.post(
        f"{p['objects']}/contacts/search",
        json={
            "limit": 1,
            "filterGroups": [
                {"filters": [{"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"}]}
            ],
        },
    )
    assert lst["size"] == leads.json()["total"] > 0
    r = await api.put(f"{p['lists']}/{lst['listId']}/memberships/add", json=["1001"])
    assert r.status_code == 400
    snap = await api.post(
        p["lists"],
        json={
            "name": "Leads then",
            "objectTypeId": "0-1",
            "processingType": "SNAPSHOT",
            "filterBranch": branch,
        },
    )
    assert snap.json()["list"]["size"] == lst["size"]
    r = await api.put(
        f"{p['lists']}/{snap.json()['list']['listId']}/memberships/remove", json=["1001"]
    )
    assert r.status_code == 200


def one_filter_branch(prop: str, values: list[str]) -> dict:
    """A filter branch with one MULTISTRING IS_EQUAL_TO filter on `prop`."""
    operation = {"operationType": "MULTISTRING", "operator": "IS_EQUAL_TO", "values": values}
    return {
        "filterBranchType": "OR",
        "filters": [],
        "filterBranches": [
            {
                "filterBranchType": "AND",
                "filterBranches": [],
                "filters": [{"filterType": "PROPERTY", "property": prop, "operation": operation}],
            }
        ],
    }


async def test_a_list_filter_on_an_unknown_property_is_refused(
    api: httpx.AsyncClient, p: dict[str, str]
):
    branch = one_filter_branch("no_such_property", ["x"])
    body = {"name": "Nothing", "objectTypeId": "0-1", "processingType": "DYNAMIC"}
    r = await api.post(p["lists"], json={**body, "filterBranch": branch})
    assert r.status_code == 400
    assert "no_such_property" in r.json()["errors"][0]["message"]
    found = await api.post(f"{p['lists']}/search", json={"query": "Nothing"})
    assert found.json()["total"] == 0


async def test_dynamic_list_multistring_filters_match_any_of_their_values(
    api: httpx.AsyncClient, p: dict[str, str]
):
    # MULTISTRING operations carry a `values` array, not one `value` (HubSpot's list filters).
    branch = one_filter_branch("lifecyclestage", ["lead", "customer"])
    r = await api.post(
        p["lists"],
        json={
            "name": "Leads or customers",
            "objectTypeId": "0-1",
            "processingType": "DYNAMIC",
            "filterBranch": branch,
        },
    )
    size = r.json()["list"]["size"]
    found = await api.post(
        f"{p['objects']}/contacts/search",
        json={
            "limit": 1,
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "lifecyclestage",
                            "operator": "IN",
                            "values": ["lead", "customer"],
                        }
                    ]
                }
            ],
        },
    )
    assert size == found.json()["total"] > 0


async def test_campaigns_crud_and_metrics(api: httpx.AsyncClient, p: dict[str, str]):
    listed = await api.get(p["campaigns"], params={"limit": 2})
    assert listed.status_code == 200
    assert len(listed.json()["results"]) == 2 and listed.json()["paging"]["next"]["after"]
    assert all(GUID.match(c["id"]) for c in listed.json()["results"])
    r = await api.post(
        p["campaigns"],
        json={
            "properties": {
                "hs_name": "Launch 2027",
                "hs_start_date": "2027-01-01",
                "hs_end_date": "2027-02-01",
                "hs_notes": "n",
            }
        },
    )
    assert r.status_code == 201, r.text
    guid = r.json()["id"]
    assert GUID.match(guid) and r.json()["properties"]["hs_name"] == "Launch 2027"
    assert (await api.get(f"{p['campaigns']}/{guid}")).json()["id"] == guid
    upd = await api.patch(f"{p['campaigns']}/{guid}", json={"properties": {"hs_notes": "x"}})
    assert upd.json()["properties"]["hs_notes"] == "x"
    named = await api.get(p["campaigns"], params={"name": "launch 20"})
    assert [c["id"] for c in named.json()["results"]] == [guid]
    m = await api.get(
        f"{p['campaigns']}/{guid}/reports/metrics",
        params={"startDate": "2027-01-01", "endDate": "2027-01-31"},
    )
    assert m.status_code == 200
    assert set(m.json()) == {
        "sessions",
        "newContactsFirstTouch",
        "newContactsLastTouch",
        "influencedContacts",
    }
    assert all(isinstance(v, int) for v in m.json().values())
    bad = await api.get(f"{p['campaigns']}/{guid}/reports/metrics", params={"startDate": "jan"})
    assert bad.status_code == 400
    assert (await api.delete(f"{p['campaigns']}/{guid}")).status_code == 204
    assert (await api.get(f"{p['campaigns']}/{guid}")).status_code == 404


async def test_campaigns_need_marketing_professional(
    api: httpx.AsyncClient, p: dict[str, str], sandbox: Sandbox
):
    sandbox.portals[1234567].marketing_tier = "starter"
    r = await api.get(p["campaigns"])
    assert r.status_code == 403
    assert_error_shape(r.json())
    assert "Professional" in r.json()["message"]


async def test_marketing_emails_and_statistics(api: httpx.AsyncClient, p: dict[str, str]):
    r = await api.get(p["emails"], params={"limit": 5, "includeStats": "true"})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 12 and len(body["results"]) == 5
    first = body["results"][0]
    assert first["id"].isdigit() and "stats" in first and "counters" in first["stats"]
    drafts = await api.get(p["emails"], params={"isPublished": "false"})
    assert drafts.json()["total"] == 2
    one = await api.get(f"{p['emails']}/{first['id']}")
    assert one.json()["name"] == first["name"]
    stats = await api.get(
        f"{p['emails']}/statistics/list",
        params={
            "startTimestamp": "2000-01-01T00:00:00Z",
            "endTimestamp": "2100-01-01T00:00:00Z",
            "emailIds": first["id"],
        },
    )
    assert stats.status_code == 200
    assert stats.json()["emails"] == [int(first["id"])]  # integers, as HubSpot has them
    assert stats.json()["aggregate"]["counters"]["sent"] == first["stats"]["counters"]["sent"]


@pytest.mark.parametrize("kind", ["single_send", "transactional"])
async def test_sends_are_recorded(
    api: httpx.AsyncClient,
    p: dict[str, str],
    sandbox: Sandbox,
    client: httpx.AsyncClient,
    kind: str,
):
    email_id = 100_000_001
    r = await api.post(
        p[kind],
        json={
            "emailId": email_id,
            "message": {"to": "reader@example.com", "sendId": "s-1"},
            "contactProperties": {"firstname": "Rea"},
            "customProperties": {"code": "X1"},
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "COMPLETE" and body["sendResult"] == "SENT"
    assert body["statusId"] and body["requestedAt"].endswith("Z")
    again = await api.post(
        p[kind],
        json={"emailId": email_id, "message": {"to": "reader@example.com", "sendId": "s-1"}},
    )
    assert again.json()["sendResult"] == "IDEMPOTENT_IGNORE"
    bounced = await api.post(
        p[kind], json={"emailId": email_id, "message": {"to": "bounce@example.com"}}
    )
    assert bounced.json()["sendResult"] == "PREVIOUSLY_BOUNCED"
    recorded = (await client.get("/_sandbox/sends")).json()
    assert recorded["total"] == 2
    assert recorded["results"][0]["to"] == "reader@example.com"
    assert recorded["results"][0]["kind"] == kind
    assert recorded["results"][0]["customProperties"] == {"code": "X1"}
    no_to = await api.post(p[kind], json={"emailId": email_id, "message": {}})
    assert no_to.status_code == 400
    draft = await api.post(
        p[kind], json={"emailId": 100_000_012, "message": {"to": "a@example.com"}}
    )
    assert draft.status_code == 400
    assert sandbox.sends(1234567)[1]["to"] == "bounce@example.com"


async def test_send_tier_gates(api: httpx.AsyncClient, p: dict[str, str], sandbox: Sandbox):
    portal = sandbox.portals[1234567]
    portal.marketing_tier = "professional"
    portal.transactional_addon = False
    msg = {"emailId": 100_000_001, "message": {"to": "a@example.com"}}
    r = await api.post(p["single_send"], json=msg)
    assert r.status_code == 403 and "Enterprise" in r.json()["message"]
    r = await api.post(p["transactional"], json=msg)
    assert r.status_code == 403 and "add-on" in r.json()["message"]
