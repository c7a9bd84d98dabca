"""CRM objects: CRUD, batch with partial errors, upsert, duplicates — in both path styles."""

from __future__ import annotations

import httpx

from atom_hubspot.sandbox import ManualClock

from .conftest import assert_error_shape, assert_object_shape


async def test_list_pages_with_after_cursor(api: httpx.AsyncClient, p: dict[str, str]):
    r = await api.get(f"{p['objects']}/contacts", params={"limit": 100})
    assert r.status_code == 200
    body = r.json()
    assert len(body["results"]) == 100
    for obj in body["results"]:
        assert_object_shape(obj)
    assert set(body["results"][0]["properties"]) == {
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    }
    seen = [o["id"] for o in body["results"]]
    while "paging" in body:
        body = (
            await api.get(
                f"{p['objects']}/contacts",
                params={"limit": 100, "after": body["paging"]["next"]["after"]},
            )
        ).json()
        seen += [o["id"] for o in body["results"]]
    assert len(seen) == len(set(seen)) == 300
    assert (await api.get(f"{p['objects']}/contacts", params={"limit": 101})).status_code == 400


async def test_default_limit_is_ten_and_type_ids_work(api: httpx.AsyncClient, p: dict[str, str]):
    r = await api.get(f"{p['objects']}/0-2")
    assert r.status_code == 200 and len(r.json()["results"]) == 10
    assert r.json()["paging"]["next"]["after"]


