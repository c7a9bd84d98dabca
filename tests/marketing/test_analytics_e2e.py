"""Analytics routes end to end (stub host → plugin → client → sandbox), each figure checked
against counts computed here, independently, from the sandbox's own state."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from atom_hubspot.sandbox.config import DEMO_PORTAL_ID
from tests.marketing.conftest import Stack


def _when(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)


def _live(stack: Stack, kind: str) -> list[Any]:
    return [r for r in stack.demo.records[kind].values() if not r.archived]


def _expected_deals(stack: Stack, start: date, end: date) -> dict[str, Any]:
    lo = datetime(start.year, start.month, start.day, tzinfo=UTC)
    hi = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    stages = {s.id: s for p in stack.demo.pipelines.values() for s in p.stages}
    per_stage: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"count": 0, "amount": Decimal(0), "weighted": Decimal(0)}
    )
    won = lost = 0
    for r in _live(stack, "deals"):
        cd = r.properties.get("closedate")
        if not cd or not lo <= _when(cd) < hi:
            continue
        s = stages[r.properties["dealstage"]]
        amount = Decimal(r.properties.get("amount") or 0)
        b = per_stage[s.id]
        b["count"] += 1
        b["amount"] += amount
        b["weighted"] += amount * Decimal(s.probability)
        won += s.closed and Decimal(s.probability) == 1
        lost += s.closed and Decimal(s.probability) == 0
    return {"stages": per_stage, "won": won, "lost": lost}


async def test_deal_analytics_match_the_seed(stack: Stack) -> None:
    closes = sorted(
        _when(r.properties["closedate"]).date()
        for r in _live(stack, "deals")
        if r.properties.get("closedate")
    )
    # A range that cuts through the data, so the date filter matters.
    start, end = closes[len(closes) // 4], closes[3 * len(closes) // 4]
    r = await stack.alice.get(
        "/api/hubspot/analytics/deals",
        params={"close_date_from": start.isoformat(), "close_date_to": end.isoformat()},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    meta = body["meta"]
    assert meta["portal_id"] == DEMO_PORTAL_ID and meta["cached"] is False
    assert meta["source"] == "live"  # no mirror sync in this stack: computed from HubSpot
    data = body["data"]
    want = _expected_deals(stack, start, end)
    [default] = [p for p in data["pipelines"] if p["pipeline_id"] == "default"]
    got = {s["stage_id"]: s for s in default["stages"]}
    total = 0
    for sid, w in want["stages"].items():
        assert got[sid]["count"] == w["count"], sid
        assert Decimal(got[sid]["amount_total"]) == w["amount"], sid
        assert Decimal(got[sid]["weighted_amount"]) == w["weighted"], sid
        total += w["count"]
    assert all(got[s]["count"] == 0 for s in got if s not in want["stages"])
    assert 0 < total < len(_live(stack, "deals"))
    assert data["total_count"] == default["count"] == total
    assert default["won_count"] == want["won"] and default["lost_count"] == want["lost"]
    decided = want["won"] + want["lost"]
    assert default["win_rate"] == round(want["won"] / decided, 4)
    assert got["closedwon"]["outcome"] == "won" and got["closedlost"]["outcome"] == "lost"
    assert got["contractsent"]["probability"] == "0.9"

    # Asked again within the cache time: served from the cache, same figures.
    again = await stack.alice.get(
        "/api/hubspot/analytics/deals",
        params={"close_date_from": start.isoformat(), "close_date_to": end.isoformat()},
    )
    assert again.json()["meta"]["cached"] is True
    assert again.json()["data"] == data


async def test_deal_analytics_bad_input_and_unknown_pipeline(stack: Stack) -> None:
    r = await stack.alice.get(
        "/api/hubspot/analytics/deals",
        params={"close_date_from": "2026-05-01", "close_date_to": "2026-04-01"},
    )
    assert r.status_code == 422
    assert r.json()["error"]["errors"][0]["field"] == "close_date_to"
    r = await stack.alice.get(
        "/api/hubspot/analytics/deals", params={"close_date_from": "not-a-date"}
    )
    assert r.status_code == 422 and "close_date_from" in r.json()["error"]["message"]
    r = await stack.alice.get("/api/hubspot/analytics/deals", params={"pipeline_id": "nope"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


async def test_contact_analytics_match_the_seed_one_call_per_bucket(stack: Stack) -> None:
    contacts = _live(stack, "contacts")
    created = sorted(_when(c.properties["createdate"]).date() for c in contacts)
    end = created[-1]
    start = end - timedelta(days=20)
    before = sum(stack.sandbox.calls.values())
    r = await stack.alice.get(
        "/api/hubspot/analytics/contacts",
        params={
            "created_from": start.isoformat(),
            "created_to": end.isoformat(),
            "granularity": "day",
        },
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    calls = sum(stack.sandbox.calls.values()) - before

    stages = Counter(c.properties.get("lifecyclestage") or "none" for c in contacts)
    assert data["total_contacts"] == len(contacts)
    for stage, n in data["by_lifecycle_stage"].items():
        if stage != "custom":
            assert n == stages.get(stage, 0), stage
    assert sum(data["by_lifecycle_stage"].values()) == len(contacts)

    per_day = Counter(d for d in created if start <= d <= end)
    assert [b["count"] for b in data["new_contacts"]] == [
        per_day.get(start + timedelta(days=i), 0) for i in range(21)
    ]
    assert data["new_contacts_total"] == sum(per_day.values()) > 0
    # total + 8 stages + "none" + 21 day buckets: one search each, no contact downloaded.
    assert calls == 1 + 8 + 1 + 21


async def test_contact_analytics_weeks_and_range_cap(stack: Stack) -> None:
    created = [_when(c.properties["createdate"]).date() for c in _live(stack, "contacts")]
    start = min(created)
    end = start + timedelta(days=7 * 5 - 1)
    r = await stack.alice.get(
        "/api/hubspot/analytics/contacts",
        params={
            "created_from": start.isoformat(),
            "created_to": end.isoformat(),
            "granularity": "week",
        },
    )
    data = r.json()["data"]
    assert [(b["start"], b["end"]) for b in data["new_contacts"]][:2] == [
        (start.isoformat(), (start + timedelta(days=6)).isoformat()),
        ((start + timedelta(days=7)).isoformat(), (start + timedelta(days=13)).isoformat()),
    ]
    for b in data["new_contacts"]:
        lo, hi = date.fromisoformat(b["start"]), date.fromisoformat(b["end"])
        assert b["count"] == sum(1 for d in created if lo <= d <= hi)

    r = await stack.alice.get(
        "/api/hubspot/analytics/contacts",
        params={"created_from": "2025-01-01", "created_to": "2026-01-01", "granularity": "day"},
    )
    assert r.status_code == 422 and r.json()["error"]["errors"][0]["field"] == "created_from"
    r = await stack.alice.get("/api/hubspot/analytics/contacts", params={"granularity": "hour"})
    assert r.status_code == 422 and "granularity" in r.json()["error"]["message"]


async def test_campaign_analytics_are_hubspots_metrics(stack: Stack) -> None:
    campaign = next(iter(stack.demo.campaigns.values()))
    params = {"start_date": "2026-01-01", "end_date": "2026-01-31"}
    r = await stack.alice.get(f"/api/hubspot/analytics/campaigns/{campaign.id}", params=params)
    assert r.status_code == 200, r.text
    data = r.json()["data"]

    # The same question put to the sandbox directly, without the plugin.
    token = stack.sandbox.add_private_app_token(DEMO_PORTAL_ID)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.sandbox_app), base_url="http://sandbox.local"
    ) as raw:
        direct = (
            await raw.get(
                # The path HubSpot documents, called directly to compare with the route.
                f"/marketing/campaigns/2026-03/{campaign.id}/reports/metrics",
                params={"startDate": "2026-01-01", "endDate": "2026-01-31"},
                headers={"Authorization": f"Bearer {token}"},
            )
        ).json()
    assert data["sessions"] == direct["sessions"] > 0
    assert data["new_contacts_first_touch"] == direct["newContactsFirstTouch"]
    assert data["new_contacts_last_touch"] == direct["newContactsLastTouch"]
    assert data["influenced_contacts"] == direct["influencedContacts"]
    assert (data["start_date"], data["end_date"]) == ("2026-01-01", "2026-01-31")

    r = await stack.alice.get(
        "/api/hubspot/analytics/campaigns/00000000-0000-0000-0000-000000000000"
    )
    assert r.status_code == 404
    r = await stack.bob.get(f"/api/hubspot/analytics/campaigns/{campaign.id}", params=params)
    assert r.status_code == 403
    err = r.json()["error"]
    assert err["code"] == "hubspot_tier_required"
    assert "Marketing Hub Professional" in err["message"]
