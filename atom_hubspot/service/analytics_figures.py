"""What the analytics answer, and how the figures are made from counted deals and contacts —
the same way whether HubSpot's search (`analytics_live`) or the mirror (`analytics_mirror`)
counted them, so both sources give equal figures for equal data.

Deals arrive as groups per pipeline and stage (`DealGroup`: how many, how many without an
amount, and exact sums of their amounts); probabilities and won/lost come from each stage's
metadata (`{"probability": "0.5", "isClosed": "false"}`, string-valued).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from atom_hubspot.client.models import PipelineModel
from atom_hubspot.errors import InputError, NotFound
from atom_hubspot.numbers import parse_decimal
from atom_hubspot.storage.mirror import DealGroup

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


@dataclass(frozen=True)
class DealRange:
    """Which deals a figure counts: closing on these UTC days (both ends inclusive; None:
    open), in one pipeline or all."""

    close_from: date | None
    close_to: date | None
    pipeline_id: str | None

    @classmethod
    def of(
        cls, close_from: date | None, close_to: date | None, pipeline_id: str | None
    ) -> DealRange:
        if close_from and close_to and close_to < close_from:
            raise InputError(
                "close_date_to is before close_date_from",
                errors=[{"field": "close_date_to", "message": "before close_date_from"}],
            )
        return cls(close_from, close_to, pipeline_id)


@dataclass(frozen=True)
class ContactRange:
    """The days the new-contact figures cover, and their buckets."""

    start: date
    end: date
    granularity: Literal["day", "week"]
    buckets: tuple[tuple[date, date], ...]


def contact_range(
    today: date,
    created_from: date | None,
    created_to: date | None,
    granularity: Literal["day", "week"],
) -> ContactRange:
    """The days the new-contact figures cover (default: the last 30 days, or 12 weeks) and
    their buckets; a range of more buckets than one figure may count is refused."""
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
    return ContactRange(start, end, granularity, tuple(buckets(start, end, granularity)))


def check_pipeline(pipelines: Sequence[PipelineModel], pipeline_id: str | None) -> None:
    if pipeline_id is not None and not any(p.id == pipeline_id for p in pipelines):
        raise NotFound(f"Deal pipeline {pipeline_id} was not found in this portal.")


def deal_figures(
    pipelines: Sequence[PipelineModel],
    groups: Iterable[DealGroup],
    deals: DealRange,
    computed_at: datetime,
) -> DealAnalytics:
    """Per pipeline and stage, from the pipelines and the deals grouped by `pipeline` and
    `dealstage`. Sums are exact: each group's amounts (single amounts, or exact partial sums)
    add to what adding its deals one by one gives, trailing zeros included."""
    pipeline_id = deals.pipeline_id
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

    for g in groups:
        pid = str(g.pipeline or "")
        sid = str(g.dealstage or "")
        if pid not in figures:  # a pipeline archived or deleted since: still counted
            figures[pid] = PipelineFigures(pipeline_id=pid or "(none)", label=None)
        pf = figures[pid]
        if (pid, sid) not in stage_index:  # a stage no longer in the pipeline
            stage_index[(pid, sid)] = StageFigures(stage_id=sid or "(none)", outcome=None)
            pf.stages.append(stage_index[(pid, sid)])
        sf = stage_index[(pid, sid)]
        total = sum(g.amounts, Decimal(0))
        sf.count += g.count
        pf.count += g.count
        sf.without_amount += g.without_amount
        sf.amount_total += total
        pf.amount_total += total
        if sf.probability is not None:
            prob = sf.probability
            # A deal without an amount weighs 0 x probability, as the deals one by one do.
            weighted = sum(
                (a * prob for a in g.amounts),
                Decimal(0) * prob if g.without_amount else Decimal(0),
            )
            sf.weighted_amount += weighted
            pf.weighted_amount += weighted
        if sf.outcome == "won":
            pf.won_count += g.count
            pf.won_amount += total
        elif sf.outcome == "lost":
            pf.lost_count += g.count
            pf.lost_amount += total
        elif sf.outcome in ("open", None):
            pf.open_count += g.count

    for pf in figures.values():
        decided = pf.won_count + pf.lost_count
        pf.win_rate = round(pf.won_count / decided, 4) if decided else None
    items = list(figures.values())
    return DealAnalytics(
        close_date_from=deals.close_from,
        close_date_to=deals.close_to,
        pipeline_id=pipeline_id,
        total_count=sum(p.count for p in items),
        total_amount=sum((p.amount_total for p in items), Decimal(0)),
        weighted_amount=sum((p.weighted_amount for p in items), Decimal(0)),
        pipelines=items,
        computed_at=computed_at,
    )


def contact_figures(
    days: ContactRange,
    *,
    total: int,
    by_stage: dict[str, int],
    new: list[CountBucket],
    computed_at: datetime,
    note: str | None = None,
) -> ContactAnalytics:
    """`by_stage` holds HubSpot's default stages and `none`; `custom` is what is left."""
    by_stage = {**by_stage, "custom": max(0, total - sum(by_stage.values()))}
    data = ContactAnalytics(
        created_from=days.start,
        created_to=days.end,
        granularity=days.granularity,
        total_contacts=total,
        by_lifecycle_stage=by_stage,
        new_contacts=new,
        new_contacts_total=sum(b.count for b in new),
        computed_at=computed_at,
    )
    if note is not None:
        data.note = note
    return data
