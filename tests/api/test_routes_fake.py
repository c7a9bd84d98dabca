"""CRM routes over the recording fake client: the exact HubSpot request each route builds,
input validation, and the error envelope."""

from __future__ import annotations

import httpx
import pytest

from atom_hubspot.errors import (
    MissingScopes,
    OutcomeUnknown,
    RateLimited,
    ReconnectRequired,
    TierRequired,
    Unavailable,
    ValidationFailed,
)
from tests.api.fakes import FakeClient


async def test_list_without_filters_uses_plain_listing(fake_http, fake_clients) -> None:
    alice = fake_clients["alice"]
    for n in range(3):
        alice.contacts.add({"email": f"c{n}@example.com", "firstname": f"C{n}"})
    r = await fake_http.get("/api/hubspot/contacts", params={"limit": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True
    # No mirror in this runtime: the answer is HubSpot's, as of now.
    assert body["meta"]["portal_id"] == 111 and body["meta"]["source"] == "live"
    assert body["meta"]["as_of"].endswith("Z")
    assert [x["properties"]["email"] for x in body["data"]["results"]] == [
        "c0@example.com",
        "c1@example.com",
    ]
    assert body["data"]["next_after"] == "2"
    assert alice.calls[-1][0] == "list"
    r2 = await fake_http.get("/api/hubspot/contacts", params={"limit": 2, "after": "2"})
    assert [x["properties"]["email"] for x in r2.json()["data"]["results"]] == ["c2@example.com"]
    assert r2.json()["data"]["next_after"] is None


async def test_contact_filters_become_one_and_ed_search(fake_http, fake_clients) -> None:
    alice = fake_clients["alice"]
    alice.contacts.add(
        {
            "email": "ada@example.com",
            "firstname": "Ada",
            "lastname": "L",
            "lifecyclestage": "lead",
            "company": "Engines",
        }
    )
    alice.contacts.add(
        {
            "email": "bob@example.com",
            "firstname": "Bob",
            "lastname": "Adams",
            "lifecyclestage": "customer",
        }
    )
    r = await fake_http.get(
        "/api/hubspot/contacts",
        params={
            "name": "ada",
            "lifecycle_stage": "lead",
            "created_from": "2026-01-01",
            "created_to": "2026-01-31",
            "sort": "-createdate",
            "properties": "email,firstname",
        },
    )
    assert r.status_code == 200, r.text
    assert [x["properties"]["email"] for x in r.json()["data"]["results"]] == ["ada@example.com"]
    assert r.json()["data"]["total"] == 1
    kind, type_name, body = alice.calls[-1]
    assert (kind, type_name) == ("search", "contacts")
    common = [
        {"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"},
        {"propertyName": "createdate", "operator": "GTE", "value": "1767225600000"},
        {"propertyName": "createdate", "operator": "LTE", "value": "1769903999999"},
    ]
    # `name` matches first OR last name: the other filters are repeated in both groups.
    assert body["filterGroups"] == [
        {
            "filters": [
                *common,
                {"propertyName": "firstname", "operator": "CONTAINS_TOKEN", "value": "*ada*"},
            ]
        },
        {
            "filters": [
                *common,
                {"propertyName": "lastname", "operator": "CONTAINS_TOKEN", "value": "*ada*"},
            ]
        },
    ]
    assert body["sorts"] == [{"propertyName": "createdate", "direction": "DESCENDING"}]
    assert body["properties"] == ["email", "firstname"]


async def test_deal_filters_amount_and_close_range(fake_http, fake_clients) -> None:
    alice = fake_clients["alice"]
    alice.deals.add(
        {
            "dealname": "Small",
            "amount": "50",
            "pipeline": "default",
            "dealstage": "closedwon",
            "closedate": "2026-03-01T00:00:00Z",
        }
    )
    big = alice.deals.add(
        {
            "dealname": "Big",
            "amount": "5000",
            "pipeline": "default",
            "dealstage": "closedwon",
            "closedate": "2026-03-02T00:00:00Z",
        }
    )
    r = await fake_http.get(
        "/api/hubspot/deals",
        params={
            "pipeline": "default",
            "stage": "closedwon",
            "amount_min": "100",
            "amount_max": "9999.99",
            "close_date_from": "2026-03-01",
            "close_date_to": "2026-03-31T23:59:59Z",
        },
    )
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()["data"]["results"]] == [big]
    filters = alice.calls[-1][2]["filterGroups"][0]["filters"]
    assert {"propertyName": "amount", "operator": "GTE", "value": "100"} in filters
    assert {"propertyName": "amount", "operator": "LTE", "value": "9999.99"} in filters


async def test_company_filters(fake_http, fake_clients) -> None:
    alice = fake_clients["alice"]
    alice.companies.add(
        {"name": "Analytical Engines", "domain": "ae.example", "industry": "COMPUTER_SOFTWARE"}
    )
    alice.companies.add({"name": "Looms", "domain": "looms.example", "industry": "TEXTILES"})
    r = await fake_http.get(
        "/api/hubspot/companies", params={"domain": "AE.example", "industry": "COMPUTER_SOFTWARE"}
    )
    assert [x["properties"]["name"] for x in r.json()["data"]["results"]] == ["Analytical Engines"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/hubspot/contacts", {"limit": 101}, "limit"),
        ("/api/hubspot/contacts", {"limit": 0}, "limit"),
        ("/api/hubspot/contacts", {"created_from": "yesterday"}, "created_from"),
        (
            "/api/hubspot/contacts",
            {"created_from": "2026-02-01", "created_to": "2026-01-01"},
            "created_from",
        ),
        ("/api/hubspot/deals", {"amount_min": "ten"}, "amount_min"),
        ("/api/hubspot/deals", {"amount_min": "10", "amount_max": "5"}, "amount_min"),
        ("/api/hubspot/contacts", {"sort": "Drop Table"}, "sort"),
        ("/api/hubspot/contacts", {"properties": "email,Not Valid"}, "properties"),
        ("/api/hubspot/contacts/abc", {}, "record_id"),
    ],
)
async def test_bad_query_is_422_naming_the_field(fake_http, path, params, field) -> None:
    r = await fake_http.get(path, params=params)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_input"
    assert field in [e["field"] for e in err["errors"]]
    assert field in err["message"]


