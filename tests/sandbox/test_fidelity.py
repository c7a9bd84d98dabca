"""Where the sandbox must answer as HubSpot does: the releases each family has, answer shapes
HubSpot's own models require, and behaviours HubSpot has (no company dedup by domain, metrics
that follow what happened, read-only properties). The refused list filter is tested with the
lists, in test_lists_marketing."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from atom_hubspot.releases import FAMILIES, RELEASES
from atom_hubspot.sandbox import DEMO_PORTAL_ID, ManualClock
from atom_hubspot.sandbox.core import Sandbox

from .conftest import STYLES, assert_error_shape

ACCESS, REFRESH = "access_token", "refresh_token"

# One GET or POST per family, its path as a function of the version segment.
FAMILY_PROBES: dict[str, tuple[str, str]] = {
    "crm.objects": ("GET", "/crm/objects/{v}/contacts"),
    "crm.pipelines": ("GET", "/crm/pipelines/{v}/deals"),
    "crm.properties": ("GET", "/crm/properties/{v}/contacts"),
    "crm.lists": ("POST", "/crm/lists/{v}/search"),
    "account": ("GET", "/account-info/{v}/details"),
    "marketing.campaigns": ("GET", "/marketing/campaigns/{v}"),
    "marketing.emails": ("GET", "/marketing/emails/{v}"),
    "marketing.single_send": ("POST", "/marketing/email-campaigns/{v}/single-send"),
}


@pytest.mark.parametrize("family", list(FAMILY_PROBES))
async def test_each_family_answers_its_releases_and_404_elsewhere(
    api: httpx.AsyncClient, family: str
) -> None:
    method, template = FAMILY_PROBES[family]
    for version in (*RELEASES, "2026-06", "2024-09", "2027-03"):
        body = {"emailId": 1, "message": {"to": "a@b.example"}} if "single-send" in template else {}
        r = await api.request(method, template.format(v=version), json=body)
        if version in FAMILIES[family].releases:
            assert r.status_code != 404 or "Unable to route" not in r.text, (family, version)
        else:
            assert r.status_code == 404, (family, version, r.status_code)
            assert "Unable to route" in r.json()["message"]
            assert r.headers["X-HubSpot-Correlation-Id"]


async def test_2026_09_crm_paths_are_generic_by_object_type(api: httpx.AsyncClient) -> None:
    by_name = await api.get("/crm/objects/2026-09/contacts", params={"limit": 2})
    by_id = await api.get("/crm/objects/2026-09/0-1", params={"limit": 2})
    assert by_name.status_code == by_id.status_code == 200
    assert [r["id"] for r in by_name.json()["results"]] == [
        r["id"] for r in by_id.json()["results"]
    ]
    made = await api.post("/crm/objects/2026-09/0-2", json={"properties": {"name": "Gen Co"}})
    assert made.status_code == 201
    found = await api.post(
        "/crm/objects/2026-09/companies/search",
        json={
            "filterGroups": [
                {"filters": [{"propertyName": "name", "operator": "EQ", "value": "Gen Co"}]}
            ]
        },
    )
    assert found.json()["total"] == 1


# --------------------------------------------------------------------------- answer shapes


async def test_marketing_emails_carry_is_ab_and_statistics_ids_are_integers(
    api: httpx.AsyncClient, p: dict[str, str]
) -> None:
    emails = (await api.get(p["emails"], params={"limit": 50})).json()["results"]
    assert emails and all(e["isAb"] is False for e in emails)
    one = (await api.get(f"{p['emails']}/{emails[0]['id']}")).json()
    assert {"isAb", "subcategory", "sendOnPublish", "content", "to", "from"} <= set(one)
    stats = await api.get(
        f"{p['emails']}/statistics/list",
        params={"startTimestamp": "2000-01-01T00:00:00Z", "endTimestamp": "2100-01-01T00:00:00Z"},
    )
    assert stats.json()["emails"] and all(type(i) is int for i in stats.json()["emails"])


async def test_campaign_read_answers_its_assets(api: httpx.AsyncClient, p: dict[str, str]) -> None:
    listed = (await api.get(p["campaigns"], params={"limit": 10})).json()["results"]
    seeded = (await api.get(f"{p['campaigns']}/{listed[0]['id']}")).json()
    emails = seeded["assets"]["MARKETING_EMAIL"]["results"]
    assert emails and all(set(e) >= {"id", "name"} for e in emails)
    new = (await api.post(p["campaigns"], json={"properties": {"hs_name": "Fresh"}})).json()
    assert (await api.get(f"{p['campaigns']}/{new['id']}")).json()["assets"] == {}


async def test_oauth_token_use_and_introspection_fields(
    client: httpx.AsyncClient, transport: httpx.ASGITransport
) -> None:
    from .conftest import CLIENT_ID, CLIENT_SECRET, oauth_tokens

    legacy = await oauth_tokens(client, transport, token_path="/oauth/v1/token")  # noqa: S106
    assert legacy["token_use"] == ACCESS  # the v1 answer carries it too
    dated = await oauth_tokens(client, transport, token_path="/oauth/2026-09/token")  # noqa: S106
    assert dated["token_use"] == ACCESS and dated["hub_id"] == DEMO_PORTAL_ID
    form = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    access = (
        await client.post(
            "/oauth/2026-03/token/introspect", data={**form, "token": dated["access_token"]}
        )
    ).json()
    assert access["token_use"] == ACCESS and access["token"] == dated["access_token"]
    assert access["is_private_distribution"] is False and access["token_type"]
    assert access["signed_access_token"]["hubId"] == DEMO_PORTAL_ID
    refresh = (
        await client.post(
            "/oauth/2026-09/token/introspect",
            data={**form, "token": dated["refresh_token"], "token_type_hint": "refresh_token"},
        )
    ).json()
    assert refresh["token_use"] == REFRESH and refresh["token"] == dated["refresh_token"]
    assert "signed_access_token" not in refresh


async def test_paging_next_link_is_absolute(api: httpx.AsyncClient, p: dict[str, str]) -> None:
    r = await api.get(f"{p['objects']}/contacts", params={"limit": 3, "properties": "email"})
    nxt = r.json()["paging"]["next"]
    assert nxt["link"].startswith("http://sandbox.local" + p["objects"] + "/contacts?")
    follow = await api.get(nxt["link"])
    assert follow.status_code == 200 and follow.json()["results"][0]["id"] == nxt["after"]
    assert "limit=3" in nxt["link"] and "properties=email" in nxt["link"]


async def test_unrouted_404_and_405_carry_the_correlation_id(api: httpx.AsyncClient) -> None:
    for r in (await api.get("/crm/v9/nothing"), await api.put("/crm/v3/objects/contacts")):
        assert r.status_code in (404, 405)
        assert_error_shape(r.json())
        assert r.headers["X-HubSpot-Correlation-Id"] == r.json()["correlationId"]


async def test_daily_limit_429_carries_the_rate_limit_headers(client: httpx.AsyncClient) -> None:
    token = (await client.post("/_sandbox/private-app-tokens", json={"portal_id": 1234567})).json()[
        "token"
    ]
    await client.put("/_sandbox/limits", json={"daily_limit": 1})
    h = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/crm/v3/objects/contacts", headers=h)).status_code == 200
    r = await client.get("/crm/v3/objects/contacts", headers=h)
    assert r.status_code == 429 and r.json()["policyName"] == "DAILY"
    assert r.headers["X-HubSpot-RateLimit-Max"] == "110"
    assert r.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    assert r.headers["X-HubSpot-Correlation-Id"]


# --------------------------------------------------------------------------- behaviour


async def test_seeded_updated_at_is_the_modification_date(sandbox: Sandbox) -> None:
    portal = sandbox.portals[DEMO_PORTAL_ID]
    for kind, prop in (("contacts", "lastmodifieddate"), ("deals", "hs_lastmodifieddate")):
        recs = list(portal.records[kind].values())
        assert recs
        for rec in recs:
            stamp = datetime.fromisoformat(rec.properties[prop].replace("Z", "+00:00"))
            assert abs(stamp.timestamp() - rec.updated) < 0.001, (kind, rec.id)
        assert any(r.updated > r.created + 1 for r in recs)  # updated later than created


async def test_companies_share_a_domain_and_upsert_needs_a_unique_property(
    api: httpx.AsyncClient, p: dict[str, str]
) -> None:
    one = await api.post(
        f"{p['objects']}/companies", json={"properties": {"domain": "same.example"}}
    )
    two = await api.post(
        f"{p['objects']}/companies", json={"properties": {"domain": "same.example"}}
    )
    assert one.status_code == two.status_code == 201
    props = (await api.get(f"{p['properties']}/companies")).json()["results"]
    assert next(d for d in props if d["name"] == "domain")["hasUniqueValue"] is False
    by_domain = await api.get(
        f"{p['objects']}/companies/same.example", params={"idProperty": "domain"}
    )
    assert by_domain.status_code == 400


async def test_campaign_metrics_follow_what_happened(
    api: httpx.AsyncClient, sandbox: Sandbox, clock: ManualClock, p: dict[str, str]
) -> None:
    portal = sandbox.portals[DEMO_PORTAL_ID]
    new = (await api.post(p["campaigns"], json={"properties": {"hs_name": "Next year"}})).json()
    metrics = f"{p['campaigns']}/{new['id']}/reports/metrics"
    zero = {
        "sessions": 0,
        "newContactsFirstTouch": 0,
        "newContactsLastTouch": 0,
        "influencedContacts": 0,
    }
    assert (await api.get(metrics)).json() == zero
    # An email of the campaign, sent to a contact made today, opened and clicked.
    email_id = max(portal.emails) + 1
    portal.emails[email_id] = {
        **portal.emails[min(portal.emails)],
        "id": str(email_id),
        "campaign": new["id"],
        "isPublished": True,
    }
    contact = await api.post(
        f"{p['objects']}/contacts", json={"properties": {"email": "metric@example.com"}}
    )
    assert contact.status_code == 201
    sent = await api.post(
        p["transactional"], json={"emailId": email_id, "message": {"to": "metric@example.com"}}
    )
    assert sent.json()["sendResult"] == "SENT"
    for kind in ("OPEN", "CLICK"):
        r = await api.post(
            "/_sandbox/email-events",
            json={"emailId": email_id, "type": kind, "recipient": "metric@example.com"},
        )
        assert r.status_code == 201, r.text
    today = datetime.fromtimestamp(clock.now(), UTC).date().isoformat()
    got = (await api.get(metrics, params={"startDate": today, "endDate": today})).json()
    assert got == {
        "sessions": 1,
        "newContactsFirstTouch": 1,
        "newContactsLastTouch": 1,
        "influencedContacts": 1,
    }
    earlier = (
        await api.get(metrics, params={"startDate": "2020-01-01", "endDate": "2020-12-31"})
    ).json()
    assert earlier == zero
    stats = (await api.get(f"{p['emails']}/{email_id}", params={"includeStats": "true"})).json()
    assert stats["stats"]["counters"]["click"] >= 1


async def test_hs_object_id_is_not_writable_and_says_so(
    api: httpx.AsyncClient, p: dict[str, str]
) -> None:
    defs = (await api.get(f"{p['properties']}/contacts")).json()["results"]
    meta = next(d for d in defs if d["name"] == "hs_object_id")["modificationMetadata"]
    assert meta["readOnlyValue"] is True
    assert (
        next(d for d in defs if d["name"] == "firstname")["modificationMetadata"]["readOnlyValue"]
        is False
    )
    r = await api.post(f"{p['objects']}/contacts", json={"properties": {"hs_object_id": "5"}})
    assert r.status_code == 400


async def test_no_associations_error_names_both_object_types(
    api: httpx.AsyncClient, p: dict[str, str]
) -> None:
    lonely = (
        await api.post(f"{p['objects']}/deals", json={"properties": {"dealname": "Alone"}})
    ).json()
    r = await api.post(
        f"{p['assoc_batch']}/deals/companies/batch/read", json={"inputs": [{"id": lonely["id"]}]}
    )
    assert r.status_code == 207
    context = r.json()["errors"][0]["context"]
    assert context == {
        "fromObjectId": [lonely["id"]],
        "fromObjectType": ["DEAL"],
        "toObjectType": ["COMPANY"],
    }


def test_styles_cover_the_families_probed() -> None:
    assert {"objects", "lists", "emails"} <= set(STYLES["2026-03"])
