"""Deal, contact and campaign figures for one connection, from the source the mirror policy
picks (`?source=`): HubSpot's CRM (`analytics_live`: HubSpot has no analytics endpoint) or the
portal's mirror (`analytics_mirror`), made into the same figures (`analytics_figures`).
Campaigns: HubSpot's own campaign metrics (`…/campaigns/{guid}/reports/metrics`).

Live results are cached briefly per connection, i.e. per principal and portal
(`HUBSPOT_ANALYTICS_CACHE_SECONDS`), so a dashboard refreshing every few seconds does not
spend the portal's search budget; figures from the mirror take milliseconds and are not
cached.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, TypeVar

from atom_hubspot.client import HubSpotClient
from atom_hubspot.errors import InputError
from atom_hubspot.service.analytics_figures import (
    LIFECYCLE_STAGES,
    ContactAnalytics,
    CountBucket,
    DealAnalytics,
    DealRange,
    PipelineFigures,
    StageFigures,
    buckets,
    contact_range,
)
from atom_hubspot.service.analytics_live import live_contacts, live_deals
from atom_hubspot.service.analytics_mirror import mirror_contacts, mirror_deals
from atom_hubspot.service.campaigns import CampaignReport
from atom_hubspot.service.mirror import MirrorAccess, Source, Sourced
from atom_hubspot.service.tier_gate import TIER_CAMPAIGNS, tier_gate

__all__ = [
    "LIFECYCLE_STAGES",
    "AnalyticsCache",
    "AnalyticsService",
    "ContactAnalytics",
    "CountBucket",
    "DealAnalytics",
    "PipelineFigures",
    "StageFigures",
    "buckets",
]

T = TypeVar("T")


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
        """From HubSpot (cached)."""
        deals = DealRange.of(close_from, close_to, pipeline_id)
        return await self.cache.get_or_compute(
            (self.scope_key, deals), lambda: live_deals(self.client, deals, self.now())
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
        deals = DealRange.of(close_from, close_to, pipeline_id)
        data = await mirror_deals(self.mirror, deals, self.now())
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

    # ------------------------------------------------------------------ contacts

    async def contacts(
        self,
        *,
        created_from: date | None = None,
        created_to: date | None = None,
        granularity: Literal["day", "week"] = "day",
    ) -> tuple[ContactAnalytics, bool]:
        """From HubSpot (cached)."""
        today = self.now().astimezone(UTC).date()
        days = contact_range(today, created_from, created_to, granularity)
        return await self.cache.get_or_compute(
            (self.scope_key, days), lambda: live_contacts(self.client, days, self.now())
        )

    async def contacts_from(
        self,
        source: Source,
        *,
        created_from: date | None = None,
        created_to: date | None = None,
        granularity: Literal["day", "week"] = "day",
    ) -> tuple[ContactAnalytics, bool, Sourced]:
        """`contacts` from the source the policy picks: from the mirror, two grouped queries
        instead of a search per bucket."""
        chosen, as_of = await self._decide(("contacts",), source)
        if chosen == "live" or self.mirror is None:
            data, cached = await self.contacts(
                created_from=created_from, created_to=created_to, granularity=granularity
            )
            return data, cached, Sourced(source="live", as_of=data.computed_at)
        today = self.now().astimezone(UTC).date()
        days = contact_range(today, created_from, created_to, granularity)
        data = await mirror_contacts(self.mirror, days, self.now())
        return data, False, Sourced(source="mirror", as_of=as_of)

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
