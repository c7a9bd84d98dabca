"""The CRM capability contract: one suite, run against every provider (`crm_provider`).

A caller written against these tests works with HubSpot and with any other CRM plugin. Errors
are asserted by their provider-independent `crm_code` (contract.CRMError), never by
provider-specific types or messages.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from atom_host_stub.contract import (
    CompanyFields,
    ContactFields,
    CRMError,
    CRMService,
    DealFields,
    Money,
    SearchFilter,
)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def new_contact(**fields: Any) -> ContactFields:
    return ContactFields(email=f"{unique('c')}@example.com", **fields)


async def expect_code(code: str, call: Any) -> CRMError:
    with pytest.raises(CRMError) as error:
        await call
    got = error.value.crm_code
    assert got == code, f"expected {code}, got {got} ({error.value.code}): {error.value}"
    return error.value


async def all_pages(fetch: Any, limit: int) -> list[Any]:
    """Follow cursors to the end (bounded, so a cursor that never ends fails the test)."""
    items: list[Any] = []
    cursor = None
    for _ in range(200):
        page = await fetch(limit=limit, cursor=cursor)
        assert len(page.items) <= limit
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor
    raise AssertionError("the cursor never reached the end")


# --------------------------------------------------------------------------- contacts


async def test_a_created_contact_reads_back_the_same(crm_provider: CRMService) -> None:
    fields = new_contact(first_name="Ada", last_name="Lovelace", phone="+44 20 7946 0000")
    created = await crm_provider.create_record("contact", fields)
    assert isinstance(created.id, str) and created.id
    fetched = await crm_provider.get_record("contact", created.id)
    assert (fetched.email, fetched.first_name, fetched.last_name, fetched.phone) == (
        fields.email,
        "Ada",
        "Lovelace",
        "+44 20 7946 0000",
    )
    assert fetched.archived is False
    assert fetched.created_at is not None and fetched.created_at.tzinfo is not None
    assert fetched.updated_at is not None and fetched.updated_at >= fetched.created_at
    assert fetched.raw, "the provider's own record is kept in `raw`"


async def test_update_is_partial(crm_provider: CRMService) -> None:
    created = await crm_provider.create_record(
        "contact", new_contact(first_name="Ada", last_name="Byron")
    )
    updated = await crm_provider.update_record(
        "contact", created.id, ContactFields(last_name="Lovelace")
    )
    assert (updated.id, updated.first_name, updated.last_name) == (created.id, "Ada", "Lovelace")
    assert updated.email == created.email
    assert (await crm_provider.get_record("contact", created.id)).last_name == "Lovelace"


async def test_a_deleted_record_is_not_found_and_not_listed(crm_provider: CRMService) -> None:
    created = await crm_provider.create_record("contact", new_contact())
    await crm_provider.delete_record("contact", created.id)
    await expect_code("not_found", crm_provider.get_record("contact", created.id))
    await expect_code(
        "not_found",
        crm_provider.update_record("contact", created.id, ContactFields(first_name="Ghost")),
    )
    listed = await all_pages(lambda **kw: crm_provider.list_records("contact", **kw), 100)
    assert created.id not in {r.id for r in listed}


@pytest.mark.parametrize("kind", ["contact", "company", "deal"])
async def test_an_unknown_id_is_not_found(crm_provider: CRMService, kind: Any) -> None:
    error = await expect_code("not_found", crm_provider.get_record(kind, "987654321987"))
    assert error.http_status == 404


async def test_a_second_contact_with_the_same_email_is_a_conflict(crm_provider: CRMService) -> None:
    first = await crm_provider.create_record("contact", new_contact())
    error = await expect_code(
        "conflict", crm_provider.create_record("contact", ContactFields(email=first.email))
    )
    assert error.http_status == 409


async def test_custom_fields_read_back(crm_provider: CRMService) -> None:
    contact = await crm_provider.create_record(
        "contact", new_contact(custom_fields={"favourite_language": "Python"})
    )
    fetched = await crm_provider.get_record("contact", contact.id)
    assert fetched.custom_fields["favourite_language"] == "Python"
    deal = await crm_provider.create_record(
        "deal", DealFields(name=unique("Deal "), custom_fields={"renewal_term": "12 months"})
    )
    updated = await crm_provider.update_record(
        "deal", deal.id, DealFields(custom_fields={"renewal_term": "24 months"})
    )
    assert updated.custom_fields["renewal_term"] == "24 months"
    assert (await crm_provider.get_record("deal", deal.id)).custom_fields["renewal_term"] == (
        "24 months"
    )


async def test_an_unknown_custom_field_is_a_validation_error(crm_provider: CRMService) -> None:
    await expect_code(
        "validation_error",
        crm_provider.create_record(
            "contact", new_contact(custom_fields={"no_such_field_anywhere": "x"})
        ),
    )


async def test_invalid_paging_and_kinds_are_validation_errors(crm_provider: CRMService) -> None:
    await expect_code("validation_error", crm_provider.list_records("contact", limit=0))
    await expect_code("validation_error", crm_provider.list_records("invoice", limit=5))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- companies


async def test_companies_round_trip_and_page_through_every_record(crm_provider: CRMService) -> None:
    names = [unique("Acme ") for _ in range(3)]
    created = [
        await crm_provider.create_record(
            "company",
            CompanyFields(
                name=name,
                domain=f"{name.split()[1]}.example.com",
                city="Leeds",
                country="United Kingdom",
                employee_count=42,
            ),
        )
        for name in names
    ]
    fetched = await crm_provider.get_record("company", created[0].id)
    assert (fetched.name, fetched.domain, fetched.city, fetched.employee_count) == (
        names[0],
        created[0].domain,
        "Leeds",
        42,
    )
    listed = await all_pages(lambda **kw: crm_provider.list_records("company", **kw), 2)
    ids = [r.id for r in listed]
    assert len(ids) == len(set(ids)), "a record appeared on two pages"
    assert {c.id for c in created} <= set(ids)


# --------------------------------------------------------------------------- deals, pipelines


async def test_pipelines_have_ordered_stages(crm_provider: CRMService) -> None:
    pipelines = await crm_provider.list_pipelines()
    assert pipelines
    for pipeline in pipelines:
        assert pipeline.id and pipeline.label and pipeline.stages
        orders = [s.display_order for s in pipeline.stages]
        assert orders == sorted(orders)


async def test_a_deal_keeps_money_as_decimal_with_its_currency(crm_provider: CRMService) -> None:
    pipeline = (await crm_provider.list_pipelines())[0]
    stage = pipeline.stages[0]
    close = datetime(2027, 3, 31, 12, 0, tzinfo=UTC)
    created = await crm_provider.create_record(
        "deal",
        DealFields(
            name=unique("Deal "),
            amount=Money(amount=Decimal("1234.50"), currency="EUR"),
            pipeline_id=pipeline.id,
            stage_id=stage.id,
            close_date=close,
        ),
    )
    deal = await crm_provider.get_record("deal", created.id)
    assert deal.amount is not None
    assert isinstance(deal.amount.amount, Decimal)
    assert deal.amount.amount == Decimal("1234.50")
    assert deal.amount.currency == "EUR"
    assert (deal.pipeline_id, deal.stage_id) == (pipeline.id, stage.id)
    assert deal.close_date is not None and deal.close_date == close


async def test_a_deal_in_an_unknown_stage_is_a_validation_error(crm_provider: CRMService) -> None:
    pipeline = (await crm_provider.list_pipelines())[0]
    await expect_code(
        "validation_error",
        crm_provider.create_record(
            "deal",
            DealFields(name=unique("Deal "), pipeline_id=pipeline.id, stage_id="no-such-stage"),
        ),
    )


# --------------------------------------------------------------------------- search


async def test_search_by_email_finds_exactly_that_contact(crm_provider: CRMService) -> None:
    target = await crm_provider.create_record("contact", new_contact(first_name="Grace"))
    await crm_provider.create_record("contact", new_contact(first_name="Grace"))
    page = await crm_provider.search_records(
        "contact", [SearchFilter(field="email", op="eq", value=target.email)]
    )
    assert [r.id for r in page.items] == [target.id]
    assert page.next_cursor is None


async def test_search_filters_are_anded_and_pages_follow_the_cursor(
    crm_provider: CRMService,
) -> None:
    company = unique("Initech")
    ids = [
        (
            await crm_provider.create_record(
                "contact", new_contact(company_name=company, last_name=name)
            )
        ).id
        for name in ("Bolton", "Waddams", "Lumbergh")
    ]
    filters = [SearchFilter(field="company_name", op="eq", value=company)]
    first = await crm_provider.search_records("contact", filters, limit=2)
    assert len(first.items) == 2 and first.next_cursor is not None
    second = await crm_provider.search_records(
        "contact", filters, limit=2, cursor=first.next_cursor
    )
    assert len(second.items) == 1 and second.next_cursor is None
    assert sorted(r.id for r in first.items + second.items) == sorted(ids)
    narrowed = await crm_provider.search_records(
        "contact", [*filters, SearchFilter(field="last_name", op="eq", value="Waddams")]
    )
    assert [r.id for r in narrowed.items] == [ids[1]]


async def test_search_compares_money_by_amount(crm_provider: CRMService) -> None:
    name = unique("Sized ")
    small = await crm_provider.create_record(
        "deal", DealFields(name=name, amount=Money(amount=Decimal("99.99"), currency="USD"))
    )
    large = await crm_provider.create_record(
        "deal", DealFields(name=name, amount=Money(amount=Decimal("5000"), currency="USD"))
    )
    page = await crm_provider.search_records(
        "deal",
        [
            SearchFilter(field="name", op="eq", value=name),
            SearchFilter(field="amount", op="gte", value=Decimal("100")),
        ],
    )
    assert [r.id for r in page.items] == [large.id]
    assert small.id != large.id


async def test_search_contains_and_has(crm_provider: CRMService) -> None:
    token = unique("zz")
    with_phone = await crm_provider.create_record(
        "contact", new_contact(last_name=f"Smith-{token}", phone="+1 555 0100")
    )
    without_phone = await crm_provider.create_record(
        "contact", new_contact(last_name=f"Jones-{token}")
    )
    contains = await crm_provider.search_records(
        "contact", [SearchFilter(field="last_name", op="contains", value=token)]
    )
    assert {r.id for r in contains.items} == {with_phone.id, without_phone.id}
    has_phone = await crm_provider.search_records(
        "contact",
        [
            SearchFilter(field="last_name", op="contains", value=token),
            SearchFilter(field="phone", op="has"),
        ],
    )
    assert [r.id for r in has_phone.items] == [with_phone.id]
