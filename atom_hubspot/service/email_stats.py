"""Marketing email performance: sent, delivered, opened, clicked, bounced, unsubscribed and
their rates, per email or over a date range, optionally in intervals.

HubSpot aggregates the statistics of the emails sent in a time span
(`…/emails/statistics/list`) and in intervals of it (`…/emails/statistics/histogram`).
https://developers.hubspot.com/docs/api-reference/2026-03/marketing/marketing-emails/statistics/get-statistics
https://developers.hubspot.com/docs/api-reference/2026-03/marketing/marketing-emails/statistics/get-histogram
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from atom_hubspot.errors import InputError

if TYPE_CHECKING:
    from atom_hubspot.client import HubSpotClient

Interval = Literal["day", "week", "month"]
MAX_RANGE_DAYS = 731
MAX_INTERVALS = {"day": 92, "week": 105, "month": 25}


def _int(v: Any) -> int:
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return 0


def _rate(n: int, d: int) -> float | None:
    return round(100.0 * n / d, 2) if d else None


class EmailFigures(BaseModel):
    """Counts and rates (percent) of one set of emails. Rates are over delivered (open, click,
    unsubscribe) or sent (delivered, bounce); null when there is nothing to divide by."""

    sent: int = Field(default=0, examples=[4800])
    delivered: int = Field(default=0, examples=[4752])
    opened: int = Field(default=0, examples=[1425])
    clicked: int = Field(default=0, examples=[214])
    bounced: int = Field(default=0, examples=[48])
    unsubscribed: int = Field(default=0, examples=[12])
    delivered_rate: float | None = Field(default=None, examples=[99.0])
    open_rate: float | None = Field(default=None, examples=[29.99])
    click_rate: float | None = Field(default=None, examples=[4.5])
    bounce_rate: float | None = Field(default=None, examples=[1.0])
    unsubscribe_rate: float | None = Field(default=None, examples=[0.25])

    @classmethod
    def of(cls, block: Any) -> EmailFigures:
        """From HubSpot's aggregate block (`counters`, `ratios`, …); rates recomputed from the
        counters so that every interval and total reads the same way."""
        counters = (block or {}).get("counters") or {} if isinstance(block, dict) else {}
        sent, delivered = _int(counters.get("sent")), _int(counters.get("delivered"))
        opened, clicked = _int(counters.get("open")), _int(counters.get("click"))
        bounced = _int(counters.get("bounce"))
        unsubscribed = _int(counters.get("unsubscribed"))
        return cls(
            sent=sent,
            delivered=delivered,
            opened=opened,
            clicked=clicked,
            bounced=bounced,
            unsubscribed=unsubscribed,
            delivered_rate=_rate(delivered, sent),
            open_rate=_rate(opened, delivered),
            click_rate=_rate(clicked, delivered),
            bounce_rate=_rate(bounced, sent),
            unsubscribe_rate=_rate(unsubscribed, delivered),
        )


class EmailInterval(BaseModel):
    start: datetime
    end: datetime
    figures: EmailFigures


class EmailPerformance(BaseModel):
    start_date: date
    end_date: date
    email_ids: list[str] = Field(
        description="The emails sent in the range that the figures count", examples=[["101"]]
    )
    totals: EmailFigures
    interval: Interval | None = None
    intervals: list[EmailInterval] | None = Field(
        default=None, description="The figures per interval, when an interval was asked for"
    )


def date_range(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    end = end or today
    start = start or end - timedelta(days=29)
    if end < start:
        raise InputError(
            "end_date is before start_date",
            errors=[{"field": "end_date", "message": "before start_date"}],
        )
    if (end - start).days > MAX_RANGE_DAYS:
        raise InputError(
            f"The range is longer than {MAX_RANGE_DAYS} days",
            errors=[{"field": "start_date", "message": "range too long"}],
        )
    return start, end


class EmailStatsService:
    """Email performance for one connection."""

    def __init__(self, client: HubSpotClient) -> None:
        self.client = client

    async def performance(
        self,
        start: date,
        end: date,
        *,
        email_ids: Sequence[int] = (),
        interval: Interval | None = None,
    ) -> EmailPerformance:
        lo = datetime.combine(start, time(), tzinfo=UTC)
        hi = datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC)  # end inclusive
        params: list[tuple[str, Any]] = [("startTimestamp", _iso(lo)), ("endTimestamp", _iso(hi))]
        params += [("emailIds", str(i)) for i in email_ids]
        paths = self.client.http.paths
        body = await self.client.json("GET", paths.email_statistics(), params=params)
        emails = [str(e.get("id") if isinstance(e, dict) else e) for e in body.get("emails") or []]
        out = EmailPerformance(
            start_date=start,
            end_date=end,
            email_ids=emails,
            totals=EmailFigures.of(body.get("aggregate")),
            interval=interval,
        )
        if interval is not None:
            if _count(start, end, interval) > MAX_INTERVALS[interval]:
                raise InputError(
                    f"More than {MAX_INTERVALS[interval]} {interval} intervals; choose a longer "
                    "interval or a shorter range",
                    errors=[{"field": "interval", "message": "too many intervals"}],
                )
            hist = await self.client.json(
                "GET",
                paths.email_statistics_histogram(),
                params=[*params, ("interval", interval.upper())],
            )
            out.intervals = [
                EmailInterval(
                    start=r["interval"]["start"],
                    end=r["interval"]["end"],
                    figures=EmailFigures.of(r.get("aggregations") or r.get("aggregateStatistic")),
                )
                for r in hist.get("results") or []
                if isinstance(r, dict) and isinstance(r.get("interval"), dict)
            ]
        return out

    async def for_campaign(self, campaign_id: str, start: date, end: date) -> EmailPerformance:
        """The performance of the campaign's marketing emails (those whose `campaign` is it)
        sent in the range; no emails, no figures."""
        ids: list[int] = []
        after: str | None = None
        for _ in range(100):  # 10,000 emails at most
            page = await self.client.emails.list(limit=100, after=after)
            ids += [
                int(e.id)
                for e in page.results
                if str((e.model_extra or {}).get("campaign") or "") == campaign_id
                and e.id.isdigit()
            ]
            after = page.next_after
            if not after:
                break
        if not ids:
            return EmailPerformance(
                start_date=start, end_date=end, email_ids=[], totals=EmailFigures()
            )
        return await self.performance(start, end, email_ids=ids)


def _count(start: date, end: date, interval: Interval) -> int:
    days = (end - start).days + 1
    return {"day": days, "week": days // 7 + 1, "month": days // 28 + 1}[interval]


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")
