"""The properties the mirror keeps in real columns: derived from any value HubSpot may send,
kept in step with the JSON by every write, filled for rows mirrored before the columns
existed, and summed exactly by the figures' GROUP BYs, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from atom_hubspot.numbers import parse_decimal
from atom_hubspot.storage.db import Database, downgrade, migrate, to_sync_url
from atom_hubspot.storage.mirror import MirroredRecord, MirrorStore, record_columns
from atom_hubspot.storage.mirror.records import amount_of, instant_text
from tests.mirror.test_reads import UNUSUAL_AMOUNTS
from tests.mirror.test_store import PORTAL, T0, rec, store

__all__ = ["store"]

# Text HubSpot sends for numbers, and text nobody should.
NUMBER_TEXT = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.from_regex(r"-?[0-9]{1,30}(\.[0-9]{0,30})?([eE][-+]?[0-9]{1,3})?", fullmatch=True),
    st.text(max_size=70),
    st.integers().map(str),
)
ANY_VALUE = st.one_of(st.none(), st.text(max_size=40), st.integers(), NUMBER_TEXT)


@settings(max_examples=400, deadline=None)
@given(amount=ANY_VALUE, created=ANY_VALUE, stage=ANY_VALUE)
def test_columns_of_any_value(amount: Any, created: Any, stage: Any) -> None:
    cols = record_columns({"amount": amount, "createdate": created, "lifecyclestage": stage})
    number = parse_decimal(amount)
    if number is None:
        assert cols["amount_scale"] is None and cols["amount_hi"] is None
    elif cols["amount_hi"] is None:
        # Held by the JSON only (the figures read those from there).
        assert cols["amount_scale"] == 0 and cols["amount_lo"] is None
    else:
        exact = amount_of(cols["amount_scale"], cols["amount_hi"], cols["amount_lo"])
        # The same number with the same exponent: sums keep HubSpot's trailing zeros.
        assert exact.as_tuple() == number.as_tuple() or (exact == number == 0)
        assert abs(cols["amount_hi"]) < 10**10 and abs(cols["amount_lo"]) < 10**9
    text = cols["createdate"]
    if text is not None:
        assert len(text) >= 24 and text.endswith("Z")
        assert datetime.fromisoformat(text.replace("Z", "+00:00")).tzinfo is not None
    assert cols["lifecyclestage"] is None or cols["lifecyclestage"] == str(stage)


def test_instants_in_one_sortable_form() -> None:
    later = instant_text("2026-03-01T10:00:00+02:00")
    assert later == "2026-03-01T08:00:00.000Z"
    assert instant_text("1772352000000") == "2026-03-01T08:00:00.000Z"
    assert instant_text("0001-01-01T00:00:00+01:00") is None  # before year 1 in UTC
    assert instant_text("9" * 40) is None and instant_text("not a date") is None
    assert instant_text("0999-05-01T00:00:00Z") == "0999-05-01T00:00:00.000Z"


def deal(i: int, at: datetime = T0, **props: str) -> MirroredRecord:
    return rec(
        i, at, **{"pipeline": "default", "dealstage": "s1", "closedate": "2026-04-02", **props}
    )


async def test_writes_keep_the_columns_in_step_with_the_json(store: MirrorStore) -> None:
    await store.upsert_records(PORTAL, "deals", [deal(1, amount="10.50")])
    # A write's answer naming other properties leaves the columns; one naming them moves them.
    partial = MirroredRecord(1, {"dealname": "Renamed"}, None, T0 + timedelta(minutes=1))
    await store.upsert_records(PORTAL, "deals", [partial], complete=False)
    groups = await store.deal_groups(PORTAL, close_from=None, close_before=None, pipeline_id=None)
    assert [(g.dealstage, g.count, g.amounts) for g in groups] == [("s1", 1, [Decimal("10.50")])]
    partial = MirroredRecord(1, {"amount": "7", "dealstage": "s2"}, None, T0 + timedelta(minutes=2))
    await store.upsert_records(PORTAL, "deals", [partial], complete=False)
    # An older version read again (a page of a resumed sync) takes neither JSON nor columns back.
    await store.upsert_records(PORTAL, "deals", [deal(1, amount="10.50")])
    groups = await store.deal_groups(PORTAL, close_from=None, close_before=None, pipeline_id=None)
    assert [(g.dealstage, g.amounts) for g in groups] == [("s2", [Decimal("7")])]
    got = await store.get_record(PORTAL, "deals", 1)
    assert got is not None and got.properties["amount"] == "7"
    # A write clearing the amount: a deal without amount.
    cleared = MirroredRecord(1, {"amount": None}, None, T0 + timedelta(minutes=3))
    await store.upsert_records(PORTAL, "deals", [cleared], complete=False)
    groups = await store.deal_groups(PORTAL, close_from=None, close_before=None, pipeline_id=None)
    assert [(g.count, g.without_amount, g.amounts) for g in groups] == [(1, 1, [])]


AMOUNTS = [*UNUSUAL_AMOUNTS, "n/a", "-0.5", "1e400"]


async def test_deal_sums_equal_adding_the_amounts_one_by_one(store: MirrorStore) -> None:
    deals = [
        rec(
            100 + i,
            amount=amount,
            pipeline="Default" if i % 5 == 0 else "default",
            dealstage=f"s{i % 3}",
            closedate=f"2026-04-{1 + i % 28:02d}T23:59:59.999Z",
        )
        for i, amount in enumerate(AMOUNTS * 3)
    ]
    await store.upsert_records(PORTAL, "deals", deals)
    await store.archive_records(PORTAL, "deals", [100])  # archived deals are not counted
    live = [d for d in deals if d.id != 100]
    for close_from, close_before, pipeline in [
        (None, None, None),
        ("2026-04-05T00:00:00.000Z", "2026-04-20T00:00:00.000Z", None),
        (None, None, "DEFAULT"),
    ]:
        groups = await store.deal_groups(
            PORTAL, close_from=close_from, close_before=close_before, pipeline_id=pipeline
        )
        expected: dict[tuple[str, str], tuple[int, int, Decimal]] = {}
        for d in live:
            p = d.properties
            if close_from and not close_from <= p["closedate"] < str(close_before):
                continue
            if pipeline and p["pipeline"].lower() != pipeline.lower():
                continue
            n, missing, total = expected.get((p["pipeline"], p["dealstage"]), (0, 0, Decimal(0)))
            amount = parse_decimal(p["amount"])
            expected[(p["pipeline"], p["dealstage"])] = (
                n + 1,
                missing + (amount is None),
                total + (amount if amount is not None else Decimal(0)),
            )
        got = {
            (str(g.pipeline), str(g.dealstage)): (
                g.count,
                g.without_amount,
                sum(g.amounts, Decimal(0)),
            )
            for g in groups
        }
        # Equal values with equal exponents: "1500.50" + "7" is "1507.50" on both sides.
        assert {k: (n, m, str(t)) for k, (n, m, t) in got.items()} == {
            k: (n, m, str(t)) for k, (n, m, t) in expected.items()
        }


async def test_contact_counts_group_the_columns(store: MirrorStore) -> None:
    contacts = [
        rec(1, lifecyclestage="lead", createdate="2026-03-01T00:00:00.000Z"),
        rec(2, lifecyclestage="lead", createdate="2026-03-01T23:59:59.999Z"),
        rec(3, lifecyclestage="", createdate="1772409600000"),  # epoch ms: 2026-03-02
        rec(4, lifecyclestage="customer", createdate="2026-03-03T01:00:00+02:00"),
        rec(5, createdate="2026-02-28T23:59:59.999Z"),
        rec(6, lifecyclestage="lead"),
    ]
    await store.upsert_records(PORTAL, "contacts", contacts)
    await store.archive_records(PORTAL, "contacts", [6])
    stages, days = await store.contact_counts(PORTAL, "2026-03-01", "2026-03-03")
    assert stages == {"lead": 2, None: 2, "customer": 1}
    assert days == {"2026-03-01": 2, "2026-03-02": 2}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'm.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


async def test_the_migration_fills_the_columns_of_rows_mirrored_before(url: str) -> None:
    migrate(url, "0008_connection_environment")
    props = [
        {"lifecyclestage": "lead", "createdate": "2026-03-01T10:00:00.000Z"},
        {"amount": "1500.50", "pipeline": "default", "dealstage": "won", "closedate": "x"},
        {"amount": "123456789012345678.25", "closedate": "2026-04-02T00:00:00Z"},
        {},
    ]
    engine = sa.create_engine(to_sync_url(url))
    table = sa.table(
        "hubspot_mirror_records",
        sa.column("portal_id"),
        sa.column("object_type"),
        sa.column("record_id"),
        sa.column("properties", sa.JSON()),
        sa.column("archived"),
        sa.column("synced_at"),
    )
    with engine.begin() as conn:
        for i, p in enumerate(props):
            conn.execute(
                table.insert().values(
                    portal_id=PORTAL,
                    object_type="contacts" if i == 0 else "deals",
                    record_id=i + 1,
                    properties=p,
                    archived=False,
                    synced_at=datetime.now(UTC),
                )
            )
    migrate(url)
    try:
        names = list(record_columns({}))
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    f"SELECT record_id, {', '.join(names)} FROM hubspot_mirror_records "  # noqa: S608 - constant names
                    "ORDER BY record_id"
                )
            ).all()
        assert [dict(zip(names, r[1:], strict=True)) for r in rows] == [
            record_columns(p) for p in props
        ]
        db = Database(url)
        try:
            figures = MirrorStore(db)
            groups = await figures.deal_groups(
                PORTAL, close_from=None, close_before=None, pipeline_id=None
            )
            total = sum((a for g in groups for a in g.amounts), Decimal(0))
            assert str(total) == "123456789012347178.75"
        finally:
            await db.dispose()
        # And back: the expression indexes return, the columns go.
        downgrade(url, "0008_connection_environment")
        migrate(url)
    finally:
        engine.dispose()
