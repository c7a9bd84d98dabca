"""Every CRM route end to end: stub host app → plugin → client → in-process sandbox.

Expected figures are computed independently from the sandbox's own records.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.api.conftest import PORTAL_A, PORTAL_B, Stack

# One host + sandbox for the module (each test makes its own records); the fault test, which
# changes the sandbox for everyone, uses a fresh `stack`.
pytestmark = pytest.mark.asyncio(loop_scope="module")


def _records(stack: Stack, otype: str, portal: int = PORTAL_A) -> list[Any]:
    p = stack.sandbox.portal(portal)  # type: ignore[attr-defined]
    return [r for r in p.records[otype].values() if not r.archived]


async def _all(c, path: str, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = None
    while True:
        q = {**params, "limit": 100, **({"after": after} if after else {})}
        r = await c.get(path, params=q)
        assert r.status_code == 200, r.text
        out += r.json()["data"]["results"]
        after = r.json()["data"]["next_after"]
        if not after:
            return out


def _uniq(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


# ------------------------------------------------------------------ listing and search


async def test_contacts_paging_walks_every_record_once(shared_stack: Stack) -> None:
    async with shared_stack.client("alice") as c:
        seen = await _all(c, "/api/hubspot/contacts")
        first = await c.get("/api/hubspot/contacts", params={"limit": 5})
    ids = [r["id"] for r in seen]
    assert len(ids) == len(set(ids))
    assert set(ids) == {str(r.id) for r in _records(shared_stack, "contacts")}
    assert first.json()["meta"]["portal_id"] == PORTAL_A
    assert len(first.json()["data"]["results"]) == 5


async def test_contact_filters_match_an_independent_count(shared_stack: Stack) -> None:
    recs = _records(shared_stack, "contacts")
    stage = recs[0].properties["lifecyclestage"]
    lo, hi = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 8, 31, 23, 59, 59, 999000, tzinfo=UTC)

    def created(r: Any) -> datetime:
        return datetime.fromtimestamp(r.created, tz=UTC)

    expected = {
        str(r.id)
        for r in recs
        if r.properties.get("lifecyclestage") == stage and lo <= created(r) <= hi
    }
    async with shared_stack.client("alice") as c:
        got = await _all(
            c,
            "/api/hubspot/contacts",
            lifecycle_stage=stage,
            created_from="2026-03-01",
            created_to="2026-08-31",
        )
        assert {r["id"] for r in got} == expected
        assert all(r["properties"]["lifecyclestage"] == stage for r in got)
        # e-mail is exact; name matches first or last name.
        target = recs[3]
        by_email = await c.get(
            "/api/hubspot/contacts", params={"email": target.properties["email"].upper()}
        )
        assert [r["id"] for r in by_email.json()["data"]["results"]] == [str(target.id)]
        assert by_email.json()["data"]["total"] == 1
        last = target.properties["lastname"]
        by_name = await _all(c, "/api/hubspot/contacts", name=last)
        assert str(target.id) in {r["id"] for r in by_name}
        assert all(
            last.lower() in (r["properties"].get("firstname") or "").lower()
            or last.lower() in (r["properties"].get("lastname") or "").lower()
            for r in by_name
        )


async def test_contacts_sort_and_property_selection(shared_stack: Stack) -> None:
    async with shared_stack.client("alice") as c:
        r = await c.get(
            "/api/hubspot/contacts",
            params={"sort": "-createdate", "limit": 10, "properties": "email,createdate"},
        )
    assert r.status_code == 200, r.text
    rows = r.json()["data"]["results"]
    created = [row["created_at"] for row in rows]
    assert created == sorted(created, reverse=True)
    newest = max(_records(shared_stack, "contacts"), key=lambda x: x.created)
    assert rows[0]["id"] == str(newest.id)
    assert all(
        "firstname" not in row["properties"] and "email" in row["properties"] for row in rows
    )


async def test_company_filters(shared_stack: Stack) -> None:
    recs = _records(shared_stack, "companies")
    target = recs[0]
    industry = target.properties["industry"]
    async with shared_stack.client("alice") as c:
        by_domain = await c.get(
            "/api/hubspot/companies", params={"domain": target.properties["domain"]}
        )
        assert [x["id"] for x in by_domain.json()["data"]["results"]] == [str(target.id)]
        by_industry = await _all(c, "/api/hubspot/companies", industry=industry)
        assert {x["id"] for x in by_industry} == {
            str(r.id) for r in recs if r.properties.get("industry") == industry
        }
        word = target.properties["name"].split()[0]
        by_name = await _all(c, "/api/hubspot/companies", name=word)
        assert str(target.id) in {x["id"] for x in by_name}


async def test_deal_filters_amount_stage_close_date(shared_stack: Stack) -> None:
    recs = _records(shared_stack, "deals")
    stage = "closedwon"
    lo, hi = Decimal("1000"), Decimal("50000")
    expected = {
        str(r.id)
        for r in recs
        if r.properties.get("pipeline") == "default"
        and r.properties.get("dealstage") == stage
        and r.properties.get("amount")
        and lo <= Decimal(r.properties["amount"]) <= hi
    }
    async with shared_stack.client("alice") as c:
        got = await _all(
            c,
            "/api/hubspot/deals",
            pipeline="default",
            stage=stage,
            amount_min="1000",
            amount_max="50000",
        )
        assert {x["id"] for x in got} == expected
        dated = await _all(
            c, "/api/hubspot/deals", close_date_from="2026-01-01", close_date_to="2026-06-30"
        )
    for x in dated:
        close = datetime.fromisoformat(x["properties"]["closedate"].replace("Z", "+00:00"))
        assert datetime(2026, 1, 1, tzinfo=UTC) <= close < datetime(2026, 7, 1, tzinfo=UTC)


# ---------------------------------------------------------- create / read / update / archive


async def test_contact_lifecycle(shared_stack: Stack) -> None:
    email = f"{_uniq()}@example.com"
    async with shared_stack.client("alice") as c:
        r = await c.post(
            "/api/hubspot/contacts",
            json={
                "email": email,
                "firstname": "Ada",
                "lastname": "Lovelace",
                "favourite_language": "ada",
            },
        )
        assert r.status_code == 201, r.text
        rec = r.json()["data"]
        cid = rec["id"]
        assert rec["properties"]["email"] == email
        assert rec["properties"]["favourite_language"] == "ada"  # custom property
        got = await c.get(f"/api/hubspot/contacts/{cid}")
        assert got.json()["data"]["properties"]["firstname"] == "Ada"
        # A custom property written through the plugin is named on later reads.
        assert got.json()["data"]["properties"]["favourite_language"] == "ada"
        dup = await c.post("/api/hubspot/contacts", json={"email": email})
        assert dup.status_code == 409, dup.text
        assert dup.json()["error"]["details"]["existing_id"] == cid
        patched = await c.patch(
            f"/api/hubspot/contacts/{cid}", json={"firstname": "Augusta", "lastname": None}
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["data"]["properties"]["firstname"] == "Augusta"
        assert not patched.json()["data"]["properties"].get("lastname")
        put = await c.put(f"/api/hubspot/contacts/{cid}", json={"phone": "+44 1"})
        assert put.json()["data"]["properties"]["phone"] == "+44 1"
        gone = await c.delete(f"/api/hubspot/contacts/{cid}")
        assert gone.status_code == 200 and gone.json()["data"] == {"id": cid, "archived": True}
        missing = await c.get(f"/api/hubspot/contacts/{cid}")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        again = await c.delete(f"/api/hubspot/contacts/{cid}")
        assert again.status_code == 404
    p = shared_stack.sandbox.portal(PORTAL_A)  # type: ignore[attr-defined]
    assert p.records["contacts"][int(cid)].archived is True


async def test_unknown_property_is_hubspots_validation_error(shared_stack: Stack) -> None:
    async with shared_stack.client("alice") as c:
        r = await c.post(
            "/api/hubspot/contacts",
            json={"email": f"{_uniq()}@example.com", "no_such_property": "x"},
        )
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "hubspot_validation_error"
    assert "no_such_property" in r.text


async def test_company_lifecycle(shared_stack: Stack) -> None:
    domain = f"{_uniq()}.example"
    async with shared_stack.client("alice") as c:
        r = await c.post(
            "/api/hubspot/companies",
            json={"name": "Analytical Engines", "domain": domain, "numberofemployees": 42},
        )
        assert r.status_code == 201, r.text
        cid = r.json()["data"]["id"]
        assert r.json()["data"]["properties"]["numberofemployees"] == "42"
        up = await c.patch(f"/api/hubspot/companies/{cid}", json={"city": "London"})
        assert up.json()["data"]["properties"]["city"] == "London"
        listed = await c.get("/api/hubspot/companies", params={"domain": domain})
        assert [x["id"] for x in listed.json()["data"]["results"]] == [cid]
        bad = await c.put(f"/api/hubspot/companies/{cid}", json={"numberofemployees": "many"})
        assert bad.status_code == 422
        assert (await c.delete(f"/api/hubspot/companies/{cid}")).status_code == 200


async def test_deal_with_inline_associations(shared_stack: Stack) -> None:
    contact = _records(shared_stack, "contacts")[0]
    company = _records(shared_stack, "companies")[0]
    async with shared_stack.client("alice") as c:
        r = await c.post(
            "/api/hubspot/deals",
            json={
                "dealname": "Difference Engine",
                "amount": "12500.50",
                "pipeline": "default",
                "dealstage": "qualifiedtobuy",
                "closedate": "2026-12-31",
                "contact_ids": [str(contact.id)],
                "company_ids": [company.id],
            },
        )
        assert r.status_code == 201, r.text
        did = r.json()["data"]["id"]
        got = await c.get(
            f"/api/hubspot/deals/{did}", params={"associations": "contacts,companies"}
        )
        data = got.json()["data"]
        assert data["properties"]["amount"] == "12500.50"
        assert data["properties"]["closedate"].startswith("2026-12-31")
        assert data["associations"]["contacts"] == [str(contact.id)]
        assert data["associations"]["companies"] == [str(company.id)]
        # An update may add associations too (default association type).
        other = _records(shared_stack, "contacts")[1]
        up = await c.patch(
            f"/api/hubspot/deals/{did}",
            json={"dealstage": "closedwon", "contact_ids": [str(other.id)]},
        )
        assert up.status_code == 200, up.text
        got = await c.get(f"/api/hubspot/deals/{did}", params={"associations": "contacts"})
        assert set(got.json()["data"]["associations"]["contacts"]) == {
            str(contact.id),
            str(other.id),
        }
        bad_link = await c.post(
            "/api/hubspot/deals", json={"dealname": "Orphan", "contact_ids": ["99999999"]}
        )
        assert bad_link.status_code in (404, 422), bad_link.text
        bad_amount = await c.post(
            "/api/hubspot/deals", json={"dealname": "X", "amount": "1.000,50"}
        )
        assert bad_amount.status_code == 422
        assert bad_amount.json()["error"]["errors"][0]["field"] == "amount"


async def test_pipelines_and_stages(shared_stack: Stack) -> None:
    portal = shared_stack.sandbox.portal(PORTAL_A)  # type: ignore[attr-defined]
    async with shared_stack.client("alice") as c:
        r = await c.get("/api/hubspot/pipelines")
        assert r.status_code == 200, r.text
        pipes = r.json()["data"]["results"]
        assert {p["id"] for p in pipes} == set(portal.pipelines)
        default = next(p for p in pipes if p["id"] == "default")
        assert "closedwon" in [s["id"] for s in default["stages"]]
        won = next(s for s in default["stages"] if s["id"] == "closedwon")
        assert won["is_closed"] is True and Decimal(won["probability"]) == 1
        st = await c.get("/api/hubspot/pipelines/default/stages")
        got = [s["id"] for s in st.json()["data"]["results"]]
        assert got == [s["id"] for s in default["stages"]]
        assert (await c.get("/api/hubspot/pipelines/nope/stages")).status_code == 404


async def test_health_route(shared_stack: Stack) -> None:
    async with shared_stack.client("alice") as c:
        r = await c.get("/api/hubspot/health")
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    assert d["status"] == "ok" and d["portal_id"] == PORTAL_A and d["auth_kind"] == "oauth"
    async with shared_stack.client("bob") as c:
        b = await c.get("/api/hubspot/health")
    assert b.json()["data"]["portal_id"] == PORTAL_B
    assert b.json()["data"]["auth_kind"] == "private_app"
    async with shared_stack.client("carol") as c:
        n = await c.get("/api/hubspot/health")
    assert n.status_code == 401 and "/auth/hubspot" in n.json()["error"]["message"]


async def test_plugin_health_check_and_crm_service(shared_stack: Stack) -> None:
    from atom_host_stub.contract import CRMService, HealthStatus
    from atom_hubspot.health import plugin_health
    from tests.api.conftest import PRINCIPALS

    result = await plugin_health(shared_stack.host.context)
    assert result.status == HealthStatus.OK, result
    assert "connections" not in result.details  # tenant data is per tenant only
    alice, bob = PRINCIPALS["alice"].tenant_id, PRINCIPALS["bob"].tenant_id
    assert result.tenant_details[alice]["connections"] == {"connected": 1}
    assert result.tenant_details[bob]["connections"] == {"connected": 1}
    assert str(PORTAL_A) not in result.message and str(PORTAL_B) not in result.message
    svc = await shared_stack.host.services.get_service("crm", PRINCIPALS["alice"])  # type: ignore[attr-defined]
    assert isinstance(svc, CRMService)
    page = await svc.list_records("deal", limit=5)
    with_amount = [d for d in page.items if d.amount is not None]
    assert with_amount and all(d.amount.currency == "EUR" for d in with_amount)


# ------------------------------------------------------------------ search index lag


async def test_a_contact_just_made_is_found_by_email_though_search_lags(
    shared_stack: Stack,
) -> None:
    """HubSpot's search trails writes by seconds (the sandbox's default lag): the route finds
    a contact by e-mail a moment after making it, because that is a read by unique property,
    not a search; a search by another property sees it once the index has caught up."""
    assert shared_stack.sandbox.config.search_lag_s >= 1.0  # type: ignore[attr-defined]
    email = f"{_uniq('fresh')}@example.com"
    async with shared_stack.client("alice") as c:
        made = await c.post("/api/hubspot/contacts", json={"email": email, "firstname": "Fresh"})
        assert made.status_code == 201, made.text
        found = await c.get("/api/hubspot/contacts", params={"email": email})
        by_name = await c.get("/api/hubspot/contacts", params={"name": "Fresh", "email": None})
        shared_stack.sandbox.offset += shared_stack.sandbox.config.search_lag_s  # type: ignore[attr-defined]
        later = await c.get("/api/hubspot/contacts", params={"name": "Fresh"})
    assert [r["id"] for r in found.json()["data"]["results"]] == [made.json()["data"]["id"]]
    assert made.json()["data"]["id"] not in [r["id"] for r in by_name.json()["data"]["results"]]
    assert made.json()["data"]["id"] in [r["id"] for r in later.json()["data"]["results"]]
