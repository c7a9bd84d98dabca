"""The CRM capability contract suite: what every provider of the `crm` capability does, so a
caller written against it works with HubSpot and with any other CRM plugin.

Run it against your plugin with one option, `pytest --atom-crm-contract=PLUGIN` (the plugin's
entry-point name), or subclass `CRMContract` in a test module (`class TestMyCRM(CRMContract)`)
and override fixtures in the class where your plugin needs setup (`atom_env`,
`atom_host_state`, `atom_host`; see `atom_host_stub.testing.plugin`).

Errors are asserted by their provider-independent `crm_code` (contract.CRMError), never by
provider-specific types or messages.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

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

if TYPE_CHECKING:
    from atom_host_stub.contract import Principal
    from atom_host_stub.host import Host


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


class CRMContract:
    """The suite; a subclass named `Test...` runs it (pytest collects inherited tests)."""

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [
        pytest.mark.asyncio,
        pytest.mark.atom_crm_contract,
    ]

    # ----------------------------------------------------------------------- the provider

    async def test_the_chosen_provider_serves_the_capability(
        self, atom_crm: CRMService, atom_crm_provider: str
    ) -> None:
        assert isinstance(atom_crm, CRMService)
        assert atom_crm.provider == atom_crm_provider

    async def test_one_tenant_never_sees_anothers_records(
        self, atom_crm: CRMService, atom_host: Host, atom_other_principal: Principal
    ) -> None:
        created = await atom_crm.create_record("contact", new_contact())
        try:
            other = await atom_host.services.get_service("crm", atom_other_principal)
        except CRMError as exc:  # e.g. not connected to the provider at all
            assert exc.crm_code == "not_connected"
            return
        await expect_code(code="not_found", call=other.get_record("contact", created.id))

    # ----------------------------------------------------------------------- contacts

    async def test_a_created_contact_reads_back_the_same(self, atom_crm: CRMService) -> None:
        fields = new_contact(first_name="Ada", last_name="Lovelace", phone="+44 20 7946 0000")
        created = await atom_crm.create_record("contact", fields)
        assert isinstance(created.id, str) and created.id
        fetched = await atom_crm.get_record("contact", created.id)
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

    async def test_update_is_partial(self, atom_crm: CRMService) -> None:
        created = await atom_crm.create_record(
            "contact", new_contact(first_name="Ada", last_name="Byron")
        )
        updated = await atom_crm.update_record(
            "contact", created.id, ContactFields(last_name="Lovelace")
        )
        assert (updated.id, updated.first_name, updated.last_name) == (
            created.id,
            "Ada",
            "Lovelace",
        )
        assert updated.email == created.email
        assert (await atom_crm.get_record("contact", created.id)).last_name == "Lovelace"

    async def test_a_deleted_record_is_not_found_and_not_listed(self, atom_crm: CRMService) -> None:
        created = await atom_crm.create_record("contact", new_contact())
        await atom_crm.delete_record("contact", created.id)
        await expect_code("not_found", atom_crm.get_record("contact", created.id))
        await expect_code(
            "not_found",
            atom_crm.update_record("contact", created.id, ContactFields(first_name="Ghost")),
        )
        listed = await all_pages(lambda **kw: atom_crm.list_records("contact", **kw), 100)
        assert created.id not in {r.id for r in listed}

    @pytest.mark.parametrize("kind", ["contact", "company", "deal"])
    async def test_an_unknown_id_is_not_found(self, atom_crm: CRMService, kind: Any) -> None:
        error = await expect_code("not_found", atom_crm.get_record(kind, "987654321987"))
        assert error.http_status == 404

    async def test_a_second_contact_with_the_same_email_is_a_conflict(
        self, atom_crm: CRMService
    ) -> None:
        first = await atom_crm.create_record("contact", new_contact())
        error = await expect_code(
            "conflict", atom_crm.create_record("contact", ContactFields(email=first.email))
        )
        assert error.http_status == 409

    async def test_custom_fields_read_back(
        self, atom_crm: CRMService, atom_crm_custom_fields: dict[str, str]
    ) -> None:
        on_contact, on_deal = atom_crm_custom_fields["contact"], atom_crm_custom_fields["deal"]
        contact = await atom_crm.create_record(
            "contact", new_contact(custom_fields={on_contact: "Python"})
        )
        fetched = await atom_crm.get_record("contact", contact.id)
        assert fetched.custom_fields[on_contact] == "Python"
        deal = await atom_crm.create_record(
            "deal", DealFields(name=unique("Deal "), custom_fields={on_deal: "12 months"})
        )
        updated = await atom_crm.update_record(
            "deal", deal.id, DealFields(custom_fields={on_deal: "24 months"})
        )
        assert updated.custom_fields[on_deal] == "24 months"
        assert (await atom_crm.get_record("deal", deal.id)).custom_fields[on_deal] == "24 months"

    async def test_an_unknown_custom_field_is_a_validation_error(
        self, atom_crm: CRMService
    ) -> None:
        await expect_code(
            "validation_error",
            atom_crm.create_record(
                "contact", new_contact(custom_fields={"no_such_field_anywhere": "x"})
            ),
        )

    async def test_invalid_paging_and_kinds_are_validation_errors(
        self, atom_crm: CRMService
    ) -> None:
        await expect_code("validation_error", atom_crm.list_records("contact", limit=0))
        # A kind outside the contract's Literal, on purpose: the provider must refuse it.
        invoice: Any = "invoice"
        await expect_code("validation_error", atom_crm.list_records(invoice, limit=5))

    # ----------------------------------------------------------------------- companies

    async def test_companies_round_trip_and_page_through_every_record(
        self, atom_crm: CRMService
    ) -> None:
        names = [unique("Acme ") for _ in range(3)]
        created = [
            await atom_crm.create_record(
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
        fetched = await atom_crm.get_record("company", created[0].id)
        assert (fetched.name, fetched.domain, fetched.city, fetched.employee_count) == (
            names[0],
            created[0].domain,
            "Leeds",
            42,
        )
        listed = await all_pages(lambda **kw: atom_crm.list_records("company", **kw), 2)
        ids = [r.id for r in listed]
        assert len(ids) == len(set(ids)), "a record appeared on two pages"
        assert {c.id for c in created} <= set(ids)

    # ----------------------------------------------------------------------- deals, pipelines

    async def test_pipelines_have_ordered_stages(self, atom_crm: CRMService) -> None:
        pipelines = await atom_crm.list_pipelines()
        assert pipelines
        for pipeline in pipelines:
            assert pipeline.id and pipeline.label and pipeline.stages
            orders = [s.display_order for s in pipeline.stages]
            assert orders == sorted(orders)

    async def test_a_deal_keeps_money_as_decimal_with_its_currency(
        self, atom_crm: CRMService
    ) -> None:
        pipeline = (await atom_crm.list_pipelines())[0]
        stage = pipeline.stages[0]
        close = datetime(2027, 3, 31, 12, 0, tzinfo=UTC)
        created = await atom_crm.create_record(
            "deal",
            DealFields(
                name=unique("Deal "),
                amount=Money(amount=Decimal("1234.50"), currency="EUR"),
                pipeline_id=pipeline.id,
                stage_id=stage.id,
                close_date=close,
            ),
        )
        deal = await atom_crm.get_record("deal", created.id)
        assert deal.amount is not None
        assert isinstance(deal.amount.amount, Decimal)
        assert deal.amount.amount == Decimal("1234.50")
        assert deal.amount.currency == "EUR"
        assert (deal.pipeline_id, deal.stage_id) == (pipeline.id, stage.id)
        assert deal.close_date is not None and deal.close_date == close

    async def test_a_deal_in_an_unknown_stage_is_a_validation_error(
        self, atom_crm: CRMService
    ) -> None:
        pipeline = (await atom_crm.list_pipelines())[0]
        await expect_code(
            "validation_error",
            atom_crm.create_record(
                "deal",
                DealFields(name=unique("Deal "), pipeline_id=pipeline.id, stage_id="no-such-stage"),
            ),
        )

    # ----------------------------------------------------------------------- read source

    async def test_reads_say_where_they_come_from_and_live_forces_the_crm(
        self, atom_crm: CRMService
    ) -> None:
        before = datetime.now(UTC)
        created = await atom_crm.create_record("contact", new_contact(first_name="Origin"))
        for source in ("live", "auto"):
            found = await atom_crm.get_record("contact", created.id, source=source)
            assert found.id == created.id and found.first_name == "Origin"
            assert found.origin is not None, "a read says its source and as_of"
            assert found.origin.as_of is not None and found.origin.as_of.tzinfo is not None
            if source == "live":
                assert found.origin.source == "live" and found.origin.as_of >= before
        page = await atom_crm.list_records("contact", limit=1, source="live")
        assert page.origin is not None and page.origin.source == "live"
        assert page.total is None or page.total >= len(page.items) == 1
        hits = await atom_crm.search_records(
            "contact", [SearchFilter(field="email", op="eq", value=created.email)], source="live"
        )
        assert [r.id for r in hits.items] == [created.id]
        assert hits.origin is not None and hits.origin.source == "live"
        assert hits.total in (None, 1)
        assert "origin" not in found.model_dump(), "where a read came from is not a field"

    # ----------------------------------------------------------------------- search

    async def test_search_by_email_finds_exactly_that_contact(self, atom_crm: CRMService) -> None:
        target = await atom_crm.create_record("contact", new_contact(first_name="Grace"))
        await atom_crm.create_record("contact", new_contact(first_name="Grace"))
        page = await atom_crm.search_records(
            "contact", [SearchFilter(field="email", op="eq", value=target.email)]
        )
        assert [r.id for r in page.items] == [target.id]
        assert page.next_cursor is None

    async def test_search_filters_are_anded_and_pages_follow_the_cursor(
        self, atom_crm: CRMService
    ) -> None:
        company = unique("Initech")
        ids = [
            (
                await atom_crm.create_record(
                    "contact", new_contact(company_name=company, last_name=name)
                )
            ).id
            for name in ("Bolton", "Waddams", "Lumbergh")
        ]
        filters = [SearchFilter(field="company_name", op="eq", value=company)]
        first = await atom_crm.search_records("contact", filters, limit=2)
        assert len(first.items) == 2 and first.next_cursor is not None
        second = await atom_crm.search_records(
            "contact", filters, limit=2, cursor=first.next_cursor
        )
        assert len(second.items) == 1 and second.next_cursor is None
        assert sorted(r.id for r in first.items + second.items) == sorted(ids)
        narrowed = await atom_crm.search_records(
            "contact", [*filters, SearchFilter(field="last_name", op="eq", value="Waddams")]
        )
        assert [r.id for r in narrowed.items] == [ids[1]]

    async def test_search_compares_money_by_amount(self, atom_crm: CRMService) -> None:
        name = unique("Sized ")
        small = await atom_crm.create_record(
            "deal", DealFields(name=name, amount=Money(amount=Decimal("99.99"), currency="USD"))
        )
        large = await atom_crm.create_record(
            "deal", DealFields(name=name, amount=Money(amount=Decimal("5000"), currency="USD"))
        )
        page = await atom_crm.search_records(
            "deal",
            [
                SearchFilter(field="name", op="eq", value=name),
                SearchFilter(field="amount", op="gte", value=Decimal("100")),
            ],
        )
        assert [r.id for r in page.items] == [large.id]
        assert small.id != large.id

    async def test_search_contains_and_has(self, atom_crm: CRMService) -> None:
        token = unique("zz")
        with_phone = await atom_crm.create_record(
            "contact", new_contact(last_name=f"Smith-{token}", phone="+1 555 0100")
        )
        without_phone = await atom_crm.create_record(
            "contact", new_contact(last_name=f"Jones-{token}")
        )
        contains = await atom_crm.search_records(
            "contact", [SearchFilter(field="last_name", op="contains", value=token)]
        )
        assert {r.id for r in contains.items} == {with_phone.id, without_phone.id}
        has_phone = await atom_crm.search_records(
            "contact",
            [
                SearchFilter(field="last_name", op="contains", value=token),
                SearchFilter(field="phone", op="has"),
            ],
        )
        assert [r.id for r in has_phone.items] == [with_phone.id]


class TestCRMContract(CRMContract):
    """Collected when the suite runs through `--atom-crm-contract=PLUGIN`."""
