"""The mirror's one way in (upsert, archive, merge, purge) and its reads, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import sqlalchemy as sa

from atom_hubspot.storage.db import Database, migrate
from atom_hubspot.storage.mirror import MirroredRecord, MirrorStore
from atom_hubspot.storage.models import MIRROR_TABLES
from tests.conftest import non_owner_role

PORTAL = 777
T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    migrate(url)
    db = Database(url)
    try:
        yield MirrorStore(db)
    finally:
        await db.dispose()


def rec(i: int, at: datetime = T0, **props: str) -> MirroredRecord:
    return MirroredRecord(
        id=i,
        properties={"hs_object_id": str(i), **props},
        created_at=T0 - timedelta(days=30),
        updated_at=at,
    )


async def test_upsert_is_idempotent_and_never_goes_back(store: MirrorStore) -> None:
    await store.upsert_records(PORTAL, "contacts", [rec(1, email="a@x.io"), rec(2)])
    await store.upsert_records(PORTAL, "contacts", [rec(1, email="a@x.io"), rec(2)])
    assert await store.count_records(PORTAL, "contacts") == 2
    newer = rec(1, T0 + timedelta(minutes=5), email="new@x.io")
    await store.upsert_records(PORTAL, "contacts", [newer])
    # A page read again later (an older version) does not take the record back.
    await store.upsert_records(PORTAL, "contacts", [rec(1, email="a@x.io")])
    got = await store.get_record(PORTAL, "contacts", 1)
    assert got is not None and got.properties["email"] == "new@x.io"
    # A write's answer names only some properties: they merge into the row.
    partial = MirroredRecord(1, {"firstname": "Ada"}, None, T0 + timedelta(minutes=6))
    await store.upsert_records(PORTAL, "contacts", [partial], complete=False)
    got = await store.get_record(PORTAL, "contacts", 1)
    assert got is not None
    assert got.properties["email"] == "new@x.io" and got.properties["firstname"] == "Ada"
    # Another portal's rows are another portal's.
    assert await store.get_record(PORTAL + 1, "contacts", 1) is None


async def test_archive_merge_and_purge(store: MirrorStore) -> None:
    await store.upsert_records(PORTAL, "contacts", [rec(1), rec(2), rec(3)])
    await store.upsert_records(PORTAL, "companies", [rec(50)])
    await store.replace_associations(PORTAL, "contacts", "companies", {2: [(50, 279)]})
    await store.replace_lists(PORTAL, [{"listId": "9", "name": "L", "objectTypeId": "0-1"}])
    await store.replace_list_members(PORTAL, "9", [2, 3])

    await store.archive_records(PORTAL, "contacts", [3])
    assert await store.get_record(PORTAL, "contacts", 3) is None
    assert await store.count_records(PORTAL, "contacts") == 2

    # HubSpot merged 2 into 1: reading 2 answers 1; 2's links and memberships are 1's now.
    survivor = rec(1, T0 + timedelta(minutes=1), hs_merged_object_ids="2")
    await store.upsert_records(PORTAL, "contacts", [survivor])
    got = await store.get_record(PORTAL, "contacts", 2)
    assert got is not None and got.id == 1
    async with store.db.session(None, read_only=True) as s:
        links = (
            await s.execute(sa.text("select from_id, to_id from hubspot_mirror_associations"))
        ).all()
        members = sorted(
            (
                await s.execute(sa.text("select record_id from hubspot_mirror_list_members"))
            ).scalars()
        )
    assert [tuple(r) for r in links] == [(1, 50)]
    assert members == [1, 3]

    # A privacy deletion leaves nothing of the person (nor of the record merged into it).
    await store.purge_record(PORTAL, "contacts", 1)
    assert await store.get_record(PORTAL, "contacts", 1) is None
    assert await store.get_record(PORTAL, "contacts", 2) is None
    async with store.db.session(None, read_only=True) as s:
        left = (
            await s.execute(
                sa.text(
                    "select count(*) from hubspot_mirror_records where object_type='contacts' "
                    "and record_id in (1, 2)"
                )
            )
        ).scalar()
        assert left == 0
        assert (
            await s.execute(sa.text("select count(*) from hubspot_mirror_associations"))
        ).scalar() == 0

    await store.save_state(PORTAL, "contacts", status="current")
    await store.purge_portal(PORTAL)
    async with store.db.session(None, read_only=True) as s:
        for table in MIRROR_TABLES:
            n = (await s.execute(sa.text(f"select count(*) from {table}"))).scalar()  # noqa: S608
            assert n == 0, table


async def test_query_filters_sorts_and_pages(store: MirrorStore) -> None:
    rows = [
        rec(1, lifecyclestage="lead", amount="10", company="Acme Labs"),
        rec(2, lifecyclestage="Customer", amount="9.5", company="Globex"),
        rec(3, lifecyclestage="lead", company="acme"),
        rec(4, lifecyclestage="lead", amount="100"),
    ]
    await store.upsert_records(PORTAL, "contacts", rows)
    page = await store.query_records(
        PORTAL,
        "contacts",
        filter_groups=[[{"propertyName": "lifecyclestage", "operator": "EQ", "value": "LEAD"}]],
        sorts=[("amount", True)],
        limit=2,
    )
    # Numbers compare as numbers; records without the sort property come last.
    assert [r.id for r in page.records] == [4, 1] and page.total == 3 and page.next_after == "2"
    nxt = await store.query_records(
        PORTAL,
        "contacts",
        filter_groups=[[{"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"}]],
        sorts=[("amount", True)],
        limit=2,
        after=page.next_after,
    )
    assert [r.id for r in nxt.records] == [3] and nxt.next_after is None
    acme = await store.query_records(
        PORTAL,
        "contacts",
        filter_groups=[
            [{"propertyName": "company", "operator": "CONTAINS_TOKEN", "value": "*acme*"}]
        ],
    )
    assert [r.id for r in acme.records] == [1, 3]
    listing = await store.query_records(PORTAL, "contacts", limit=3, keyset=True)
    assert listing.next_after == "4"
    rest = await store.query_records(PORTAL, "contacts", limit=3, keyset=True, after="4")
    assert [r.id for r in rest.records] == [4]


async def test_hostile_property_names_are_refused(store: MirrorStore) -> None:
    from atom_hubspot.errors import InputError

    with pytest.raises(InputError):
        await store.query_records(
            PORTAL,
            "contacts",
            filter_groups=[[{"propertyName": "x') or 1=1 --", "operator": "EQ", "value": "1"}]],
        )


async def test_postgres_mirror_is_visible_only_to_tenants_connected_to_the_portal(
    postgres_url, postgres_admin_url
) -> None:
    migrate(postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as c:
        c.execute("select set_config('app.all_tenants', 'on', false)")
        c.execute(
            "insert into hubspot_connections (id, tenant_id, user_id, portal_id, auth_kind, scopes)"
            " values ('c1', 't1', 'u', %s, 'oauth', '[]')",
            (PORTAL,),
        )
    with non_owner_role(postgres_url, postgres_admin_url, "atom_mirror") as app_url:
        await _only_connected_tenants_see(app_url, postgres_url)


async def _only_connected_tenants_see(app_url: str, cross_tenant_url: str) -> None:
    # The sync works across tenants as the role configured for it (here the superuser).
    db = Database(app_url, cross_tenant_url=cross_tenant_url)
    try:
        store = MirrorStore(db)
        await store.upsert_records(PORTAL, "contacts", [rec(1)])  # the sync: all tenants
        assert await store.get_record(PORTAL, "contacts", 1, tenant_id="t1") is not None
        assert await store.get_record(PORTAL, "contacts", 1, tenant_id="t2") is None
        page = await store.query_records(PORTAL, "contacts", tenant_id="t2")
        assert page.records == [] and page.total == 0
        with pytest.raises(Exception, match="row-level security"):
            await store.upsert_records(PORTAL, "contacts", [rec(2)], tenant_id="t2")
    finally:
        await db.dispose()
