"""Campaigns filtered by status and start date, a page at a time.

HubSpot's campaign list takes only a name, so the filters run over its pages (100 campaigns a
call, the campaign properties asked for by name). The cursor says where the next page starts in
HubSpot's list: `s<skip>a<HubSpot's after>` — the campaigns to pass over in the page HubSpot
answers for `after`, because the previous page ended inside it.
https://developers.hubspot.com/docs/api-reference/marketing-campaigns-v3/guide
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from atom_hubspot.errors import InputError
from atom_hubspot.service.campaigns import CampaignInfo, CampaignInfoPage
from atom_hubspot.service.tier_gate import TIER_CAMPAIGNS, tier_gate

if TYPE_CHECKING:
    from atom_hubspot.client import HubSpotClient

CAMPAIGN_PROPERTIES = (
    "hs_name",
    "hs_start_date",
    "hs_end_date",
    "hs_notes",
    "hs_campaign_status",
    "hs_owner",
    "hs_currency_code",
)
HUBSPOT_PAGE = 100
MAX_PAGES_PER_ANSWER = 50  # 5,000 campaigns looked at for one answer, at most
_CURSOR = re.compile(r"^s(\d{1,3})a([A-Za-z0-9_\-=]{0,200})$")


@dataclass(frozen=True)
class CampaignFilter:
    status: str | None = None
    start_from: date | None = None
    start_to: date | None = None

    def __post_init__(self) -> None:
        if self.start_from and self.start_to and self.start_to < self.start_from:
            raise InputError(
                "start_date_to is before start_date_from",
                errors=[{"field": "start_date_to", "message": "before start_date_from"}],
            )

    @property
    def active(self) -> bool:
        return bool(self.status or self.start_from or self.start_to)

    def matches(self, c: CampaignInfo) -> bool:
        if self.status:
            status = str(c.properties.get("hs_campaign_status") or "").lower()
            if status != self.status.lower():
                return False
        if self.start_from or self.start_to:
            try:
                start = date.fromisoformat(str(c.start_date or "")[:10])
            except ValueError:
                return False  # no start date: outside any date range
            if self.start_from and start < self.start_from:
                return False
            if self.start_to and start > self.start_to:
                return False
        return True


def _parse(after: str | None) -> tuple[int, str | None]:
    if not after:
        return 0, None
    m = _CURSOR.match(after)
    if m is None:
        raise InputError(
            "after is not a cursor from a previous answer's next_after",
            errors=[{"field": "after", "message": "not a cursor from next_after"}],
        )
    return int(m.group(1)), m.group(2) or None


async def filtered_campaigns(
    client: HubSpotClient,
    flt: CampaignFilter,
    *,
    limit: int,
    after: str | None,
    name: str | None = None,
) -> CampaignInfoPage:
    """Up to `limit` campaigns that match, and the cursor of the rest (`total` is unknown)."""
    skip, hs_after = _parse(after)
    found: list[CampaignInfo] = []
    for _ in range(MAX_PAGES_PER_ANSWER):
        async with tier_gate(TIER_CAMPAIGNS, "Campaigns"):
            page = await client.campaigns.list(
                limit=HUBSPOT_PAGE, after=hs_after, name=name, properties=CAMPAIGN_PROPERTIES
            )
        items = [CampaignInfo.of(c) for c in page.results]
        for i in range(skip, len(items)):
            if not flt.matches(items[i]):
                continue
            found.append(items[i])
            if len(found) == limit:
                rest = i + 1
                if rest < len(items):
                    return CampaignInfoPage(results=found, next_after=f"s{rest}a{hs_after or ''}")
                nxt = f"s0a{page.next_after}" if page.next_after else None
                return CampaignInfoPage(results=found, next_after=nxt)
        skip = 0
        if not page.next_after:
            return CampaignInfoPage(results=found, next_after=None)
        hs_after = page.next_after
    # Looked at enough for one answer: hand back what matched and where to go on.
    return CampaignInfoPage(results=found, next_after=f"s0a{hs_after}")
