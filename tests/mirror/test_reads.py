"""Reads from the mirror through the host: the source policy, meta.source/as_of, filters and
sorts equal to HubSpot search on the same data, and read-your-writes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Stack, running_stack, stack
from tests.mirror.test_host import migrated_template, sync_now, synced, synced_module

__all__ = ["migrated_template", "stack", "synced", "synced_module"]

CASES: list[tuple[str, dict[str, str]]] = [
    ("contacts", {}),
    ("contacts", {"lifecycle_stage": "lead"}),
    ("contacts", {"name": "ada"}),
    ("contacts", {"company": "labs", "sort": "-createdate"}),
    ("contacts", {"created_from": "2026-01-01", "created_to": "2026-06-30", "sort": "lastname"}),
    ("contacts", {"lifecycle_stage": "customer", "sort": "-lastname"}),
    ("companies", {"industry": "RETAIL"}),
    ("companies", {"name": "systems", "sort": "-numberofemployees"}),
    ("companies", {"sort": "name"}),
    ("deals", {"stage": "closedwon", "sort": "-amount"}),
    ("deals", {"pipeline": "default", "amount_min": "9000", "amount_max": "48000"}),
    ("deals", {"close_date_from": "2026-03-01", "sort": "closedate"}),
    ("deals", {"name": "renewal", "sort": "dealname"}),
]


async def read(client: Any, path: str, **params: str) -> dict[str, Any]:
    answer = (await client.get(path, params=params)).json()
    assert answer["ok"], answer
    return dict(answer)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("many", "params"), CASES)
async def test_mirror_filters_and_sorts_equal_hubspot_search(
    synced_module: Stack, many: str, params: dict[str, str]
) -> None:
    async with synced_module.client("alice") as alice:
        for after_pages in range(2):  # the first two pages, each from both sources
            mirror = await read(
                alice, f"/api/hubspot/{many}", source="mirror", limit="50", **params
            )
            live = await read(alice, f"/api/hubspot/{many}", source="live", limit="50", **params)
            assert mirror["meta"]["source"] == "mirror" and live["meta"]["source"] == "live"
            ids = [r["id"] for r in mirror["data"]["results"]]
            assert ids == [r["id"] for r in live["data"]["results"]], params
            assert mirror["data"]["total"] == live["data"]["total"]
            assert mirror["data"]["next_after"] == live["data"]["next_after"]
            if not mirror["data"]["next_after"] or after_pages:
                break
            params = {**params, "after": mirror["data"]["next_after"]}


async def test_auto_reads_come_from_the_mirror_with_as_of(synced: Stack) -> None:
    before = sum(synced.sandbox.calls.values())
    async with synced.client("alice") as alice:
        page = await read(alice, "/api/hubspot/contacts", limit="5")
        rid = page["data"]["results"][0]["id"]
        one = await read(alice, f"/api/hubspot/contacts/{rid}")
    for answer in (page, one):
        assert answer["meta"]["source"] == "mirror"
        assert answer["meta"]["as_of"].endswith("Z")
    assert one["data"]["properties"]["email"]
    # Neither read reached HubSpot.
    assert sum(synced.sandbox.calls.values()) == before


async def test_read_your_writes_through_the_mirror(synced: Stack) -> None:
    async with synced.client("alice") as alice:
        made = (
            await alice.post(
                "/api/hubspot/contacts", json={"email": "ryw@mirror.example", "firstname": "Ry"}
            )
        ).json()
        assert made["ok"] and made["meta"]["source"] == "live"
        rid = made["data"]["id"]
        got = await read(alice, f"/api/hubspot/contacts/{rid}", source="mirror")
        assert got["data"]["properties"]["firstname"] == "Ry"
        await alice.patch(f"/api/hubspot/contacts/{rid}", json={"firstname": "Wyn"})
        got = await read(alice, f"/api/hubspot/contacts/{rid}", source="mirror")
        assert got["data"]["properties"]["firstname"] == "Wyn"
        assert got["data"]["properties"]["email"] == "ryw@mirror.example"
        found = await read(
            alice, "/api/hubspot/contacts", source="mirror", email="ryw@mirror.example"
        )
        assert [r["id"] for r in found["data"]["results"]] == [rid]
        assert (await alice.delete(f"/api/hubspot/contacts/{rid}")).status_code == 200
        gone = (await alice.get(f"/api/hubspot/contacts/{rid}", params={"source": "mirror"})).json()
        assert gone["error"]["code"] == "not_found"


async def test_a_mirror_never_filled_is_not_served(stack: Stack) -> None:
    async with stack.client("alice") as alice:
        auto = await read(alice, "/api/hubspot/contacts", limit="2")
        assert auto["meta"]["source"] == "live"
        answer = await alice.get("/api/hubspot/contacts", params={"source": "mirror"})
        assert answer.status_code == 409
        assert answer.json()["error"]["code"] == "mirror_not_ready"
        bad = await alice.get("/api/hubspot/contacts", params={"source": "cache"})
        assert bad.status_code == 422


async def test_privacy_deletion_and_disconnect_purge_the_mirror(synced: Stack) -> None:
    from tests.api.conftest import PORTAL_A, PORTAL_B

    store = synced.runtime.mirror  # type: ignore[attr-defined]
    async with synced.client("alice") as alice:
        page = await read(alice, "/api/hubspot/contacts", limit="1")
        rid = page["data"]["results"][0]["id"]
        gone = (await alice.post(f"/api/hubspot/contacts/{rid}/gdpr-delete")).json()
        assert gone["ok"], gone
        assert await store.get_record(PORTAL_A, "contacts", int(rid)) is None
        live = await alice.get(f"/api/hubspot/contacts/{rid}", params={"source": "live"})
        assert live.status_code == 404
        assert (await store.counts(PORTAL_A))["contacts"] > 0
        assert (await alice.delete("/auth/hubspot")).status_code == 200
    # The portal's last connection went: its mirror went with it; Bob's portal stays.
    assert set((await store.counts(PORTAL_A)).values()) == {0}
    assert (await store.counts(PORTAL_B))["contacts"] > 0


ANALYTICS = [
    ("/api/hubspot/analytics/deals", {}),
    ("/api/hubspot/analytics/deals", {"close_date_from": "2026-01-01", "pipeline_id": "default"}),
    ("/api/hubspot/analytics/deals", {"close_date_to": "2026-06-30"}),
    ("/api/hubspot/analytics/contacts", {}),
    ("/api/hubspot/analytics/contacts", {"granularity": "week"}),
    ("/api/hubspot/analytics/contacts", {"created_from": "2026-03-01", "created_to": "2026-04-15"}),
]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("path", "params"), ANALYTICS)
async def test_analytics_from_the_mirror_equal_the_live_computation(
    synced_module: Stack, path: str, params: dict[str, str]
) -> None:
    mirror = await same_from_both(synced_module, path, params)
    assert mirror["data"].get("total_count", mirror["data"].get("total_contacts"))


async def same_from_both(stack: Stack, path: str, params: dict[str, str]) -> dict[str, Any]:
    """Alice's figures from the mirror, checked equal to the live computation's."""
    async with stack.client("alice") as alice:
        mirror = await read(alice, path, source="mirror", **params)
        live = await read(alice, path, source="live", **params)
    assert mirror["meta"]["source"] == "mirror" and live["meta"]["source"] == "live"
    strip = {"computed_at", "note"}
    same = {k: v for k, v in mirror["data"].items() if k not in strip}
    assert same == {k: v for k, v in live["data"].items() if k not in strip}
    return mirror


# Amounts that take every path of the mirror's amount columns: scales 0 to 10, trailing zeros,
# negative, a value past the columns' 19 digits (read from the JSON), one past the 18 integer
# digits the live computation takes (no amount on either side), none at all.
UNUSUAL_AMOUNTS = (
    "1500.50",
    "0.25",
    "-30",
    "1200.000",
    "1E+3",
    "0.0000000001",
    "123456789012345678.25",
    "98765432109876543210.5",
    "",
    "7",
)


@pytest.fixture
async def unusual_deals(
    hubspot_env: dict[str, str], sqlite_url: str, migrated_template: Path
) -> AsyncIterator[Stack]:
    """Portal A, with deals of `UNUSUAL_AMOUNTS` closing in April 2026 added, mirrored."""
    from atom_hubspot.sandbox.objects import DEALS
    from tests.api.conftest import PORTAL_A

    env = {**hubspot_env, "HUBSPOT_SYNC_INTERVAL": "3600"}
    async with running_stack(env, sqlite_url, migrated_template) as st:
        portal = st.sandbox.portals[PORTAL_A]
        stages = sorted({r.properties["dealstage"] for r in portal.records["deals"].values()})
        for i, amount in enumerate(UNUSUAL_AMOUNTS):
            deal = {
                "dealname": f"Unusual {i}",
                "amount": amount,
                "pipeline": "default",
                "dealstage": stages[i % len(stages)],
                "closedate": f"2026-04-0{1 + i % 9}T10:00:00.000Z",
            }
            # Made an hour ago: HubSpot's search (and the sandbox's) has indexed them.
            portal.create(DEALS, deal, st.sandbox.now() - 3600)
        await sync_now(st)
        yield st


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"close_date_from": "2026-04-01", "close_date_to": "2026-04-05"},
        {"pipeline_id": "default"},
    ],
)
async def test_deal_figures_over_the_amount_columns_equal_the_live_computation(
    unusual_deals: Stack, params: dict[str, str]
) -> None:
    mirror = await same_from_both(unusual_deals, "/api/hubspot/analytics/deals", params)
    # Exact sums: the fractional and the 20-digit amounts are in, to the last digit; the
    # amounts past 18 integer digits or missing count as deals without amount.
    if not params:
        stages = [s for p in mirror["data"]["pipelines"] for s in p["stages"]]
        assert sum(s["without_amount"] for s in stages) >= 2
        assert "123456789" in mirror["data"]["total_amount"]
        assert mirror["data"]["total_amount"].endswith(".0000000001")


async def test_a_record_the_feed_refreshed_is_as_of_its_own_refresh(synced: Stack) -> None:
    from tests.api.conftest import PORTAL_A
    from tests.feed.test_applier import api, settle, wire

    applier, _, _ = await wire(synced)
    async with synced.client("alice") as alice:
        page = await read(alice, "/api/hubspot/contacts", limit="2", source="mirror")
        rid, other = (r["id"] for r in page["data"]["results"])
        before = await read(alice, f"/api/hubspot/contacts/{rid}", source="mirror")
        other_before = await read(alice, f"/api/hubspot/contacts/{other}", source="mirror")
        await api(
            synced,
            "PATCH",
            f"/_sandbox/portals/{PORTAL_A}/objects/contacts/{rid}",
            {"properties": {"firstname": "Fed"}},
        )
        await settle(synced, applier)
        after = await read(alice, f"/api/hubspot/contacts/{rid}", source="mirror")
        other_after = await read(alice, f"/api/hubspot/contacts/{other}", source="mirror")
        status = await read(alice, "/api/hubspot/sync")
    contacts = next(
        o for o in status["data"]["portals"][0]["objects"] if o["object_type"] == "contacts"
    )

    def when(answer: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(answer["meta"]["as_of"].replace("Z", "+00:00"))

    assert after["data"]["properties"]["firstname"] == "Fed"
    synced_through = datetime.fromisoformat(contacts["synced_through"].replace("Z", "+00:00"))
    # Newer than the record's earlier read and than what the last sync covered.
    assert when(after) > when(before) >= synced_through
    assert when(after) > synced_through
    # A record the feed did not touch keeps its own.
    assert when(other_after) == when(other_before) < when(after)
