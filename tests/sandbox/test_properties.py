"""Property definitions: HubSpot's own and custom ones (created, configured, or carried by a
record), creating one, and the schema scopes."""

from __future__ import annotations

from typing import Any

import httpx

from atom_hubspot.sandbox.config import DEMO_PORTAL_ID
from atom_hubspot.sandbox.core import Sandbox
from tests.sandbox.conftest import assert_error_shape, oauth_tokens

SHOE_SIZE = {
    "name": "shoe_size",
    "label": "Shoe size",
    "type": "number",
    "fieldType": "number",
    "groupName": "contactinformation",
}


async def _by_name(api: httpx.AsyncClient, p: dict[str, str], otype: str) -> dict[str, Any]:
    r = await api.get(f"{p['properties']}/{otype}")
    assert r.status_code == 200, r.text
    return {d["name"]: d for d in r.json()["results"]}


async def test_hubspot_defined_properties_of_each_type(
    api: httpx.AsyncClient, p: dict[str, str]
) -> None:
    for otype, names in (
        ("contacts", {"email", "firstname", "lastname", "lifecyclestage", "createdate"}),
        ("companies", {"name", "domain", "numberofemployees"}),
        ("deals", {"dealname", "amount", "dealstage", "pipeline", "closedate"}),
    ):
        defs = await _by_name(api, p, otype)
        assert names <= set(defs)
        for name in names:
            d = defs[name]
            assert d["hubspotDefined"] is True and d["archived"] is False
            assert {"label", "type", "fieldType", "groupName"} <= set(d)
    contacts = await _by_name(api, p, "contacts")
    assert (contacts["lifecyclestage"]["type"], contacts["lifecyclestage"]["fieldType"]) == (
        "enumeration",
        "select",
    )
    assert all(d["hubspotDefined"] for d in contacts.values())  # the seed uses no custom one


async def test_a_property_a_record_carries_is_listed_as_custom(
    api: httpx.AsyncClient, p: dict[str, str], sandbox: Sandbox
) -> None:
    portal = sandbox.portal(DEMO_PORTAL_ID)
    rec = next(iter(portal.records["companies"].values()))
    rec.properties["partner_level"] = "gold"  # as if set in HubSpot's UI
    defs = await _by_name(api, p, "companies")
    assert defs["partner_level"]["hubspotDefined"] is False
    assert defs["name"]["hubspotDefined"] is True


async def test_created_property_is_listed_and_records_can_carry_it(
    api: httpx.AsyncClient, p: dict[str, str]
) -> None:
    r = await api.post(f"{p['properties']}/contacts", json=SHOE_SIZE)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["name"] == "shoe_size" and created["hubspotDefined"] is False
    assert (created["type"], created["fieldType"]) == ("number", "number")
    assert (await _by_name(api, p, "contacts"))["shoe_size"] == created
    # Values are checked by the declared type.
    ok = await api.post(
        f"{p['objects']}/contacts",
        json={"properties": {"email": "feet@example.com", "shoe_size": "44"}},
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["properties"]["shoe_size"] == "44"
    bad = await api.post(
        f"{p['objects']}/contacts",
        json={"properties": {"email": "feet2@example.com", "shoe_size": "large"}},
    )
    assert bad.status_code == 400
    assert_error_shape(bad.json(), "VALIDATION_ERROR")
    # Other object types do not have it.
    assert "shoe_size" not in await _by_name(api, p, "deals")


async def test_create_refuses_duplicates_and_incomplete_definitions(
    api: httpx.AsyncClient, p: dict[str, str]
) -> None:
    path = f"{p['properties']}/contacts"
    assert (await api.post(path, json=SHOE_SIZE)).status_code == 201
    again = await api.post(path, json=SHOE_SIZE)
    assert again.status_code == 409
    assert_error_shape(again.json(), "OBJECT_ALREADY_EXISTS")
    builtin = await api.post(path, json={**SHOE_SIZE, "name": "email"})
    assert builtin.status_code == 409
    missing = await api.post(path, json={"name": "x_only"})
    assert missing.status_code == 400
    assert_error_shape(missing.json(), "VALIDATION_ERROR")
    assert {e["in"] for e in missing.json()["errors"]} == {
        "label",
        "type",
        "fieldType",
        "groupName",
    }
    bad = await api.post(path, json={**SHOE_SIZE, "name": "Bad Name", "type": "nope"})
    assert bad.status_code == 400
    assert {e["in"] for e in bad.json()["errors"]} == {"name", "type"}


async def test_archived_listing_is_empty(api: httpx.AsyncClient, p: dict[str, str]) -> None:
    r = await api.get(f"{p['properties']}/contacts", params={"archived": "true"})
    assert r.status_code == 200 and r.json() == {"results": []}


async def test_reading_needs_the_schema_scope(
    client: httpx.AsyncClient, transport: httpx.ASGITransport, p: dict[str, str]
) -> None:
    tokens = await oauth_tokens(
        client, transport, scopes=["oauth", "crm.objects.contacts.read", "crm.schemas.deals.read"]
    )
    client.headers["Authorization"] = f"Bearer {tokens['access_token']}"
    assert (await client.get(f"{p['objects']}/contacts")).status_code == 200
    denied = await client.get(f"{p['properties']}/contacts")
    assert denied.status_code == 403
    body = denied.json()
    assert_error_shape(body, "MISSING_SCOPES")
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.schemas.contacts.read"]
    assert (await client.get(f"{p['properties']}/deals")).status_code == 200
    write = await client.post(f"{p['properties']}/deals", json={**SHOE_SIZE, "name": "x"})
    assert write.status_code == 403
