"""Full and incremental sync against the sandbox: every record once, deletions, merges, the
same-timestamp trap past 10,000 results."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from atom_hubspot.sync import RECORD_TYPES
from tests.mirror.conftest import PORTAL, Stack


async def mirrored_ids(stack: Stack, object_type: str) -> list[int]:
    async with stack.store.db.session(None, read_only=True) as s:
        return list(
            await s.scalars(
                sa.text(
                    "select record_id from hubspot_mirror_records where portal_id = :p and "
                    "object_type = :t and not archived order by record_id"
                ),
                {"p": PORTAL, "t": object_type},
            )
        )


def live_ids(stack: Stack, object_type: str) -> list[int]:
    portal = stack.sandbox.portals[PORTAL]
    return sorted(i for i, r in portal.records[object_type].items() if not r.archived)


async def test_full_sync_mirrors_every_record_association_pipeline_list_campaign(
    stack: Stack,
) -> None:
    report = await stack.syncer().run()
    assert report.ok, report
    for object_type in RECORD_TYPES:
        assert await mirrored_ids(stack, object_type) == live_ids(stack, object_type)
    portal = stack.sandbox.portals[PORTAL]
    some = next(iter(portal.records["contacts"].values()))
    got = await stack.store.get_record(PORTAL, "contacts", some.id)
    assert got is not None
    # Every property HubSpot has, not only the ones the routes show.
    for name, value in some.properties.items():
        assert got.properties.get(name) == value, name
    async with stack.store.db.session(None, read_only=True) as s:
        n_links = await s.scalar(
            sa.text(
                "select count(*) from hubspot_mirror_associations where from_type='deals' "
                "and to_type='contacts'"
            )
        )
        stages = await s.scalar(sa.text("select count(*) from hubspot_mirror_stages"))
        members = await s.scalar(sa.text("select count(*) from hubspot_mirror_list_members"))
        campaigns = await s.scalar(sa.text("select count(*) from hubspot_mirror_campaigns"))
    deal_links = sum(
        1
        for (t, _i), links in portal.associations.items()
        if t == "deals"
        for (to, _j) in links
        if to == "contacts"
    )
    assert n_links == deal_links > 0
    assert stages == 7
    expected_members = 0
    for list_id in portal.lists:
        expected_members += len([m async for m in stack.client.lists.iter_members(list_id)])
    assert members == expected_members > 0
    assert campaigns == len(portal.campaigns)
    states = await stack.store.sync_states(PORTAL)
    assert {t: s.status for t, s in states.items()} == dict.fromkeys(states, "current")


async def test_same_timestamp_past_10000_results_is_read_once_and_ends(stack: Stack) -> None:
    await stack.syncer().run(["contacts"])
    stamp = datetime.now(UTC).isoformat()
    made = await stack.admin(
        "POST",
        f"/_sandbox/portals/{PORTAL}/records",
        {"object_type": "contacts", "count": 12_000, "modified_at": stamp},
    )
    before = stack.calls("crm.objects.search")
    report = await stack.syncer().run(["contacts"])
    assert report.ok and report.results[0].mode == "incremental"
    assert report.results[0].records >= 12_000
    assert await mirrored_ids(stack, "contacts") == live_ids(stack, "contacts")
    ids = await mirrored_ids(stack, "contacts")
    assert made["first_id"] in ids and made["last_id"] in ids
    # 12,000 records of one timestamp at 200 a page: 60 searches and a last short one —
    # never a loop, never a 400 for paging past 10,000.
    assert stack.calls("crm.objects.search") - before <= 62


async def test_incremental_picks_up_changes_archives_and_merges(stack: Stack) -> None:
    await stack.syncer().run(["contacts", "companies"])
    a, b, c, d = live_ids(stack, "contacts")[:4]
    await stack.admin(
        "PATCH", f"/crm/objects/2026-03/contacts/{a}", {"properties": {"firstname": "Changed"}}
    )
    await stack.admin("DELETE", f"/crm/objects/2026-03/contacts/{c}")
    await stack.admin(
        "POST",
        "/crm/objects/2026-03/contacts/merge",
        {"primaryObjectId": str(a), "objectIdToMerge": str(b)},
    )
    created = await stack.admin(
        "POST", "/crm/objects/2026-03/contacts", {"properties": {"email": "new@mirror.example"}}
    )
    await stack.admin("POST", "/crm/objects/2026-03/contacts/gdpr-delete", {"objectId": str(d)})

    report = await stack.syncer(reconcile_s=0).run(["contacts"])
    assert report.ok
    got = await stack.store.get_record(PORTAL, "contacts", a)
    assert got is not None and got.properties["firstname"] == "Changed"
    # The merged-away id reads as the survivor.
    merged = await stack.store.get_record(PORTAL, "contacts", b)
    assert merged is not None and merged.id == a
    assert await stack.store.get_record(PORTAL, "contacts", int(created["id"])) is not None
    # Archived and deleted ones are found by the id reconciliation.
    assert await stack.store.get_record(PORTAL, "contacts", c) is None
    assert await stack.store.get_record(PORTAL, "contacts", d) is None
    assert await mirrored_ids(stack, "contacts") == live_ids(stack, "contacts")
    # Running again changes nothing (idempotent).
    again = await stack.syncer().run(["contacts"])
    assert again.ok
    assert await mirrored_ids(stack, "contacts") == live_ids(stack, "contacts")


async def test_a_full_resync_archives_what_hubspot_no_longer_has(stack: Stack) -> None:
    await stack.syncer().run(["deals"])
    gone = live_ids(stack, "deals")[5]
    await stack.admin("DELETE", f"/crm/objects/2026-03/deals/{gone}")
    report = await stack.syncer().run(["deals"], full=True)
    assert report.ok and report.results[0].archived == 1
    assert await mirrored_ids(stack, "deals") == live_ids(stack, "deals")
