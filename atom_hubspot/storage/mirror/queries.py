"""Reads of the mirror's records: one by id, a page filtered and sorted as HubSpot search
would answer it, counts, and id ranges for the sync's reconciliation.

Filters speak HubSpot search's language (filter groups of {propertyName, operator, value});
`query_records` answers them in SQL with HubSpot's semantics for the operators the routes use.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from atom_hubspot.errors import InputError
from atom_hubspot.storage.mirror.records import (
    MirrorBase,
    MirroredRecord,
    R,
    check_type,
    decimal_or_none,
    iso,
    parse_ts,
    safe_name,
    table_of,
    to_record,
)
from atom_hubspot.storage.models import (
    MIRROR_SYNC_TYPES,
    MirrorCampaign,
    MirrorList,
    MirrorPipeline,
)

# Properties compared as numbers or as instants (HubSpot's default definitions); any other
# property compares as case-insensitive text, as HubSpot search does for strings.
NUMBER_PROPERTIES = frozenset(
    {
        "hs_object_id",
        "amount",
        "numberofemployees",
        "annualrevenue",
        "hs_deal_stage_probability",
    }
)
DATETIME_PROPERTIES = frozenset(
    {
        "createdate",
        "closedate",
        "lastmodifieddate",
        "hs_lastmodifieddate",
        "notes_last_updated",
    }
)
# What a free-text `query` looks in, per object type (HubSpot's default searchable properties).
SEARCHABLE = {
    "contacts": ("firstname", "lastname", "email", "phone", "company"),
    "companies": ("name", "domain", "website", "phone"),
    "deals": ("dealname", "pipeline", "dealstage", "description", "dealtype"),
}
_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$")


@dataclass(frozen=True)
class MirrorPage:
    records: list[MirroredRecord]
    next_after: str | None
    total: int | None


class RecordQueries(MirrorBase):
    """Reads of records (each one statement or one read-only transaction)."""

    async def get_record(
        self, portal_id: int, object_type: str, record_id: int, *, tenant_id: str | None = None
    ) -> MirroredRecord | None:
        """One live record by id; an id merged into another resolves to the survivor. One
        statement per lookup, with no transaction around it on SQLite (`Database.first`):
        this is the read every dashboard makes."""
        check_type(object_type)
        params = {"p": portal_id, "t": object_type}
        row = await self.db.first(_ONE, {**params, "i": int(record_id)}, tenant_id)
        if row is not None and row.merged_into is not None:
            row = await self.db.first(_ONE, {**params, "i": int(row.merged_into)}, tenant_id)
        if row is None or row.archived:
            return None
        return to_record(row)

    async def count_records(self, portal_id: int, object_type: str) -> int:
        async with self.db.session(None, read_only=True) as s:
            return int(
                await s.scalar(
                    sa.select(sa.func.count())
                    .select_from(R)
                    .where(
                        R.c.portal_id == portal_id,
                        R.c.object_type == object_type,
                        R.c.archived.is_(False),
                    )
                )
                or 0
            )

    async def counts(self, portal_id: int, *, tenant_id: str | None = None) -> dict[str, int]:
        """How many live records, pipelines, lists and campaigns the portal's mirror holds."""
        async with self.db.session(tenant_id, read_only=True) as s:
            rows = await s.execute(
                sa.select(R.c.object_type, sa.func.count())
                .where(R.c.portal_id == portal_id, R.c.archived.is_(False))
                .group_by(R.c.object_type)
            )
            out = {str(t): int(n) for t, n in rows}
            for name, model in (
                ("pipelines", MirrorPipeline),
                ("lists", MirrorList),
                ("campaigns", MirrorCampaign),
            ):
                table = table_of(model)
                out[name] = int(
                    await s.scalar(
                        sa.select(sa.func.count())
                        .select_from(table)
                        .where(table.c.portal_id == portal_id)
                    )
                    or 0
                )
        return {t: out.get(t, 0) for t in MIRROR_SYNC_TYPES}

    async def live_ids_between(
        self, portal_id: int, object_type: str, low: int, high: int
    ) -> list[int]:
        """Ids of live records with low < id <= high (for id reconciliation)."""
        async with self.db.session(None, read_only=True) as s:
            return [
                int(i)
                for i in await s.scalars(
                    sa.select(R.c.record_id)
                    .where(
                        R.c.portal_id == portal_id,
                        R.c.object_type == object_type,
                        R.c.archived.is_(False),
                        R.c.record_id > low,
                        R.c.record_id <= high,
                    )
                    .order_by(R.c.record_id)
                )
            ]

    def _typed(self, name: str, numbers: Collection[str] = ()) -> Any:
        text = self.prop(name)
        if name == "hs_object_id":
            return R.c.record_id
        if name in NUMBER_PROPERTIES or name in numbers:
            if self.dialect == "postgresql":
                return sa.case((text.op("~")(_NUMBER.pattern), sa.cast(text, sa.Numeric)))
            return sa.cast(text, sa.Float)
        if name in DATETIME_PROPERTIES:
            return text  # HubSpot's ISO-8601 form (…T…:…:….mmmZ) orders as text
        if self.dialect == "postgresql":
            # Code-point order, as HubSpot's (and Python's) string comparison: a locale
            # collation would skip spaces and punctuation.
            return sa.func.lower(text).collate("C")
        return sa.func.lower(text)

    def _operand(self, name: str, value: Any, numbers: Collection[str] = ()) -> Any:
        if name == "hs_object_id":
            n = decimal_or_none(value)
            return int(n) if n is not None else -1
        if name in NUMBER_PROPERTIES or name in numbers:
            n = decimal_or_none(value)
            if n is None:
                raise InputError(f"{value!r} is not a number for {name}", field=name)
            return float(n) if self.dialect == "sqlite" else n
        if name in DATETIME_PROPERTIES:
            ts = parse_ts(value)
            if ts is None:
                raise InputError(f"{value!r} is not a date for {name}", field=name)
            return iso(ts)
        return str(value).lower()

    def _condition(self, f: Mapping[str, Any], numbers: Collection[str] = ()) -> Any:
        name = str(f.get("propertyName") or "")
        safe_name(name)
        op = str(f.get("operator") or "EQ").upper()
        typed = self._typed(name, numbers)
        raw = self.prop(name) if name != "hs_object_id" else R.c.record_id
        present = (
            raw.is_not(None) if name == "hs_object_id" else sa.and_(raw.is_not(None), raw != "")
        )
        if op == "HAS_PROPERTY":
            return present
        if op == "NOT_HAS_PROPERTY":
            return sa.not_(present)
        if op in ("IN", "NOT_IN"):
            values = [self._operand(name, v, numbers) for v in f.get("values") or []]
            inside = sa.and_(present, typed.in_(values)) if values else sa.false()
            return inside if op == "IN" else sa.not_(inside)
        if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            pattern = _like(str(f.get("value") or "").lower())
            hit = sa.and_(present, sa.func.lower(raw).like(pattern, escape="\\"))
            return hit if op == "CONTAINS_TOKEN" else sa.not_(hit)
        value = self._operand(name, f.get("value"), numbers)
        if op == "EQ":
            return sa.and_(present, typed == value)
        if op == "NEQ":
            return sa.not_(sa.and_(present, typed == value))
        if op == "BETWEEN":
            high = self._operand(name, f.get("highValue"), numbers)
            return sa.and_(present, typed >= value, typed <= high)
        compare = {"LT": typed < value, "LTE": typed <= value, "GT": typed > value}
        if op == "GTE":
            return sa.and_(present, typed >= value)
        if op in compare:
            return sa.and_(present, compare[op])
        raise InputError(f"unknown search operator {op!r}", field="operator")

    async def query_records(
        self,
        portal_id: int,
        object_type: str,
        *,
        filter_groups: Sequence[Sequence[Mapping[str, Any]]] = (),
        sorts: Sequence[tuple[str, bool]] = (),
        query: str | None = None,
        limit: int = 10,
        after: str | None = None,
        keyset: bool = False,
        tenant_id: str | None = None,
        numbers: Collection[str] = (),
    ) -> MirrorPage:
        """A page of live records, as HubSpot search would answer it: groups OR'ed, filters
        AND'ed inside a group, one sort (then id), records without the sort property last.
        `numbers`: more properties to compare as numbers (the portal's own number properties).

        `keyset` pages like HubSpot's list endpoint (`after` = the next id to show); otherwise
        `after` is an offset, like HubSpot search's.
        """
        check_type(object_type)
        where: list[Any] = [
            R.c.portal_id == portal_id,
            R.c.object_type == object_type,
            R.c.archived.is_(False),
        ]
        groups = [g for g in filter_groups if g]
        if groups:
            where.append(
                sa.or_(*[sa.and_(*[self._condition(f, numbers) for f in g]) for g in groups])
            )
        if query and query.strip():
            needle = _like(f"*{query.strip().lower()}*")
            where.append(
                sa.or_(
                    *[
                        sa.func.lower(self.prop(p)).like(needle, escape="\\")
                        for p in SEARCHABLE[object_type]
                    ]
                )
            )
        order: list[Any] = []
        for name, descending in sorts[:1]:  # HubSpot honours one sort
            safe_name(name)
            typed = self._typed(name, numbers)
            order += [typed.is_(None), typed.desc() if descending else typed.asc()]
        order.append(R.c.record_id.asc())
        counted = list(where)
        offset = 0
        if after not in (None, ""):
            if not str(after).isdigit():
                raise InputError("after must be the cursor a previous page returned", field="after")
            if keyset:
                where.append(R.c.record_id >= int(str(after)))
            else:
                offset = int(str(after))
        async with self.db.session(tenant_id, read_only=True) as s:
            rows = (
                await s.execute(
                    sa.select(R).where(*where).order_by(*order).offset(offset).limit(limit + 1)
                )
            ).all()
            # Like HubSpot: a plain listing says no total; a search does.
            total = (
                None
                if keyset
                else int(
                    await s.scalar(sa.select(sa.func.count()).select_from(R).where(*counted)) or 0
                )
            )
        page = [to_record(r) for r in rows[:limit]]
        more = len(rows) > limit
        if not more:
            nxt = None
        elif keyset:
            nxt = str(page[-1].id + 1)
        else:
            nxt = str(offset + limit)
        return MirrorPage(page, nxt, total)


_ONE = sa.select(R).where(
    R.c.portal_id == sa.bindparam("p"),
    R.c.object_type == sa.bindparam("t"),
    R.c.record_id == sa.bindparam("i"),
)


def _like(pattern: str) -> str:
    """A CONTAINS_TOKEN glob (`*` any run, `?` one character) as a LIKE pattern."""
    out = []
    for ch in pattern:
        if ch in "%_\\":
            out.append("\\" + ch)
        elif ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        else:
            out.append(ch)
    return "".join(out)
