"""The campaign list filters by status and start date and pages through the matches."""

from __future__ import annotations

from typing import Any

from tests.marketing.conftest import Stack


async def _all(stack: Stack, **params: Any) -> list[str]:
    seen: list[str] = []
    after: str | None = None
    for _ in range(50):
        q = {"limit": 2, **params} | ({"after": after} if after else {})
        r = await stack.alice.get("/api/hubspot/campaigns", params=q)
        assert r.status_code == 200, r.text
        page = r.json()["data"]
        assert len(page["results"]) <= 2
        seen += [c["id"] for c in page["results"]]
        after = page["next_after"]
        if after is None:
            return seen
    raise AssertionError("no end to the pages")


async def test_status_filter_pages_through_every_match(stack: Stack) -> None:
    for status in ("active", "completed"):
        want = {
            c.id
            for c in stack.demo.campaigns.values()
            if c.properties.get("hs_campaign_status") == status
        }
        got = await _all(stack, status=status)
        assert want and len(got) == len(set(got)) and set(got) == want


async def test_start_date_range(stack: Stack) -> None:
    starts = sorted(str(c.properties["hs_start_date"]) for c in stack.demo.campaigns.values())
    lo, hi = starts[1], starts[-2]
    want = {
        c.id
        for c in stack.demo.campaigns.values()
        if lo <= str(c.properties["hs_start_date"]) <= hi
    }
    got = await _all(stack, start_date_from=lo, start_date_to=hi)
    assert set(got) == want and len(got) == len(want)
    both = await _all(stack, start_date_from=lo, status="active")
    assert set(both) <= set(await _all(stack, status="active"))


async def test_bad_filters_are_named(stack: Stack) -> None:
    r = await stack.alice.get(
        "/api/hubspot/campaigns",
        params={"start_date_from": "2026-05-01", "start_date_to": "2026-01-01"},
    )
    assert r.status_code == 422 and r.json()["error"]["errors"][0]["field"] == "start_date_to"
    r = await stack.alice.get("/api/hubspot/campaigns", params={"status": "x", "after": "zz"})
    assert r.status_code == 422 and r.json()["error"]["errors"][0]["field"] == "after"
