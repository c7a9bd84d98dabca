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
    # The seed's one custom contact property is the score the lead scoring tool made.
    assert [n for n, d in contacts.items() if not d["hubspotDefined"]] == ["lead_fit_score"]


async def test_score_properties_are_calculated_numbers_only_hubspot_writes(
    api: httpx.AsyncClient, p: dict[str, str], sandbox: Sandbox
) -> None:
    contacts = await _by_name(api, p, "contacts")
    legacy, tool = contacts["hubspotscore"], contacts["lead_fit_score"]
    for d in (legacy, tool):
        assert (d["type"], d["fieldType"], d["calculated"]) == ("number", "calculation_score", True)
        assert d["modificationMetadata"]["readOnlyValue"] is True and d["formField"] is False
    assert (legacy["hubspotDefined"], legacy["label"]) == (True, "HubSpot Score")
    assert tool["hubspotDefined"] is False and tool["groupName"] == "scoring"
    # Seeded values vary over the whole range; a few contacts have no score.
    records = sandbox.portal(DEMO_PORTAL_ID).records["contacts"].values()
    legacy_values = [r.properties.get("hubspotscore") for r in records]
    tool_values = [int(v) for r in records if (v := r.properties.get("lead_fit_score"))]
    assert None in legacy_values and len({v for v in legacy_values if v}) > 50
    assert min(tool_values) < 0 < max(tool_values)
    # Callers cannot write a score; numbers compare as numbers in search.
    for name in ("hubspotscore", "lead_fit_score"):
        refused = await api.post(
            f"{p['objects']}/contacts",
            json={"properties": {"email": f"{name}@example.com", name: "99"}},
        )
        assert refused.status_code == 400, refused.text
        assert "READ_ONLY_VALUE" in refused.text
        found = await api.post(
            f"{p['objects']}/contacts/search",
            json={
                "filterGroups": [
                    {"filters": [{"propertyName": name, "operator": "GTE", "value": "9"}]}
                ],
                "sorts": [{"propertyName": name, "direction": "ASCENDING"}],
                "properties": [name],
                "limit": 200,
            },
        )
        got = [int(r["properties"][name]) for r in found.json()["results"]]
        assert got == sorted(got) and got and min(got) >= 9  # as text, "10" < "9"


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
