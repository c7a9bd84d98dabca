"""Analytics computed from HubSpot's CRM, since HubSpot has no analytics endpoint.

- Deals: one keyset search over the deals closing in the range (only the four properties
  needed), summed per pipeline and stage; probabilities and won/lost come from each stage's
  metadata (`{"probability": "0.5", "isClosed": "false"}`, string-valued).
- Contacts: search `total`s with `limit: 1` — one call per bucket, never downloading contacts.
  Search has its own 5 requests/s budget per portal (facts sheet, section 3), so the number of
  buckets is capped.
- Campaigns: HubSpot's own campaign metrics (`…/campaigns/{guid}/reports/metrics`).

Results are cached briefly per connection, i.e. per principal and portal
(`HUBSPOT_ANALYTICS_CACHE_SECONDS`), so a dashboard refreshing every few seconds does not
spend the portal's search budget.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field

from atom_hubspot.client import HubSpotClient
from atom_hubspot.client.models import PipelineModel
from atom_hubspot.client.search import Filter, FilterGroup, SearchRequest
from atom_hubspot.errors import InputError, NotFound
from atom_hubspot.service.campaigns import CampaignReport
from atom_hubspot.service.mapping import epoch_ms, parse_decimal
from atom_hubspot.service.mirror import MirrorAccess, Source, Sourced
from atom_hubspot.service.tier_gate import TIER_CAMPAIGNS, tier_gate

T = TypeVar("T")

# HubSpot's default contact lifecycle stages (internal values), in funnel order.
LIFECYCLE_STAGES: tuple[str, ...] = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
MAX_DAY_BUCKETS = 62
MAX_WEEK_BUCKETS = 53
# Bound on concurrent count calls; the client's search governor keeps to 5/s anyway.
COUNT_CONCURRENCY = 4
DEAL_PROPERTIES = ("amount", "dealstage", "pipeline", "closedate")


# --------------------------------------------------------------------------- cache


class AnalyticsCache:
    """A small TTL cache with single flight: concurrent askers of one key share one computation."""

    def __init__(
        self, ttl_s: float, *, clock: Callable[[], float] = time.monotonic, max_entries: int = 512
    ) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[Any, ...], tuple[float, Any]] = OrderedDict()
        self._inflight: dict[tuple[Any, ...], asyncio.Future[Any]] = {}

    async def get_or_compute(
        self, key: tuple[Any, ...], compute: Callable[[], Awaitable[T]]
    ) -> tuple[T, bool]:
        """(value, whether it came from the cache)."""
        now = self.clock()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1], True
        if key in self._inflight:
            return await asyncio.shield(self._inflight[key]), True
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            value = await compute()
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        else:
            fut.set_result(value)
            if self.ttl_s > 0:
                self._entries[key] = (self.clock() + self.ttl_s, value)
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            return value, False
        finally:
            self._inflight.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


# --------------------------------------------------------------------------- models

StageOutcome = Literal["open", "won", "lost", "closed"]


class StageFigures(BaseModel):
    stage_id: str = Field(examples=["contractsent"])
    label: str | None = Field(default=None, examples=["Contract sent"])
    probability: Decimal | None = Field(default=None, examples=["0.9"])
    is_closed: bool | None = None
    outcome: StageOutcome | None = Field(
        default=None,
        description="From the stage metadata; None for a stage HubSpot no longer "
        "lists in the pipeline",
    )
    count: int = 0
    amount_total: Decimal = Field(default=Decimal(0), examples=["125000.00"])
    weighted_amount: Decimal = Field(
        default=Decimal(0), description="Sum of amount x stage probability", examples=["112500"]
    )
    without_amount: int = Field(default=0, description="Deals with no (or no valid) amount")


class PipelineFigures(BaseModel):
    pipeline_id: str = Field(examples=["default"])
    label: str | None = Field(default=None, examples=["Sales Pipeline"])
    count: int = 0
    amount_total: Decimal = Decimal(0)
    weighted_amount: Decimal = Decimal(0)
    open_count: int = 0
    won_count: int = 0
    won_amount: Decimal = Decimal(0)
    lost_count: int = 0
    lost_amount: Decimal = Decimal(0)
    win_rate: float | None = Field(
        default=None,
        examples=[0.42],
        description="won ÷ (won + lost) by count; None when no deal is won or lost",
    )
    stages: list[StageFigures] = Field(default_factory=list)


class DealAnalytics(BaseModel):
    close_date_from: date | None = None
    close_date_to: date | None = None
    pipeline_id: str | None = None
    total_count: int = 0
    total_amount: Decimal = Decimal(0)
    weighted_amount: Decimal = Decimal(0)
    pipelines: list[PipelineFigures]
    computed_at: datetime
    note: str = (
        "Computed from HubSpot's deals (HubSpot has no analytics endpoint); amounts in the "
        "portal's currency; close dates compared in UTC, both ends inclusive."
    )


class CountBucket(BaseModel):
    start: date
    end: date = Field(description="Last day of the bucket (inclusive)")
    count: int


class ContactAnalytics(BaseModel):
    created_from: date
    created_to: date
    granularity: Literal["day", "week"]
    total_contacts: int = Field(description="All contacts in the portal now")
    by_lifecycle_stage: dict[str, int] = Field(
        description="Contacts per lifecycle stage now; `none` = no stage set, `custom` = stages "
        "outside HubSpot's defaults (total minus the rest)",
        examples=[{"lead": 120, "customer": 40, "none": 3, "custom": 0}],
    )
    new_contacts: list[CountBucket]
    new_contacts_total: int
    computed_at: datetime
    note: str = (
        "Counts are HubSpot search totals (one call per bucket); days are UTC days; search "
        "results are eventually consistent, so very recent changes may be missing."
    )


# --------------------------------------------------------------------------- dates and numbers


def day_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _bool(v: object) -> bool | None:
    if isinstance(v, bool):
        return v
    if v is None:
        return None
    s = str(v).strip().lower()
    return True if s == "true" else False if s == "false" else None


def _outcome(probability: Decimal | None, is_closed: bool | None) -> StageOutcome:
    if not is_closed:
        return "open"
    if probability is not None and probability >= 1:
        return "won"
    if probability is not None and probability == 0:
        return "lost"
    return "closed"


def _iso_day(d: date | None) -> str | None:
    """The start of a UTC day in HubSpot's instant form (what the mirror compares with)."""
    return None if d is None else f"{d.isoformat()}T00:00:00.000Z"


