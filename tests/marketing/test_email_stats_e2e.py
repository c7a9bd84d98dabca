"""Marketing email performance through the host: totals over a range, one email, intervals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.marketing.conftest import Stack


def _range(stack: Stack) -> tuple[str, str, dict[int, dict[str, int]]]:
    published = {
        eid: e["_published_ts"]
        for eid, e in stack.demo.emails.items()
        if e.get("_published_ts") is not None
    }
    lo = datetime.fromtimestamp(min(published.values()), UTC).date()
    hi = datetime.fromtimestamp(max(published.values()), UTC).date()
    stats = {eid: stack.demo.email_stats.get(eid, {}) for eid in published}
    return lo.isoformat(), hi.isoformat(), stats


async def test_totals_over_a_range_match_the_emails_sent_in_it(stack: Stack) -> None:
    start, end, stats = _range(stack)
    r = await stack.alice.get(
        "/api/hubspot/email-stats", params={"start_date": start, "end_date": end}
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert sorted(data["email_ids"]) == sorted(str(e) for e in stats)
    totals = data["totals"]
    for ours, theirs in (("sent", "sent"), ("opened", "open"), ("clicked", "click")):
        assert totals[ours] == sum(s.get(theirs, 0) for s in stats.values())
    assert totals["open_rate"] == round(100 * totals["opened"] / totals["delivered"], 2)
    assert data["intervals"] is None


async def test_intervals_add_up_to_the_totals(stack: Stack) -> None:
    start, end, _ = _range(stack)
    r = await stack.alice.get(
        "/api/hubspot/email-stats",
        params={"start_date": start, "end_date": end, "interval": "month"},
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["interval"] == "month" and len(data["intervals"]) >= 1
    assert sum(i["figures"]["sent"] for i in data["intervals"]) == data["totals"]["sent"]
    assert data["intervals"][0]["start"].startswith(start)


async def test_one_email(stack: Stack) -> None:
    start, end, stats = _range(stack)
    eid, counters = next(iter(stats.items()))
    r = await stack.alice.get(
        f"/api/hubspot/email-stats/{eid}",
        params={"start_date": start, "end_date": end, "interval": "week"},
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["email_ids"] == [str(eid)]
    assert (data["totals"]["sent"], data["totals"]["bounced"]) == (
        counters["sent"],
        counters["bounce"],
    )
    assert sum(i["figures"]["sent"] for i in data["intervals"]) == counters["sent"]


async def test_bad_input_and_unknown_email(stack: Stack) -> None:
    r = await stack.alice.get("/api/hubspot/email-stats/424242")
    assert r.status_code == 404
    r = await stack.alice.get(
        "/api/hubspot/email-stats", params={"start_date": "2026-02-01", "end_date": "2026-01-01"}
    )
    assert r.status_code == 422 and r.json()["error"]["errors"][0]["field"] == "end_date"
    today = datetime.now(UTC).date()
    r = await stack.alice.get(
        "/api/hubspot/email-stats",
        params={"start_date": (today - timedelta(days=400)).isoformat(), "interval": "day"},
    )
    assert r.status_code == 422 and r.json()["error"]["errors"][0]["field"] == "interval"
    r = await stack.alice.get("/api/hubspot/email-stats", params={"interval": "fortnight"})
    assert r.status_code == 422


async def test_campaign_analytics_include_the_campaigns_emails(stack: Stack) -> None:
    start, end, stats = _range(stack)
    guid = next(
        e["campaign"] for eid, e in stack.demo.emails.items() if eid in stats and e["campaign"]
    )
    mine = [eid for eid in stats if stack.demo.emails[eid]["campaign"] == guid]
    r = await stack.alice.get(
        f"/api/hubspot/analytics/campaigns/{guid}",
        params={"start_date": start, "end_date": end},
    )
    assert r.status_code == 200, r.text
    emails = r.json()["data"]["emails"]
    assert sorted(emails["email_ids"]) == sorted(str(e) for e in mine)
    assert emails["totals"]["sent"] == sum(stats[e].get("sent", 0) for e in mine)