async def test_create_contact_validates_and_sends_flat_properties(fake_http, fake_clients) -> None:
    alice = fake_clients["alice"]
    bad = await fake_http.post(
        "/api/hubspot/contacts",
        json={"email": "nope", "Bad Key": "x", "nested": {"a": 1}, "createdate": "2026-01-01"},
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["error"]["errors"]} == {
        "email",
        "Bad Key",
        "nested",
        "createdate",
    }
    assert not [c for c in alice.calls if c[0] == "create"]  # nothing sent to HubSpot
    ok = await fake_http.post(
        "/api/hubspot/contacts",
        json={
            "email": "ada@example.com",
            "firstname": "Ada",
            "favourite_number": 7,
            "vip": True,
            "phone": None,
        },
    )
    assert ok.status_code == 201, ok.text
    assert alice.calls[-1][2]["properties"] == {
        "email": "ada@example.com",
        "firstname": "Ada",
        "favourite_number": "7",
        "vip": "true",
    }
    rec = ok.json()["data"]
    assert rec["properties"]["favourite_number"] == "7" and rec["id"]
    dup = await fake_http.post("/api/hubspot/contacts", json={"email": "ada@example.com"})
    assert dup.status_code == 409
    assert dup.json()["error"]["details"]["existing_id"] == rec["id"]


