"""Analytics counted in the portal's mirror: the figures `analytics_live` gets from HubSpot's
searches, from a few GROUP BYs over the mirror's indexed columns (storage/mirror/analytics.py)
— no call to HubSpot, and no pass over the records in Python."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from atom_hubspot.client.models import PipelineModel
from atom_hubspot.service.analytics_figures import (
    LIFECYCLE_STAGES,
    ContactAnalytics,
    ContactRange,
    CountBucket,
    DealAnalytics,
    DealRange,
    check_pipeline,
    contact_figures,
    deal_figures,
)
from atom_hubspot.service.mirror import MirrorAccess


def _day(d: date) -> str:
    """The start of a UTC day, in the form the mirror's instant columns hold."""
    return f"{d.isoformat()}T00:00:00.000Z"


async def mirror_deals(mirror: MirrorAccess, deals: DealRange, now: datetime) -> DealAnalytics:
    pipelines = [PipelineModel.model_validate(p) for p in await mirror.pipelines()]
    check_pipeline(pipelines, deals.pipeline_id)
    groups = await mirror.deal_groups(
        _day(deals.close_from) if deals.close_from else None,
        _day(deals.close_to + timedelta(days=1)) if deals.close_to else None,
        deals.pipeline_id,
    )
    return deal_figures(pipelines, groups, deals, now)


async def mirror_contacts(
    mirror: MirrorAccess, days: ContactRange, now: datetime
) -> ContactAnalytics:
    stages, per_day = await mirror.contact_counts(
        days.start.isoformat(), (days.end + timedelta(days=1)).isoformat()
    )
    total = sum(stages.values())
    # HubSpot search compares the stage without regard to case.
    by_stage = dict.fromkeys(LIFECYCLE_STAGES, 0)
    for value, n in stages.items():
        if value is not None and value.lower() in by_stage:
            by_stage[value.lower()] += n
    by_stage["none"] = stages.get(None, 0)
    new = [
        CountBucket(
            start=a,
            end=b,
            count=sum(
                per_day.get((a + timedelta(days=i)).isoformat(), 0) for i in range((b - a).days + 1)
            ),
        )
        for a, b in days.buckets
    ]
    return contact_figures(
        days,
        total=total,
        by_stage=by_stage,
        new=new,
        computed_at=now,
        note="Counted in the portal's mirror (as of meta.as_of); days are UTC days.",
    )