async def test_crud_round_trip(api: httpx.AsyncClient, p: dict[str, str], clock: ManualClock):
    r = await api.post(
        f"{p['objects']}/contacts",
        json={
            "properties": {
                "email": "New.Person@Example.com",
                "firstname": "New",
                "lifecyclestage": "lead",
            }
        },
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert_object_shape(created)
    assert created["properties"]["email"] == "new.person@example.com"
    cid = created["id"]
    clock.advance(60)
    r = await api.patch(
        f"{p['objects']}/contacts/{cid}",
        json={"properties": {"firstname": "Renamed", "lifecyclestage": ""}},
    )
    assert r.status_code == 200
    assert r.json()["updatedAt"] > created["updatedAt"]
    r = await api.get(
        f"{p['objects']}/contacts/{cid}", params={"properties": "firstname,lifecyclestage,phone"}
    )
    props = r.json()["properties"]
    assert props["firstname"] == "Renamed"
    assert props["lifecyclestage"] is None and props["phone"] is None  # "" cleared it
    by_email = await api.get(
        f"{p['objects']}/contacts/new.person@example.com", params={"idProperty": "email"}
    )
    assert by_email.status_code == 200 and by_email.json()["id"] == cid
    assert (await api.delete(f"{p['objects']}/contacts/{cid}")).status_code == 204
    gone = await api.get(f"{p['objects']}/contacts/{cid}")
    assert gone.status_code == 404
    assert_error_shape(gone.json(), "OBJECT_NOT_FOUND")
    archived = await api.get(f"{p['objects']}/contacts/{cid}", params={"archived": "true"})
    assert archived.json()["archived"] is True and "archivedAt" in archived.json()


async def test_duplicate_email_is_409_with_existing_id(api: httpx.AsyncClient, p: dict[str, str]):
    first = (
        await api.post(
            f"{p['objects']}/contacts", json={"properties": {"email": "dup@example.com"}}
        )
    ).json()
    r = await api.post(
        f"{p['objects']}/contacts", json={"properties": {"email": "DUP@example.com"}}
    )
    assert r.status_code == 409
    assert_error_shape(r.json(), "CONFLICT")
    assert f"Existing ID: {first['id']}" in r.json()["message"]
    company = await api.post(
        f"{p['objects']}/companies", json={"properties": {"name": "X", "domain": "x-co.example"}}
    )
    assert company.status_code == 201
    # HubSpot does not deduplicate companies by domain through the API: a second one is made.
    again = await api.post(
        f"{p['objects']}/companies", json={"properties": {"domain": "x-co.example"}}
    )
    assert again.status_code == 201 and again.json()["id"] != company.json()["id"]


async def test_invalid_properties_are_all_reported(api: httpx.AsyncClient, p: dict[str, str]):
    r = await api.post(
        f"{p['objects']}/contacts",
        json={"properties": {"email": "not-an-email", "nope": "1", "lifecyclestage": "alien"}},
    )
    assert r.status_code == 400
    body = r.json()
    assert_error_shape(body, "VALIDATION_ERROR")
    codes = sorted(e["code"] for e in body["errors"])
    assert codes == ["INVALID_EMAIL", "INVALID_OPTION", "PROPERTY_DOESNT_EXIST"]


async def test_deal_stage_must_exist_and_sets_closed_flags(
    api: httpx.AsyncClient, p: dict[str, str]
):
    bad = await api.post(
        f"{p['objects']}/deals",
        json={"properties": {"dealname": "D", "pipeline": "default", "dealstage": "nonsense"}},
    )
    assert bad.status_code == 400
    r = await api.post(
        f"{p['objects']}/deals",
        json={
            "properties": {
                "dealname": "D",
                "pipeline": "default",
                "dealstage": "closedwon",
                "amount": "1500.50",
                "closedate": "1767225600000",
            }
        },
    )
    assert r.status_code == 201
    deal = (
        await api.get(
            f"{p['objects']}/deals/{r.json()['id']}",
            params={"properties": "amount,closedate,hs_is_closed_won,hs_deal_stage_probability"},
        )
    ).json()
    assert deal["properties"]["amount"] == "1500.50"
    assert deal["properties"]["closedate"] == "2026-01-01T00:00:00.000Z"
    assert deal["properties"]["hs_is_closed_won"] == "true"
    assert deal["properties"]["hs_deal_stage_probability"] == "1.0"


async def test_batch_read_reports_missing_ids_with_207(api: httpx.AsyncClient, p: dict[str, str]):
    ids = [
        o["id"]
        for o in (await api.get(f"{p['objects']}/contacts", params={"limit": 3})).json()["results"]
    ]
    r = await api.post(
        f"{p['objects']}/contacts/batch/read",
        json={"inputs": [{"id": i} for i in [*ids, "999999"]], "properties": ["email"]},
    )
    assert r.status_code == 207
    body = r.json()
    assert body["status"] == "COMPLETE" and len(body["results"]) == 3
    assert body["numErrors"] == 1
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert body["errors"][0]["context"]["ids"] == ["999999"]
    ok = await api.post(f"{p['objects']}/contacts/batch/read", json={"inputs": [{"id": ids[0]}]})
    assert ok.status_code == 200 and "errors" not in ok.json()
    by_email = await api.post(
        f"{p['objects']}/contacts/batch/read",
        json={"idProperty": "email", "inputs": [{"id": "nobody@nowhere.example"}]},
    )
    assert by_email.status_code == 207


async def test_batch_create_is_all_or_nothing(api: httpx.AsyncClient, p: dict[str, str]):
    r = await api.post(
        f"{p['objects']}/contacts/batch/create",
        json={"inputs": [{"properties": {"email": f"b{i}@batch.example"}} for i in range(3)]},
    )
    assert r.status_code == 201 and len(r.json()["results"]) == 3
    dup = await api.post(
        f"{p['objects']}/contacts/batch/create",
        json={
            "inputs": [
                {"properties": {"email": "fresh@batch.example"}},
                {"properties": {"email": "b1@batch.example"}},
            ]
        },
    )
    assert dup.status_code == 409
    check = await api.post(
        f"{p['objects']}/contacts/search",
        json={
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "email", "operator": "EQ", "value": "fresh@batch.example"}
                    ]
                }
            ]
        },
    )
    assert check.json()["total"] == 0
    too_many = await api.post(
        f"{p['objects']}/contacts/batch/create",
        json={"inputs": [{"properties": {"email": f"m{i}@batch.example"}} for i in range(101)]},
    )
    assert too_many.status_code == 400