def buckets(start: date, end: date, granularity: str) -> list[tuple[date, date]]:
    """Consecutive [first day, last day] buckets covering start..end (weeks counted from start)."""
    step = 1 if granularity == "day" else 7
    out: list[tuple[date, date]] = []
    cur = start
    while cur <= end:
        last = min(end, cur + timedelta(days=step - 1))
        out.append((cur, last))
        cur = last + timedelta(days=1)
    return out


# --------------------------------------------------------------------------- the service


class AnalyticsService:
    """Deal, contact and campaign figures for one connection; cached under `scope_key`."""

    def __init__(
        self,
        client: HubSpotClient,
        cache: AnalyticsCache,
        *,
        scope_key: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        mirror: MirrorAccess | None = None,
    ) -> None:
        self.client = client
        # With a mirror, `deals_from`/`contacts_from` compute locally while it is current.
        self.mirror = mirror
        self.cache = cache
        self.scope_key = scope_key
        self.now = now

    # ------------------------------------------------------------------ deals

    async def deals(
        self,
        *,
        close_from: date | None = None,
        close_to: date | None = None,
        pipeline_id: str | None = None,
    ) -> tuple[DealAnalytics, bool]:
        if close_from and close_to and close_to < close_from:
            raise InputError(
                "close_date_to is before close_date_from",
                errors=[{"field": "close_date_to", "message": "before close_date_from"}],
            )
        key = (self.scope_key, "deals", close_from, close_to, pipeline_id)
        return await self.cache.get_or_compute(
            key, lambda: self._deals(close_from, close_to, pipeline_id)
        )

    async def _deals(
        self, close_from: date | None, close_to: date | None, pipeline_id: str | None
    ) -> DealAnalytics:
        pipelines = await self.client.pipelines.list("deals")
        filters = []
        if close_from is not None:
            filters.append(Filter.gte("closedate", epoch_ms(day_start(close_from))))
        if close_to is not None:
            filters.append(
                Filter.lt("closedate", epoch_ms(day_start(close_to + timedelta(days=1))))
            )
        if pipeline_id is not None:
            filters.append(Filter.eq("pipeline", pipeline_id))
        req = SearchRequest(limit=200).select(*DEAL_PROPERTIES)
        if filters:
            req = req.where(*filters)

        async def deals() -> AsyncIterator[Mapping[str, Any]]:
            async for deal in self.client.deals.iter_search(req):
                yield deal.properties

        return await self._deal_figures(pipelines, deals(), close_from, close_to, pipeline_id)

    async def _deal_figures(
        self,
        pipelines: Sequence[PipelineModel],
        deals: AsyncIterator[Mapping[str, Any]],
        close_from: date | None,
        close_to: date | None,
        pipeline_id: str | None,
    ) -> DealAnalytics:
        """Per pipeline and stage, from the pipelines and the deals' `pipeline`, `dealstage`
        and `amount` (the same sums whether they come from HubSpot or the mirror)."""
        if pipeline_id is not None and not any(p.id == pipeline_id for p in pipelines):
            raise NotFound(f"Deal pipeline {pipeline_id} was not found in this portal.")

        figures: dict[str, PipelineFigures] = {}
        stage_index: dict[tuple[str, str], StageFigures] = {}
        for p in sorted(pipelines, key=lambda p: (p.display_order or 0, p.id)):
            pid = p.id
            if pipeline_id is not None and pid != pipeline_id:
                continue
            pf = PipelineFigures(pipeline_id=pid, label=p.label)
            for s in sorted(p.stages, key=lambda s: (s.display_order or 0, s.id)):
                prob = parse_decimal(s.metadata.get("probability"))
                closed = _bool(s.metadata.get("isClosed"))
                sf = StageFigures(
                    stage_id=s.id,
                    label=s.label,
                    probability=prob,
                    is_closed=closed,
                    outcome=_outcome(prob, closed),
                )
                pf.stages.append(sf)
                stage_index[(pid, sf.stage_id)] = sf
            figures[pid] = pf

        async for props in deals:
            pid = str(props.get("pipeline") or "")
            sid = str(props.get("dealstage") or "")
            if pid not in figures:  # a pipeline archived or deleted since: still counted
                figures[pid] = PipelineFigures(pipeline_id=pid or "(none)", label=None)
            pf = figures[pid]
            if (pid, sid) not in stage_index:  # a stage no longer in the pipeline
                stage_index[(pid, sid)] = StageFigures(stage_id=sid or "(none)", outcome=None)
                pf.stages.append(stage_index[(pid, sid)])
            sf = stage_index[(pid, sid)]
            amount = parse_decimal(props.get("amount"))
            sf.count += 1
            pf.count += 1
            if amount is None:
                sf.without_amount += 1
                amount = Decimal(0)
            sf.amount_total += amount
            pf.amount_total += amount
            if sf.probability is not None:
                weighted = amount * sf.probability
                sf.weighted_amount += weighted
                pf.weighted_amount += weighted
            if sf.outcome == "won":
                pf.won_count += 1
                pf.won_amount += amount
            elif sf.outcome == "lost":
                pf.lost_count += 1
                pf.lost_amount += amount
            elif sf.outcome in ("open", None):
                pf.open_count += 1

        for pf in figures.values():
            decided = pf.won_count + pf.lost_count
            pf.win_rate = round(pf.won_count / decided, 4) if decided else None
        items = list(figures.values())
        return DealAnalytics(
            close_date_from=close_from,
            close_date_to=close_to,
            pipeline_id=pipeline_id,
            total_count=sum(p.count for p in items),
            total_amount=sum((p.amount_total for p in items), Decimal(0)),
            weighted_amount=sum((p.weighted_amount for p in items), Decimal(0)),
            pipelines=items,
            computed_at=self.now(),
        )

    async def deals_from(
        self,
        source: Source,
        *,
        close_from: date | None = None,
        close_to: date | None = None,
        pipeline_id: str | None = None,
    ) -> tuple[DealAnalytics, bool, Sourced]:
        """`deals` from the source the policy picks: the mirror's deals and pipelines give the
        very figures HubSpot's would, without a call."""
        chosen, as_of = await self._decide(("deals", "pipelines"), source)
        if chosen == "live" or self.mirror is None:
            data, cached = await self.deals(
                close_from=close_from, close_to=close_to, pipeline_id=pipeline_id
            )
            return data, cached, Sourced(source="live", as_of=data.computed_at)
        if close_from and close_to and close_to < close_from:
            raise InputError(
                "close_date_to is before close_date_from",
                errors=[{"field": "close_date_to", "message": "before close_date_from"}],
            )
        mirror = self.mirror
        pipelines = [PipelineModel.model_validate(p) for p in await mirror.pipelines()]
        rows = await mirror.deal_rows(
            _iso_day(close_from),
            _iso_day(close_to + timedelta(days=1)) if close_to else None,
            pipeline_id,
        )

        async def deals() -> AsyncIterator[Mapping[str, Any]]:
            for row in rows:
                yield row

        data = await self._deal_figures(pipelines, deals(), close_from, close_to, pipeline_id)
        return data, False, Sourced(source="mirror", as_of=as_of)

    async def _decide(
        self, object_types: tuple[str, ...], source: Source
    ) -> tuple[str, datetime | None]:
        """Mirror only when every object type the figures need may come from it; as of the
        oldest of them."""
        if self.mirror is None:
            return "live", None
        decisions = [await self.mirror.decide(t, source) for t in object_types]
        if any(chosen == "live" for chosen, _ in decisions):
            return "live", None
        stamps = [a for _, a in decisions if a is not None]
        return "mirror", min(stamps) if stamps else None

    async def contacts_from(
        self,
        source: Source,
        *,
        created_from: date | None = None,
        created_to: date | None = None,
        granularity: Literal["day", "week"] = "day",
    ) -> tuple[ContactAnalytics, bool, Sourced]:
        """`contacts` from the source the policy picks: from the mirror, one grouped query
        instead of a search per bucket."""
        chosen, as_of = await self._decide(("contacts",), source)
        if chosen == "live" or self.mirror is None:
            data, cached = await self.contacts(
                created_from=created_from, created_to=created_to, granularity=granularity
            )
            return data, cached, Sourced(source="live", as_of=data.computed_at)
        start, end, bs = self._contact_range(created_from, created_to, granularity)
        stages, days = await self.mirror.contact_counts(
            _iso_day(start) or "", _iso_day(end + timedelta(days=1)) or ""
        )
        total = sum(stages.values())
        by_stage = {s: 0 for s in LIFECYCLE_STAGES}
        none = stages.get(None, 0)
        for value, n in stages.items():
            if value is not None and value.lower() in by_stage:
                by_stage[value.lower()] += n
        by_stage["none"] = none
        by_stage["custom"] = max(0, total - sum(by_stage.values()))
        new = [
            CountBucket(
                start=a,
                end=b,
                count=sum(
                    days.get((a + timedelta(days=i)).isoformat(), 0)
                    for i in range((b - a).days + 1)
                ),
            )
            for a, b in bs
        ]
        data = ContactAnalytics(
            created_from=start,
            created_to=end,
            granularity=granularity,
            total_contacts=total,
            by_lifecycle_stage=by_stage,
            new_contacts=new,
            new_contacts_total=sum(b.count for b in new),
            computed_at=self.now(),
            note="Counted in the portal's mirror (as of meta.as_of); days are UTC days.",
        )
        return data, False, Sourced(source="mirror", as_of=as_of)

    # ------------------------------------------------------------------ contacts

    async def contacts(
        self,
        *,
        created_from: date | None = None,
        created_to: date | None = None,
        granularity: Literal["day", "week"] = "day",
    ) -> tuple[ContactAnalytics, bool]:
        start, end, bs = self._contact_range(created_from, created_to, granularity)
        key = (self.scope_key, "contacts", start, end, granularity)
        return await self.cache.get_or_compute(
            key, lambda: self._contacts(start, end, granularity, bs)
        )

    def _contact_range(
        self, created_from: date | None, created_to: date | None, granularity: str
    ) -> tuple[date, date, list[tuple[date, date]]]:
        today = self.now().astimezone(UTC).date()
        end = created_to or today
        start = created_from or (end - timedelta(days=29 if granularity == "day" else 7 * 12 - 1))
        if end < start:
            raise InputError(
                "created_to is before created_from",
                errors=[{"field": "created_to", "message": "before created_from"}],
            )
        cap = MAX_DAY_BUCKETS if granularity == "day" else MAX_WEEK_BUCKETS
        # Counted before any bucket is made: a range over centuries is millions of them.
        count = (end - start).days // (1 if granularity == "day" else 7) + 1
        if count > cap:
            raise InputError(
                f"That range makes {count} {granularity} buckets; at most {cap} (each is one "
                "HubSpot search call). Narrow the range or use weeks.",
                errors=[{"field": "created_from", "message": f"range too long for {granularity}"}],
            )
        bs = buckets(start, end, granularity)
        return start, end, bs

    async def _contacts(
        self,
        start: date,
        end: date,
        granularity: Literal["day", "week"],
        bs: list[tuple[date, date]],
    ) -> ContactAnalytics:
        sem = asyncio.Semaphore(COUNT_CONCURRENCY)

        async def count(*filters: Filter) -> int:
            async with sem:
                groups = [FilterGroup.of(*filters)] if filters else []
                return int(await self.client.contacts.count(groups))

        stage_calls = [count(Filter.eq("lifecyclestage", s)) for s in LIFECYCLE_STAGES]
        none_call = count(Filter(property_name="lifecyclestage", operator="NOT_HAS_PROPERTY"))
        bucket_calls = [
            count(
                Filter.gte("createdate", epoch_ms(day_start(a))),
                Filter.lt("createdate", epoch_ms(day_start(b + timedelta(days=1)))),
            )
            for a, b in bs
        ]
        results = await asyncio.gather(count(), none_call, *stage_calls, *bucket_calls)
        total, none = results[0], results[1]
        by_stage = dict(zip(LIFECYCLE_STAGES, results[2 : 2 + len(LIFECYCLE_STAGES)], strict=True))
        bucket_counts = results[2 + len(LIFECYCLE_STAGES) :]
        by_stage["none"] = none
        by_stage["custom"] = max(0, total - sum(by_stage.values()))
        new = [
            CountBucket(start=a, end=b, count=c)
            for (a, b), c in zip(bs, bucket_counts, strict=True)
        ]
        return ContactAnalytics(
            created_from=start,
            created_to=end,
            granularity=granularity,
            total_contacts=total,
            by_lifecycle_stage=by_stage,
            new_contacts=new,
            new_contacts_total=sum(b.count for b in new),
            computed_at=self.now(),
        )

    # ------------------------------------------------------------------ campaigns

    async def campaign(
        self, campaign_id: str, *, start: date | None = None, end: date | None = None
    ) -> tuple[CampaignReport, bool]:
        today = self.now().astimezone(UTC).date()
        end = end or today
        start = start or end - timedelta(days=29)
        if end < start:
            raise InputError(
                "end_date is before start_date",
                errors=[{"field": "end_date", "message": "before start_date"}],
            )
        key = (self.scope_key, "campaign", campaign_id, start, end)

        async def compute() -> CampaignReport:
            async with tier_gate(TIER_CAMPAIGNS, "Campaign reports"):
                raw = await self.client.campaigns.metrics(
                    campaign_id, start.isoformat(), end.isoformat()
                )
            return CampaignReport.of(campaign_id, start, end, raw)

        return await self.cache.get_or_compute(key, compute)
