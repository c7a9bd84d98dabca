"""Analytics computed from HubSpot's CRM, since HubSpot has no analytics endpoint.

- Deals: one keyset search over the deals closing in the range (only the four properties
  needed), grouped per pipeline and stage as they arrive.
- Contacts: search `total`s with `limit: 1` — one call per bucket, never downloading contacts.
  Search has its own 5 requests/s budget per portal (facts sheet, section 3), so the number of
  buckets is capped (`analytics_figures.contact_range`).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from atom_hubspot.client import HubSpotClient
from atom_hubspot.client.search import Filter, FilterGroup, SearchRequest
from atom_hubspot.numbers import parse_decimal
from atom_hubspot.service.analytics_figures import (
    LIFECYCLE_STAGES,
    ContactAnalytics,
    ContactRange,
    CountBucket,
    DealAnalytics,
    DealRange,
    check_pipeline,
    contact_figures,
    day_start,
    deal_figures,
)
from atom_hubspot.service.mapping import epoch_ms
from atom_hubspot.storage.mirror import DealGroup

# Bound on concurrent count calls; the client's search governor keeps to 5/s anyway.
COUNT_CONCURRENCY = 4
DEAL_PROPERTIES = ("amount", "dealstage", "pipeline", "closedate")


async def live_deals(client: HubSpotClient, deals: DealRange, now: datetime) -> DealAnalytics:
    pipelines = await client.pipelines.list("deals")
    check_pipeline(pipelines, deals.pipeline_id)
    filters = []
    if deals.close_from is not None:
        filters.append(Filter.gte("closedate", epoch_ms(day_start(deals.close_from))))
    if deals.close_to is not None:
        after = day_start(deals.close_to + timedelta(days=1))
        filters.append(Filter.lt("closedate", epoch_ms(after)))
    if deals.pipeline_id is not None:
        filters.append(Filter.eq("pipeline", deals.pipeline_id))
    req = SearchRequest(limit=200).select(*DEAL_PROPERTIES)
    if filters:
        req = req.where(*filters)
    groups: dict[tuple[str, str], DealGroup] = {}
    async for deal in client.deals.iter_search(req):
        props = deal.properties
        pid, sid = str(props.get("pipeline") or ""), str(props.get("dealstage") or "")
        g = groups.setdefault((pid, sid), DealGroup(pid, sid))
        g.count += 1
        amount = parse_decimal(props.get("amount"))
        if amount is None:
            g.without_amount += 1
        else:
            g.amounts.append(amount)
    return deal_figures(pipelines, groups.values(), deals, now)


async def live_contacts(
    client: HubSpotClient, days: ContactRange, now: datetime
) -> ContactAnalytics:
    sem = asyncio.Semaphore(COUNT_CONCURRENCY)

    async def count(*filters: Filter) -> int:
        async with sem:
            groups = [FilterGroup.of(*filters)] if filters else []
            return int(await client.contacts.count(groups))

    stage_calls = [count(Filter.eq("lifecyclestage", s)) for s in LIFECYCLE_STAGES]
    none_call = count(Filter(property_name="lifecyclestage", operator="NOT_HAS_PROPERTY"))
    bucket_calls = [
        count(
            Filter.gte("createdate", epoch_ms(day_start(a))),
            Filter.lt("createdate", epoch_ms(day_start(b + timedelta(days=1)))),
        )
        for a, b in days.buckets
    ]
    results = await asyncio.gather(count(), none_call, *stage_calls, *bucket_calls)
    total, none = results[0], results[1]
    by_stage = dict(zip(LIFECYCLE_STAGES, results[2 : 2 + len(LIFECYCLE_STAGES)], strict=True))
    by_stage["none"] = none
    new = [
        CountBucket(start=a, end=b, count=c)
        for (a, b), c in zip(days.buckets, results[2 + len(LIFECYCLE_STAGES) :], strict=True)
    ]
    return contact_figures(days, total=total, by_stage=by_stage, new=new, computed_at=now)