async def test_create_deal_normalises_and_associates_inline(fake_http, fake_clients) -> None:
    alice = fake_clients["alice"]
    contact = alice.contacts.add({"email": "c@example.com"})
    company = alice.companies.add({"name": "Co"})
    r = await fake_http.post(
        "/api/hubspot/deals",
        json={
            "dealname": "Engine",
            "amount": 12500.5,
            "closedate": "2026-12-31",
            "contact_ids": [contact],
            "company_ids": [company, company],
        },
    )
    assert r.status_code == 201, r.text
    sent = alice.calls[-1][2]
    assert sent["properties"] == {
        "dealname": "Engine",
        "amount": "12500.5",
        "closedate": "2026-12-31T00:00:00.000Z",
    }
    assert sent["associations"] == [
        {
            "to": {"id": contact},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
        },
        {
            "to": {"id": company},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}],
        },
    ]
    deal_id = r.json()["data"]["id"]
    got = await fake_http.get(
        f"/api/hubspot/deals/{deal_id}", params={"associations": "contacts,companies"}
    )
    assert got.json()["data"]["associations"] == {"contacts": [contact], "companies": [company]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "12,50"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"closedate": "31/12/2026"}, "closedate"),
        ({"dealname": "x", "contact_ids": ["abc"]}, "contact_ids.0"),
        ({"dealname": "x", "company_ids": "1"}, "company_ids"),
        ({}, "body"),
    ],
)
async def test_deal_body_validation(fake_http, body, field) -> None:
    r = await fake_http.post("/api/hubspot/deals", json=body)
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["error"]["errors"]]


