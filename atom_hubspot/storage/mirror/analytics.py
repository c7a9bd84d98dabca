"""The mirror's figures, counted in SQL over the records' real columns: contacts per lifecycle
stage and per day created, deals per pipeline and stage with their exact amount sums.

Each is a GROUP BY on indexed columns (`records.record_columns`) answering a few rows however
many records the portal has; the service turns them into the same figures the live
computation makes from HubSpot's answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from atom_hubspot.numbers import parse_decimal
from atom_hubspot.storage.mirror.records import (
    MirrorBase,
    R,
    amount_of,
)

# Written as the partial indexes' own condition, so the planner can use them.
LIVE_CONTACTS = sa.text("object_type = 'contacts' AND NOT archived")
LIVE_DEALS = sa.text("object_type = 'deals' AND NOT archived")


@dataclass
class DealGroup:
    """The live deals of one pipeline and stage (None: the deal names none) in a figure."""

    pipeline: str | None
    dealstage: str | None
    count: int = 0
    without_amount: int = 0
    # Exact partial sums of the amounts: one per decimal scale, and the few amounts the
    # integer columns do not hold, one by one. Their sum is the group's amount total.
    amounts: list[Decimal] = field(default_factory=list)


class MirrorFigures(MirrorBase):
    """Grouped counts and sums over a portal's live records (one read-only transaction)."""

    async def contact_counts(
        self,
        portal_id: int,
        first_day: str,
        day_after: str,
        *,
        tenant_id: str | None = None,
    ) -> tuple[dict[str | None, int], dict[str, int]]:
        """Live contacts per lifecycle stage value (None: not set), and new contacts per UTC
        day of `createdate` from `first_day` to before `day_after` (both YYYY-MM-DD)."""
        live = (R.c.portal_id == portal_id, LIVE_CONTACTS)
        # The day as the expression index has it (0008): grouped in index order.
        day = sa.func.substr(R.c.createdate, sa.literal_column("1"), sa.literal_column("10"))
        async with self.db.session(tenant_id, read_only=True) as s:
            stages = {
                (None if v is None else str(v)): int(n)
                for v, n in await s.execute(
                    sa.select(R.c.lifecyclestage, sa.func.count())
                    .where(*live)
                    .group_by(R.c.lifecyclestage)
                )
            }
            days = {
                str(d): int(n)
                for d, n in await s.execute(
                    sa.select(day, sa.func.count())
                    .where(*live, day >= first_day, day < day_after)
                    .group_by(day)
                )
            }
        return stages, days

    async def deal_groups(
        self,
        portal_id: int,
        *,
        close_from: str | None,
        close_before: str | None,
        pipeline_id: str | None,
        tenant_id: str | None = None,
    ) -> list[DealGroup]:
        """The live deals closing in [close_from, close_before), per pipeline and stage; with
        `pipeline_id`, that pipeline's only (compared as HubSpot search does, ignoring case)."""
        where: list[Any] = [R.c.portal_id == portal_id, LIVE_DEALS]
        if close_from is not None:
            where.append(R.c.closedate >= close_from)
        if close_before is not None:
            where.append(R.c.closedate < close_before)
        if pipeline_id is not None:
            where.append(sa.func.lower(R.c.pipeline) == pipeline_id.lower())
        key = (R.c.pipeline, R.c.dealstage)
        groups: dict[tuple[str | None, str | None], DealGroup] = {}
        async with self.db.session(tenant_id, read_only=True) as s:
            rows = await s.execute(
                sa.select(
                    *key,
                    R.c.amount_scale,
                    sa.func.count(),
                    sa.func.count(R.c.amount_hi),
                    sa.func.sum(R.c.amount_hi),
                    sa.func.sum(R.c.amount_lo),
                )
                .where(*where)
                .group_by(*key, R.c.amount_scale)
            )
            odd = False
            for pipeline, stage, scale, n, summed, hi, lo in rows:
                g = groups.setdefault((pipeline, stage), DealGroup(pipeline, stage))
                g.count += int(n)
                if scale is None:
                    g.without_amount += int(n)
                    continue
                if summed:
                    g.amounts.append(amount_of(scale, hi, lo))
                odd = odd or int(summed) < int(n)
            if odd:  # amounts the integer columns do not hold: read from the JSON
                for pipeline, stage, text in await s.execute(
                    sa.select(*key, self.prop("amount")).where(
                        *where, R.c.amount_scale.is_not(None), R.c.amount_hi.is_(None)
                    )
                ):
                    amount = parse_decimal(text)
                    if amount is not None:
                        groups[(pipeline, stage)].amounts.append(amount)
        return list(groups.values())
