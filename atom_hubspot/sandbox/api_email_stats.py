"""Marketing email statistics in intervals: `GET …/emails/statistics/histogram`.

Each interval holds the aggregated statistics of the emails sent in it (the sandbox counts an
email's figures in the interval of its publish time).
https://developers.hubspot.com/docs/api-reference/2026-03/marketing/marketing-emails/statistics/get-histogram
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.responses import Response

from atom_hubspot.sandbox.api_marketing import stats_block
from atom_hubspot.sandbox.errors import validation
from atom_hubspot.sandbox.objects import parse_datetime
from atom_hubspot.sandbox.routing import Call, Router, json_response

routes = Router()

HISTOGRAM = (
    "/marketing/v3/emails/statistics/histogram",
    "/marketing/emails/{date}/statistics/histogram",
)
INTERVALS = ("DAY", "WEEK", "MONTH", "QUARTER", "YEAR", "HOUR")
MAX_INTERVALS = 1000


def _next(start: datetime, interval: str) -> datetime:
    if interval == "HOUR":
        return start + timedelta(hours=1)
    if interval == "DAY":
        return start + timedelta(days=1)
    if interval == "WEEK":
        return start + timedelta(days=7)
    months = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}[interval]
    m = start.month - 1 + months
    return start.replace(year=start.year + m // 12, month=m % 12 + 1, day=1)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@routes.add("GET", "emails.histogram", *HISTOGRAM, scopes=("content",), family="marketing.emails")
async def email_histogram(call: Call) -> Response:
    portal = call.require_portal()
    interval = (call.query.get("interval") or "DAY").upper()
    if interval not in INTERVALS:
        raise validation(f"interval must be one of {', '.join(INTERVALS)}")
    start_s = parse_datetime(call.query.get("startTimestamp"))
    end_s = parse_datetime(call.query.get("endTimestamp"))
    if start_s is None or end_s is None or end_s < start_s:
        raise validation("startTimestamp and endTimestamp are required, start before end")
    ids: set[int] = set()
    for raw in call.list_query("emailIds"):
        try:
            ids.add(int(raw))
        except ValueError:
            raise validation(f"emailIds: {raw} is not a number") from None
    start = datetime.fromtimestamp(start_s, UTC)
    end = datetime.fromtimestamp(end_s, UTC)
    buckets: list[tuple[datetime, datetime, dict[str, int]]] = []
    t = start
    while t < end:
        nxt = min(_next(t, interval), end)
        buckets.append((t, nxt, {}))
        t = nxt
        if len(buckets) > MAX_INTERVALS:
            raise validation(f"more than {MAX_INTERVALS} intervals; choose a longer interval")
    for eid, e in portal.emails.items():
        ts = e.get("_published_ts")
        if ts is None or (ids and eid not in ids):
            continue
        when = datetime.fromtimestamp(ts, UTC)
        for lo, hi, counters in buckets:
            if lo <= when < hi:
                for k, v in portal.email_stats.get(eid, {}).items():
                    counters[k] = counters.get(k, 0) + v
                break
    results: list[dict[str, Any]] = [
        {"interval": {"start": _iso(lo), "end": _iso(hi)}, "aggregations": stats_block(c)}
        for lo, hi, c in buckets
    ]
    return json_response({"results": results, "total": len(results)})