async def test_patch_put_update_and_null_clears(fake_http, fake_clients) -> None:
    alice = fake_clients["alice"]
    cid = alice.companies.add({"name": "Co", "city": "Paris", "numberofemployees": "3"})
    r = await fake_http.patch(
        f"/api/hubspot/companies/{cid}", json={"city": None, "numberofemployees": "40"}
    )
    assert r.status_code == 200, r.text
    assert alice.calls[-1][2]["properties"] == {"city": "", "numberofemployees": "40"}
    r = await fake_http.put(f"/api/hubspot/companies/{cid}", json={"name": "Co2"})
    assert r.json()["data"]["properties"]["name"] == "Co2"
    bad = await fake_http.patch(f"/api/hubspot/companies/{cid}", json={"numberofemployees": -1})
    assert bad.status_code == 422
    missing = await fake_http.patch("/api/hubspot/companies/999999", json={"name": "x"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_delete_archives_and_unknown_is_404(fake_http, fake_clients) -> None:
    alice = fake_clients["alice"]
    cid = alice.contacts.add({"email": "x@example.com"})
    r = await fake_http.delete(f"/api/hubspot/contacts/{cid}")
    assert r.status_code == 200 and r.json()["data"] == {"id": cid, "archived": True}
    assert cid not in alice.contacts.records
    again = await fake_http.delete(f"/api/hubspot/contacts/{cid}")
    assert again.status_code == 404
    assert again.json()["error"]["correlation_id"] == "fake-correlation"


async def test_pipelines_and_stages(fake_http) -> None:
    r = await fake_http.get("/api/hubspot/pipelines")
    assert r.status_code == 200
    assert r.json()["data"]["next_after"] is None
    p = r.json()["data"]["results"][0]
    assert p["id"] == "default"
    assert [s["id"] for s in p["stages"]] == ["appointmentscheduled", "closedwon"]
    s = await fake_http.get("/api/hubspot/pipelines/default/stages")
    assert s.json()["data"]["results"][1]["is_closed"] is True
    assert (await fake_http.get("/api/hubspot/pipelines/nope/stages")).status_code == 404


async def test_not_connected_is_401_saying_how(fake_http) -> None:
    r = await fake_http.get("/api/hubspot/contacts", headers={"Authorization": "Bearer carol"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "not_connected"
    assert "/auth/hubspot" in r.json()["error"]["message"]
    other = await fake_http.get("/api/hubspot/contacts", params={"portal_id": 222})
    assert other.status_code == 401  # bob's portal is not alice's


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (
            RateLimited("slow down", retry_after_s=3.2, policy="TEN_SECONDLY_ROLLING"),
            429,
            "rate_limited",
        ),
        (
            TierRequired("needs Marketing Hub Enterprise", required_tier="marketing-enterprise"),
            403,
            "hubspot_tier_required",
        ),
        (Unavailable("HubSpot is down", correlation_id="abc"), 503, "hubspot_unavailable"),
        (
            MissingScopes("missing scopes", required_scopes=["crm.objects.contacts.read"]),
            403,
            "missing_scopes",
        ),
        (ReconnectRequired("reconnect HubSpot (POST /auth/hubspot)"), 401, "reconnect_required"),
        (
            ValidationFailed(
                "Property values were not valid",
                status=400,
                errors=[{"message": "bad lifecyclestage", "in": "lifecyclestage"}],
            ),
            422,
            "hubspot_validation_error",
        ),
        (OutcomeUnknown("the create may have happened"), 504, "outcome_unknown"),
    ],
)
async def test_hubspot_errors_map_to_statuses(
    fake_http, fake_clients, monkeypatch, exc, status, code
) -> None:
    async def boom(*a, **k):
        raise exc

    monkeypatch.setattr(fake_clients["alice"].contacts, "list", boom)
    r = await fake_http.get("/api/hubspot/contacts")
    assert r.status_code == status
    assert r.json() == {"ok": False, "error": exc.to_dict()}
    if status == 429:
        assert r.headers["Retry-After"] == "4"


async def test_health_reports_latency_and_failures(fake_http, fake_clients, monkeypatch) -> None:
    r = await fake_http.get("/api/hubspot/health")
    assert r.status_code == 200
    assert r.json()["data"]["status"] == "ok" and r.json()["data"]["portal_id"] == 111

    async def down(*a, **k):
        raise Unavailable("HubSpot is down")

    monkeypatch.setattr(fake_clients["alice"].account, "details", down)
    r = await fake_http.get("/api/hubspot/health")
    assert r.json()["data"]["status"] == "down"
    assert r.json()["data"]["error_code"] == "hubspot_unavailable"
    r = await fake_http.get("/api/hubspot/health", headers={"Authorization": "Bearer carol"})
    assert r.status_code == 401


async def test_openapi_documents_bodies_examples_and_errors(fake_app) -> None:
    spec = fake_app.openapi()
    post = spec["paths"]["/api/hubspot/deals"]["post"]
    assert set(post["responses"]) >= {"201", "401", "403", "404", "409", "422", "429", "503"}
    assert "Retry-After" in post["responses"]["429"]["headers"]
    body_ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = spec["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
    assert body["examples"][0]["dealname"]
    assert body["additionalProperties"]  # custom properties allowed
    ops = {op["operationId"] for p in spec["paths"].values() for op in p.values()}
    assert {
        "list_contacts",
        "get_company",
        "create_deal",
        "update_deal",
        "replace_deal",
        "archive_contact",
        "list_pipelines",
        "list_pipeline_stages",
        "hubspot_health",
    } <= ops


async def test_unexpected_defect_is_enveloped_without_detail(
    fake_http, fake_clients, monkeypatch
) -> None:
    async def bug(*a, **k):
        raise KeyError("secret-token-value")

    monkeypatch.setattr(fake_clients["alice"].contacts, "list", bug)
    r = await fake_http.get("/api/hubspot/contacts")
    assert r.status_code == 500
    assert "secret-token-value" not in r.text
    assert r.json()["error"]["code"] == "internal_error"


async def test_each_caller_reaches_only_their_own_portal(
    fake_http: httpx.AsyncClient, fake_clients: dict[str, FakeClient]
) -> None:
    alice, bob = fake_clients["alice"], fake_clients["bob"]
    alice.contacts.add({"email": "only-alice@example.com"})
    r = await fake_http.get("/api/hubspot/contacts", headers={"Authorization": "Bearer bob"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["results"] == [] and r.json()["meta"]["portal_id"] == 222
    assert [c[0] for c in bob.calls] == ["list"] and alice.calls == []
