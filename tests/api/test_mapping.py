"""HubSpot properties ↔ unified models, search filters and inputs (pure functions)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from atom_host_stub.contract import (
    CRMService,
    DealFields,
    Money,
    SearchFilter,
)
from atom_hubspot.client.models import CrmObject, PipelineModel
from atom_hubspot.errors import InputError, MissingScopes, NotFound, Unavailable
from atom_hubspot.service import crm_objects, mapping
from atom_hubspot.service.crm import HubSpotCRMService
from tests.api.fakes import FakeClient
from tests.clocks import StepClock


def _obj(props: dict[str, str | None]) -> CrmObject:
    return CrmObject.model_validate(
        {
            "id": "7",
            "properties": props,
            "createdAt": "2026-01-02T03:04:05.678Z",
            "updatedAt": "2026-02-01T00:00:00Z",
            "archived": False,
        }
    )


def test_contact_maps_known_properties_and_keeps_unknown_as_custom() -> None:
    c = mapping.to_contact(
        _obj(
            {
                "email": "ada@example.com",
                "firstname": "Ada",
                "lastname": "Lovelace",
                "phone": "",
                "company": "AE",
                "lifecyclestage": "lead",
                "favourite_language": "ada",
                "hs_object_id": "7",
                "createdate": "2026-01-02T03:04:05.678Z",
            }
        )
    )
    assert (c.id, c.email, c.first_name, c.last_name, c.company_name, c.lifecycle_stage) == (
        "7",
        "ada@example.com",
        "Ada",
        "Lovelace",
        "AE",
        "lead",
    )
    assert c.phone is None  # "" is HubSpot's empty value
    assert c.custom_fields == {"favourite_language": "ada"}
    assert c.created_at == datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert c.raw["properties"]["favourite_language"] == "ada"


def test_company_employee_count_parses_and_bad_value_is_none() -> None:
    assert (
        mapping.to_company(_obj({"name": "AE", "numberofemployees": "250"})).employee_count == 250
    )
    assert mapping.to_company(_obj({"numberofemployees": "lots"})).employee_count is None


def test_deal_amount_is_decimal_with_deal_or_account_currency() -> None:
    d = mapping.to_deal(
        _obj(
            {
                "dealname": "X",
                "amount": "12500.50",
                "deal_currency_code": "GBP",
                "closedate": "1767139200000",
                "dealstage": "closedwon",
                "pipeline": "default",
                "hubspot_owner_id": "9",
            }
        ),
        account_currency="EUR",
    )
    assert d.amount == Money(amount=Decimal("12500.50"), currency="GBP")
    assert d.close_date == datetime(2025, 12, 31, tzinfo=UTC)
    assert (d.stage_id, d.pipeline_id, d.owner_id) == ("closedwon", "default", "9")
    d2 = mapping.to_deal(_obj({"amount": "10"}), account_currency="EUR")
    assert d2.amount is not None and d2.amount.currency == "EUR"
    assert mapping.to_deal(_obj({"amount": "abc"})).amount is None


def test_fields_to_properties_only_sets_given_fields_and_none_clears() -> None:
    props = mapping.fields_to_properties(
        "deal",
        DealFields(
            name="Big",
            amount=Money(amount=Decimal("1E+3"), currency="usd"),
            close_date=datetime(2026, 12, 31, tzinfo=UTC),
            owner_id=None,
            custom_fields={"renewal": "yes"},
        ),
    )
    assert props == {
        "dealname": "Big",
        "amount": "1000",
        "deal_currency_code": "USD",
        "closedate": "2026-12-31T00:00:00.000Z",
        "hubspot_owner_id": "",
        "renewal": "yes",
    }


def test_fields_to_properties_rejects_bad_email_and_custom_names() -> None:
    from atom_host_stub.contract import ContactFields

    with pytest.raises(InputError) as ei:
        mapping.fields_to_properties(
            "contact", ContactFields(email="not-an-email", custom_fields={"Bad Name": "x"})
        )
    fields = {e["field"] for e in ei.value.errors}
    assert fields == {"email", "custom_fields.Bad Name"}


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        (
            SearchFilter(field="email", value="a@b.co"),
            {"propertyName": "email", "operator": "EQ", "value": "a@b.co"},
        ),
        (
            SearchFilter(field="stage_id", op="in", value=["a", "b"]),
            {"propertyName": "dealstage", "operator": "IN", "values": ["a", "b"]},
        ),
        (
            SearchFilter(field="amount", op="gte", value=Decimal("10.5")),
            {"propertyName": "amount", "operator": "GTE", "value": "10.5"},
        ),
        (
            SearchFilter(field="created_at", op="lt", value=datetime(2026, 1, 1, tzinfo=UTC)),
            {"propertyName": "createdate", "operator": "LT", "value": "1767225600000"},
        ),
        (
            SearchFilter(field="name", op="contains", value="Eng"),
            {"propertyName": "dealname", "operator": "CONTAINS_TOKEN", "value": "*Eng*"},
        ),
        (
            SearchFilter(field="owner_id", op="has"),
            {"propertyName": "hubspot_owner_id", "operator": "HAS_PROPERTY"},
        ),
        (
            SearchFilter(field="custom_fields.renewal", op="neq", value=True),
            {"propertyName": "renewal", "operator": "NEQ", "value": "true"},
        ),
    ],
)
def test_search_filter_maps_ops_and_values(f: SearchFilter, expected: dict) -> None:
    assert mapping.search_filter("deal", f).to_json() == expected


def test_search_filter_unknown_field_is_input_error() -> None:
    with pytest.raises(InputError):
        mapping.search_filter("contact", SearchFilter(field="Not A Field!", value="x"))


def test_pipeline_stages_sorted_with_probability() -> None:
    p = mapping.to_pipeline(
        PipelineModel.model_validate(
            {
                "id": "default",
                "label": "Sales",
                "displayOrder": 0,
                "stages": [
                    {
                        "id": "b",
                        "label": "B",
                        "displayOrder": 2,
                        "metadata": {"probability": "1.0", "isClosed": "true"},
                    },
                    {
                        "id": "a",
                        "label": "A",
                        "displayOrder": 1,
                        "metadata": {"probability": "0.2"},
                    },
                ],
            }
        )
    )
    assert [s.id for s in p.stages] == ["a", "b"]
    assert p.stages[0].probability == Decimal("0.2") and p.stages[0].is_closed is None
    assert p.stages[1].is_closed is True


# ----------------------------------------------------------------- the service on the fake


async def test_service_implements_contract_and_round_trips() -> None:
    client = FakeClient(currency="EUR")
    svc = HubSpotCRMService(client)
    assert isinstance(svc, CRMService)
    company = await svc.create_record(
        "company", mapping.FIELDS_BY_KIND["company"](name="AE", employee_count=5)
    )
    deal = await svc.create_record(
        "deal",
        DealFields(name="D", amount=Money(amount=Decimal("99.90")), company_ids=[company.id]),
    )
    assert deal.amount == Money(amount=Decimal("99.90"), currency="EUR")  # account currency
    create = [c for c in client.calls if c[0] == "create" and c[1] == "deals"][-1][2]
    assert create["associations"] == [
        {
            "to": {"id": company.id},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}],
        }
    ]
    updated = await svc.update_record("deal", deal.id, DealFields(name="D2"))
    assert updated.name == "D2" and updated.amount.amount == Decimal("99.90")
    page = await svc.search_records("deal", [SearchFilter(field="name", op="contains", value="D2")])
    assert [d.id for d in page.items] == [deal.id]
    await svc.delete_record("deal", deal.id)
    with pytest.raises(NotFound):
        await svc.get_record("deal", deal.id)
    assert client.account.calls == 1  # currency looked up once


async def test_service_list_pages_with_cursor() -> None:
    client = FakeClient()
    for n in range(5):
        client.contacts.add({"email": f"p{n}@example.com"})
    svc = HubSpotCRMService(client)
    seen: list[str] = []
    cursor = None
    while True:
        page = await svc.list_records("contact", limit=2, cursor=cursor)
        seen += [c.email for c in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [f"p{n}@example.com" for n in range(5)]


async def test_service_non_numeric_id_is_not_found_without_a_call() -> None:
    client = FakeClient()
    with pytest.raises(NotFound):
        await HubSpotCRMService(client).get_record("contact", "../../x")
    assert client.calls == []


# ----------------------------------------------------------------- custom properties on reads


async def test_reads_name_custom_properties_from_the_properties_api_cached_per_portal() -> None:
    client = FakeClient(portal_id=5)
    client.contacts.add({"email": "ui@example.com", "shoe_size": "44", "tier": "gold"})
    client.properties.add("contacts", "email", hubspot_defined=True)
    client.properties.add("contacts", "shoe_size", hubspot_defined=None)  # legacy: key left out
    cache: dict[Any, Any] = {}
    written: dict[Any, set[str]] = {(5, "contact"): {"written_one"}}
    clock = StepClock(1000.0)

    def svc() -> HubSpotCRMService:
        return HubSpotCRMService(
            client, custom_properties=written, property_names=cache, clock=clock
        )

    page = await svc().list_records("contact")
    assert page.items[0].custom_fields == {"shoe_size": "44"}  # `tier` is not a property yet
    asked = client.calls[-1][2]["properties"]
    assert asked[-2:] == ["written_one", "shoe_size"]  # written ones first
    assert "email" in asked and asked.count("email") == 1
    # Another service of the same process reuses the answer until it expires.
    client.properties.add("contacts", "tier")
    await svc().list_records("contact")
    assert client.properties.calls == ["contacts"]
    clock.advance(crm_objects.PROPERTY_NAMES_TTL_S + 1)
    page = await svc().list_records("contact")
    assert page.items[0].custom_fields == {"shoe_size": "44", "tier": "gold"}
    assert client.properties.calls == ["contacts", "contacts"]


async def test_without_the_schema_scope_reads_fall_back_and_say_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="atom_hubspot.service.crm")
    client = FakeClient(portal_id=6)
    rid = client.contacts.add({"email": "w@example.com", "written_one": "x", "ui_only": "y"})
    client.properties.error = MissingScopes(
        "missing", status=403, required_scopes=["crm.schemas.contacts.read"]
    )
    cache: dict[Any, Any] = {}
    written: dict[Any, set[str]] = {(6, "contact"): {"written_one"}}
    clock = StepClock(1000.0)
    for _ in range(2):
        svc = HubSpotCRMService(
            client, custom_properties=written, property_names=cache, clock=clock
        )
        contact = await svc.get_record("contact", rid)
        assert contact.custom_fields == {"written_one": "x"}
        # Asked again after expiry: still refused.
        clock.advance(crm_objects.PROPERTY_NAMES_TTL_S + 1)
    assert client.properties.calls == ["contacts", "contacts"]
    infos = [r for r in caplog.records if r.name == "atom_hubspot.service.crm"]
    assert len(infos) == 1 and infos[0].levelno == logging.INFO
    assert "crm.schemas.contacts.read" in infos[0].getMessage()
    assert "w@example.com" not in infos[0].getMessage()


async def test_other_failures_keep_the_names_known_and_retry_soon() -> None:
    client = FakeClient(portal_id=7)
    rid = client.deals.add({"dealname": "D", "renewal_term": "12"})
    client.properties.add("deals", "renewal_term")
    cache: dict[Any, Any] = {}
    clock = StepClock(1000.0)
    svc = HubSpotCRMService(client, property_names=cache, clock=clock)
    assert (await svc.get_record("deal", rid)).custom_fields == {"renewal_term": "12"}
    clock.advance(crm_objects.PROPERTY_NAMES_TTL_S + 1)
    client.properties.error = Unavailable("down", status=503)
    # The read still works, with the names last listed.
    assert (await svc.get_record("deal", rid)).custom_fields == {"renewal_term": "12"}
    await svc.get_record("deal", rid)
    assert len(client.properties.calls) == 2  # not asked on every read meanwhile
    clock.advance(crm_objects.PROPERTY_NAMES_RETRY_S + 1)
    client.properties.error = None
    await svc.get_record("deal", rid)
    assert len(client.properties.calls) == 3


def test_custom_fields_list_the_values_a_record_has_not_every_portal_property() -> None:
    obj = CrmObject.model_validate(
        {
            "id": "7",
            "properties": {
                "email": "a@b.example",
                "shoe_size": "42",
                "favourite_colour": None,
                "hs_object_id": "7",
            },
        }
    )
    contact = mapping.to_contact(obj)
    assert contact.custom_fields == {"shoe_size": "42"}
    assert contact.email == "a@b.example"
