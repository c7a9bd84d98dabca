"""Associations (inline, default link, reads, batch) and deal pipelines — both path styles."""

from __future__ import annotations

import httpx

from .conftest import assert_error_shape

HUBSPOT_DEFINED = "HUBSPOT_DEFINED"


async def _new(
    api: httpx.AsyncClient,
    p: dict[str, str],
    otype: str,
    props: dict[str, str],
    associations: list | None = None,
) -> str:
    body: dict = {"properties": props}
    if associations:
        body["associations"] = associations
    r = await api.post(f"{p['objects']}/{otype}", json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_inline_associations_on_create_and_v3_reads(
    api: httpx.AsyncClient, p: dict[str, str]
):
    company = await _new(api, p, "companies", {"name": "Inline Co", "domain": "inline.example"})
    contact = await _new(
        api,
        p,
        "contacts",
        {"email": "inline@inline.example"},
        [
            {
                "to": {"id": company},
                "types": [{"associationCategory": HUBSPOT_DEFINED, "associationTypeId": 279}],
            }
        ],
    )
    deal = await _new(
        api,
        p,
        "deals",
        {"dealname": "Inline deal", "dealstage": "qualifiedtobuy", "pipeline": "default"},
        [
            {
                "to": {"id": contact},
                "types": [{"associationCategory": HUBSPOT_DEFINED, "associationTypeId": 3}],
            },
            {
                "to": {"id": company},
                "types": [{"associationCategory": HUBSPOT_DEFINED, "associationTypeId": 341}],
            },
        ],
    )
    r = await api.get(
        f"{p['objects']}/contacts/{contact}", params={"associations": "companies,deals"}
    )
    links = r.json()["associations"]
    assert links["companies"]["results"] == [
        {"id": company, "type": "contact_to_company_unlabeled"}
    ]
    assert links["deals"]["results"] == [{"id": deal, "type": "contact_to_deal"}]
    r = await api.get(f"{p['assoc_objects']}/companies/{company}/associations/deals")
    assert r.json()["results"] == [
        {
            "toObjectId": int(deal),
            "associationTypes": [{"category": HUBSPOT_DEFINED, "typeId": 342, "label": None}],
        }
    ]


async def test_inline_association_errors(api: httpx.AsyncClient, p: dict[str, str]):
    r = await api.post(
        f"{p['objects']}/contacts",
        json={
            "properties": {"email": "wrong-type@example.com"},
            "associations": [
                {
                    "to": {"id": "1001"},
                    "types": [{"associationCategory": HUBSPOT_DEFINED, "associationTypeId": 3}],
                }
            ],
        },
    )
    assert r.status_code == 400
    assert_error_shape(r.json(), "VALIDATION_ERROR")
    r = await api.post(
        f"{p['objects']}/contacts",
        json={
            "properties": {"email": "missing-target@example.com"},
            "associations": [
                {
                    "to": {"id": "987654321"},
                    "types": [{"associationCategory": HUBSPOT_DEFINED, "associationTypeId": 279}],
                }
            ],
        },
    )
    assert r.status_code == 400


async def test_default_link_put_and_v4_read(api: httpx.AsyncClient, p: dict[str, str]):
    contact = await _new(api, p, "contacts", {"email": "linked@example.com"})
    company = await _new(api, p, "companies", {"name": "Linked", "domain": "linked.example"})
    r = await api.put(
        f"{p['assoc_objects']}/contacts/{contact}/associations/default/companies/{company}"
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "COMPLETE"
    assert body["results"][0]["associationSpec"] == {
        "associationCategory": HUBSPOT_DEFINED,
        "associationTypeId": 279,
    }
    back = await api.get(f"{p['assoc_objects']}/companies/{company}/associations/contacts")
    assert back.json()["results"][0]["toObjectId"] == int(contact)
    assert back.json()["results"][0]["associationTypes"][0]["typeId"] == 280
    missing = await api.put(
        f"{p['assoc_objects']}/contacts/{contact}/associations/default/companies/999999999"
    )
    assert missing.status_code == 404
    deleted = await api.delete(
        f"{p['assoc_objects']}/contacts/{contact}/associations/companies/{company}"
    )
    assert deleted.status_code == 204
    after = await api.get(f"{p['assoc_objects']}/contacts/{contact}/associations/companies")
    assert after.json()["results"] == []


async def test_labelled_create_with_primary(api: httpx.AsyncClient, p: dict[str, str]):
    contact = await _new(api, p, "contacts", {"email": "primary@example.com"})
    company = await _new(api, p, "companies", {"name": "Primary", "domain": "primary.example"})
    r = await api.put(
        f"{p['assoc_objects']}/contacts/{contact}/associations/companies/{company}",
        json=[{"associationCategory": HUBSPOT_DEFINED, "associationTypeId": 1}],
    )
    assert r.status_code == 201 and r.json()["labels"] == ["Primary"]
    read = await api.get(f"{p['assoc_objects']}/contacts/{contact}/associations/companies")
    assert read.json()["results"][0]["associationTypes"] == [
        {"category": HUBSPOT_DEFINED, "typeId": 1, "label": "Primary"}
    ]
    # The category may be left out (HubSpot's own example does); a wrong type id may not.
    r = await api.put(
        f"{p['assoc_objects']}/contacts/{contact}/associations/companies/{company}",
        json=[{"associationTypeId": 279}],
    )
    assert r.status_code == 201
    bad = await api.put(
        f"{p['assoc_objects']}/contacts/{contact}/associations/companies/{company}",
        json=[{"associationTypeId": 3}],
    )
    assert bad.status_code == 400


async def test_batch_read_create_archive_default(api: httpx.AsyncClient, p: dict[str, str]):
    contacts = [
        o["id"]
        for o in (await api.get(f"{p['objects']}/contacts", params={"limit": 3})).json()["results"]
    ]
    lonely = await _new(api, p, "contacts", {"email": "lonely@example.com"})
    r = await api.post(
        f"{p['assoc_batch']}/contacts/companies/batch/read",
        json={"inputs": [{"id": c} for c in [*contacts, lonely]]},
    )
    assert r.status_code == 207
    body = r.json()
    assert [x["from"]["id"] for x in body["results"]] == contacts
    assert body["results"][0]["to"][0]["associationTypes"]
    assert body["numErrors"] == 1
    company = await _new(api, p, "companies", {"name": "B", "domain": "b-batch.example"})
    r = await api.post(
        f"{p['assoc_batch']}/contacts/companies/batch/associate/default",
        json={"inputs": [{"from": {"id": lonely}, "to": {"id": company}}]},
    )
    assert (
        r.status_code == 200
        and r.json()["results"][0]["associationSpec"]["associationTypeId"] == 279
    )
    deal = await _new(api, p, "deals", {"dealname": "Batch"})
    r = await api.post(
        f"{p['assoc_batch']}/deals/contacts/batch/create",
        json={
            "inputs": [
                {
                    "from": {"id": deal},
                    "to": {"id": lonely},
                    "types": [{"associationCategory": HUBSPOT_DEFINED, "associationTypeId": 3}],
                }
            ]
        },
    )
    assert r.status_code == 201
    r = await api.post(
        f"{p['assoc_batch']}/deals/contacts/batch/archive",
        json={"inputs": [{"from": {"id": deal}, "to": [{"id": lonely}]}]},
    )
    assert r.status_code == 204
    r = await api.get(f"{p['assoc_objects']}/deals/{deal}/associations/contacts")
    assert r.json()["results"] == []


async def test_pipelines_and_stages(api: httpx.AsyncClient, p: dict[str, str]):
    r = await api.get(f"{p['pipelines']}/deals")
    assert r.status_code == 200
    pipelines = r.json()["results"]
    assert "paging" not in r.json()
    default = next(x for x in pipelines if x["id"] == "default")
    assert [s["id"] for s in default["stages"]] == [
        "appointmentscheduled",
        "qualifiedtobuy",
        "presentationscheduled",
        "decisionmakerboughtin",
        "contractsent",
        "closedwon",
        "closedlost",
    ]
    for key in ("label", "displayOrder", "archived"):
        assert key in default
    stages = (await api.get(f"{p['pipelines']}/deals/default/stages")).json()["results"]
    won = next(s for s in stages if s["id"] == "closedwon")
    assert won["metadata"] == {"probability": "1.0", "isClosed": "true"}
    assert all(isinstance(v, str) for s in stages for v in s["metadata"].values())
    assert (await api.get(f"{p['pipelines']}/deals/nope/stages")).status_code == 404
    one = await api.get(f"{p['pipelines']}/deals/default")
    assert one.json()["id"] == "default"


async def test_seeded_deals_spread_over_every_stage(api: httpx.AsyncClient, p: dict[str, str]):
    for stage in ("appointmentscheduled", "closedwon", "closedlost", "contractsent"):
        r = await api.post(
            f"{p['objects']}/deals/search",
            json={
                "limit": 1,
                "filterGroups": [
                    {"filters": [{"propertyName": "dealstage", "operator": "EQ", "value": stage}]}
                ],
            },
        )
        assert r.json()["total"] > 0, stage


async def test_batch_read_pages_each_input(api: httpx.AsyncClient, p: dict[str, str], sandbox):
    from atom_hubspot.sandbox.objects import COMPANIES, CONTACTS

    portal = sandbox.portals[1234567]
    company = portal.create(COMPANIES, {"name": "Big"}, sandbox.now())
    for i in range(501):
        c = portal.create(CONTACTS, {"firstname": f"p{i}"}, sandbox.now())
        portal.link_default("companies", company.id, "contacts", c.id)
    url = f"{p['assoc_batch']}/companies/contacts/batch/read"
    first = (await api.post(url, json={"inputs": [{"id": str(company.id)}]})).json()
    result = first["results"][0]
    assert len(result["to"]) == 500
    after = result["paging"]["next"]["after"]
    rest = (await api.post(url, json={"inputs": [{"id": str(company.id), "after": after}]})).json()
    assert len(rest["results"][0]["to"]) == 1 and "paging" not in rest["results"][0]