async def test_batch_update_partial_and_archive(api: httpx.AsyncClient, p: dict[str, str]):
    ids = [
        o["id"]
        for o in (await api.get(f"{p['objects']}/companies", params={"limit": 2})).json()["results"]
    ]
    r = await api.post(
        f"{p['objects']}/companies/batch/update",
        json={
            "inputs": [
                {"id": ids[0], "properties": {"city": "Oslo"}},
                {"id": "424242424", "properties": {"city": "Oslo"}},
                {"id": ids[1], "properties": {"numberofemployees": "many"}},
            ]
        },
    )
    assert r.status_code == 207
    body = r.json()
    assert [o["id"] for o in body["results"]] == [ids[0]]
    assert body["numErrors"] == 2
    assert {e["category"] for e in body["errors"]} == {"OBJECT_NOT_FOUND", "VALIDATION_ERROR"}
    r = await api.post(
        f"{p['objects']}/companies/batch/archive",
        json={"inputs": [{"id": ids[0]}, {"id": "424242424"}]},
    )
    assert r.status_code == 204
    assert (await api.get(f"{p['objects']}/companies/{ids[0]}")).status_code == 404


async def test_batch_upsert_by_email_and_domain(api: httpx.AsyncClient, p: dict[str, str]):
    existing = (await api.get(f"{p['objects']}/contacts", params={"limit": 1})).json()["results"][0]
    r = await api.post(
        f"{p['objects']}/contacts/batch/upsert",
        json={
            "inputs": [
                {
                    "idProperty": "email",
                    "id": existing["properties"]["email"],
                    "properties": {"firstname": "Upserted"},
                },
                {
                    "idProperty": "email",
                    "id": "brand.new@upsert.example",
                    "properties": {"firstname": "Brand"},
                },
                {
                    "idProperty": "email",
                    "id": "bad@upsert.example",
                    "properties": {"lifecyclestage": "alien"},
                },
            ]
        },
    )
    assert r.status_code == 207
    body = r.json()
    by_id = {o["properties"].get("firstname"): o for o in body["results"]}
    assert by_id["Upserted"]["new"] is False and by_id["Upserted"]["id"] == existing["id"]
    assert by_id["Brand"]["new"] is True
    assert body["errors"][0]["context"]["ids"] == ["bad@upsert.example"]
    again = await api.post(
        f"{p['objects']}/contacts/batch/upsert",
        json={
            "inputs": [
                {
                    "idProperty": "email",
                    "id": "brand.new@upsert.example",
                    "properties": {"firstname": "Brand"},
                }
            ]
        },
    )
    assert again.status_code == 200 and again.json()["results"][0]["new"] is False
    # Companies: domain is not a unique-value property, so it cannot key an upsert...
    by_domain = await api.post(
        f"{p['objects']}/companies/batch/upsert",
        json={
            "inputs": [
                {"idProperty": "domain", "id": "upserted.example", "properties": {"name": "U"}}
            ]
        },
    )
    assert by_domain.status_code == 207 and not by_domain.json()["results"]
    assert "not a unique property" in by_domain.json()["errors"][0]["message"]
    # ...a custom property made with hasUniqueValue can.
    made = await api.post(
        f"{p['properties']}/companies",
        json={
            "name": "erp_id",
            "label": "ERP id",
            "type": "string",
            "fieldType": "text",
            "groupName": "companyinformation",
            "hasUniqueValue": True,
        },
    )
    assert made.status_code == 201 and made.json()["hasUniqueValue"] is True
    company = await api.post(
        f"{p['objects']}/companies/batch/upsert",
        json={"inputs": [{"idProperty": "erp_id", "id": "E-1", "properties": {"name": "U"}}]},
    )
    assert company.status_code == 200
    assert company.json()["results"][0]["properties"]["name"] == "U"
    assert company.json()["results"][0]["new"] is True


async def test_unknown_object_type_and_paths_404(api: httpx.AsyncClient, p: dict[str, str]):
    r = await api.get(f"{p['objects']}/widgets")
    assert r.status_code == 404
    assert_error_shape(r.json())
    r = await api.get("/crm/v9/objects/contacts")
    assert r.status_code == 404
    assert_error_shape(r.json())
    r = await api.get("/crm/objects/2019-03/contacts")  # not a published version here
    assert r.status_code == 404
    assert (await api.get("/contacts/v1/lists")).status_code == 404  # gone since 2026-04-30


async def test_account_details(api: httpx.AsyncClient, p: dict[str, str]):
    r = await api.get(p["account"])
    assert r.status_code == 200
    body = r.json()
    assert body["portalId"] == 1234567
    for key in ("accountType", "timeZone", "companyCurrency", "uiDomain", "dataHostingLocation"):
        assert isinstance(body[key], str) and body[key]
