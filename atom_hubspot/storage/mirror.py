"""The mirror of each connected portal: the one way in (upsert, archive, merge, purge) and the
reads (one record, a filtered and sorted page, sync state).

Everything that changes the mirror — the full and incremental sync, a write made through the
plugin (read-your-writes), a change feed — goes through `MirrorStore`, so the rules live in one
place: a record is only ever replaced by one HubSpot modified at the same time or later, a
merged record points at the one that survived, a privacy deletion leaves nothing behind.

Filters speak HubSpot search's language (filter groups of {propertyName, operator, value});
`query_records` answers them in SQL with HubSpot's semantics for the operators the routes use.
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from atom_hubspot.errors import InputError
from atom_hubspot.storage.models import (
    MIRROR_OBJECT_TYPES,
    MIRROR_SYNC_TYPES,
    MirrorAssociation,
    MirrorCampaign,
    MirrorList,
    MirrorListMember,
    MirrorPipeline,
    MirrorRecord,
    MirrorStage,
    MirrorSyncState,
    utcnow,
)

if TYPE_CHECKING:
    from atom_hubspot.storage.db import Database


def _table(model: Any) -> sa.Table:
    return cast(sa.Table, model.__table__)


R = _table(MirrorRecord)
A = _table(MirrorAssociation)
S = _table(MirrorSyncState)
MEMBERS = _table(MirrorListMember)
LISTS = _table(MirrorList)

TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3"}
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
MERGED_IDS_PROPERTY = "hs_merged_object_ids"
# How stale a read's idea of the sync state may be (a sync takes seconds to minutes).
STATE_TTL_S = 1.0
_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$")


@dataclass(frozen=True)
class MirroredRecord:
    """A record as the mirror holds it (HubSpot's id, properties and timestamps)."""

    id: int
    properties: dict[str, Any]
    created_at: datetime | None = None
    updated_at: datetime | None = None
    archived: bool = False
    archived_at: datetime | None = None
    merged_into: int | None = None
    synced_at: datetime | None = None

    def to_hubspot(self) -> dict[str, Any]:
        """The record in HubSpot's own answer shape (`id`, `properties`, `createdAt`, …)."""
        out: dict[str, Any] = {
            "id": str(self.id),
            "properties": dict(self.properties),
            "createdAt": _iso(self.created_at),
            "updatedAt": _iso(self.updated_at),
            "archived": self.archived,
        }
        if self.archived_at is not None:
            out["archivedAt"] = _iso(self.archived_at)
        return out


@dataclass
class SyncStateView:
    """Where the sync of one object type of a portal stands."""

    portal_id: int
    object_type: str
    status: str = "idle"
    mode: str | None = None
    cursor: dict[str, Any] = field(default_factory=dict)
    synced_through: datetime | None = None
    run_started_at: datetime | None = None
    last_success_at: datetime | None = None
    reconciled_at: datetime | None = None
    processed: int = 0
    expected: int | None = None
    last_error: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class MirrorPage:
    records: list[MirroredRecord]
    next_after: str | None
    total: int | None


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _check_type(object_type: str) -> str:
    if object_type not in MIRROR_OBJECT_TYPES:
        raise ValueError(f"the mirror holds {', '.join(MIRROR_OBJECT_TYPES)}, not {object_type}")
    return object_type


def merged_ids(properties: Mapping[str, Any]) -> list[int]:
    """The ids HubSpot merged into this record (`hs_merged_object_ids`, `;`-separated)."""
    raw = properties.get(MERGED_IDS_PROPERTY)
    if not raw:
        return []
    return [int(p) for p in str(raw).split(";") if p.strip().isdigit()]


class MirrorStore:
    """Writes and reads of the mirror. Each method is one transaction; `tenant_id` scopes
    PostgreSQL row-level security (None: work that spans tenants, such as the sync)."""

    def __init__(self, db: Database, *, state_ttl_s: float = STATE_TTL_S) -> None:
        self.db = db
        self.dialect = db.dialect
        # Sync states asked on every read, kept for a moment per (portal, tenant).
        self.state_ttl_s = state_ttl_s
        self._states: dict[tuple[int, str | None], tuple[float, dict[str, SyncStateView]]] = {}

    # ------------------------------------------------------------------ writes

    def _insert(self, table: sa.Table) -> Any:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)

    async def upsert_records(
        self,
        portal_id: int,
        object_type: str,
        records: Sequence[MirroredRecord],
        *,
        complete: bool = True,
        tenant_id: str | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> int:
        """Insert or replace records; returns how many were written.

        Idempotent and order-proof: a row is only replaced by a version HubSpot modified at the
        same time or later, so a page read again (a resumed sync, an overlap window) or a late
        answer never takes the mirror back. `complete=False` (a write's answer, which names only
        some properties) merges the properties into the row instead of replacing them.
        Records whose `hs_merged_object_ids` name other records take those over (`merge`).
        `state`, when given, is saved with the records in the same transaction: the sync's
        cursor moves exactly when the page it describes is stored.
        """
        _check_type(object_type)
        async with self.db.session(tenant_id) as s:
            n = await self._upsert(s, portal_id, object_type, records, complete=complete)
            for rec in records:
                absorbed = [i for i in merged_ids(rec.properties) if i != rec.id]
                if absorbed:
                    await self._merge(s, portal_id, object_type, rec.id, absorbed)
            if state is not None:
                await self._save_state(s, portal_id, object_type, state)
            return n

    async def _upsert(
        self,
        s: AsyncSession,
        portal_id: int,
        object_type: str,
        records: Sequence[MirroredRecord],
        *,
        complete: bool,
    ) -> int:
        if not records:
            return 0
        now = utcnow()
        rows = {
            r.id: {
                "portal_id": portal_id,
                "object_type": object_type,
                "record_id": r.id,
                "properties": dict(r.properties),
                "created_at": r.created_at,
                "updated_at": r.updated_at,
                "archived": r.archived,
                "archived_at": r.archived_at,
                "merged_into": None,
                "synced_at": now,
            }
            for r in records
        }
        stmt = self._insert(R)
        ex = stmt.excluded
        if complete:
            properties: Any = ex.properties
        elif self.dialect == "postgresql":
            properties = R.c.properties.op("||")(ex.properties)
        else:
            properties = sa.func.json_patch(R.c.properties, ex.properties)
        # Only a version HubSpot modified at the same time or later replaces the row; an older
        # one still counts as seen (synced_at), which a full pass relies on.
        newer = sa.or_(
            R.c.updated_at.is_(None), ex.updated_at.is_(None), ex.updated_at >= R.c.updated_at
        )

        def pick(new: Any, old: Any) -> Any:
            return sa.case((newer, new), else_=old)

        stmt = stmt.on_conflict_do_update(
            index_elements=[R.c.portal_id, R.c.object_type, R.c.record_id],
            set_={
                "properties": pick(properties, R.c.properties),
                "created_at": sa.func.coalesce(ex.created_at, R.c.created_at),
                "updated_at": pick(sa.func.coalesce(ex.updated_at, R.c.updated_at), R.c.updated_at),
                "archived": pick(ex.archived, R.c.archived),
                "archived_at": pick(ex.archived_at, R.c.archived_at),
                "merged_into": pick(sa.null(), R.c.merged_into),
                "synced_at": ex.synced_at,
            },
        )
        await s.execute(stmt, list(rows.values()))
        return len(rows)

    async def archive_records(
        self,
        portal_id: int,
        object_type: str,
        ids: Iterable[int],
        *,
        archived_at: datetime | None = None,
        before: datetime | None = None,
        tenant_id: str | None = None,
    ) -> int:
        """Mark records archived (HubSpot keeps them restorable for 90 days). With `before`,
        only rows not written since then (a newer write knows better)."""
        _check_type(object_type)
        id_list = sorted({int(i) for i in ids})
        if not id_list:
            return 0
        when = archived_at or utcnow()
        where = [
            R.c.portal_id == portal_id,
            R.c.object_type == object_type,
            R.c.record_id.in_(id_list),
            R.c.archived.is_(False),
        ]
        if before is not None:
            where.append(R.c.synced_at < before)
        async with self.db.session(tenant_id) as s:
            res = await s.execute(
                sa.update(R).where(*where).values(archived=True, archived_at=when)
            )
            return int(getattr(res, "rowcount", 0) or 0)

    async def archive_unseen(self, portal_id: int, object_type: str, since: datetime) -> int:
        """After a full pass that started at `since`: archive the live records it did not
        see (HubSpot archived or deleted them meanwhile)."""
        _check_type(object_type)
        now = utcnow()
        async with self.db.session(None) as s:
            res = await s.execute(
                sa.update(R)
                .where(
                    R.c.portal_id == portal_id,
                    R.c.object_type == object_type,
                    R.c.archived.is_(False),
                    R.c.synced_at < since,
                )
                .values(archived=True, archived_at=now)
            )
            return int(getattr(res, "rowcount", 0) or 0)

    async def merge_records(
        self,
        portal_id: int,
        object_type: str,
        survivor_id: int,
        merged: Iterable[int],
        *,
        tenant_id: str | None = None,
    ) -> None:
        """HubSpot merged `merged` into `survivor_id`: reads of the old ids resolve to it, and
        their associations and list memberships move to it."""
        _check_type(object_type)
        ids = [int(i) for i in merged if int(i) != survivor_id]
        if ids:
            async with self.db.session(tenant_id) as s:
                await self._merge(s, portal_id, object_type, survivor_id, ids)

    async def _merge(
        self, s: AsyncSession, portal_id: int, object_type: str, survivor: int, ids: list[int]
    ) -> None:
        now = utcnow()
        mine = (R.c.portal_id == portal_id, R.c.object_type == object_type)
        # The merged records, and any merged into them before, now point at the survivor.
        await s.execute(
            sa.update(R)
            .where(*mine, sa.or_(R.c.record_id.in_(ids), R.c.merged_into.in_(ids)))
            .values(archived=True, archived_at=now, merged_into=survivor, synced_at=now)
        )
        for end in ("from", "to"):
            type_col, id_col = A.c[f"{end}_type"], A.c[f"{end}_id"]
            moved = sa.select(
                *[
                    (sa.literal(survivor, sa.BigInteger) if c is id_col else c).label(c.name)
                    for c in A.c
                ]
            ).where(A.c.portal_id == portal_id, type_col == object_type, id_col.in_(ids))
            await s.execute(
                self._insert(A).from_select([c.name for c in A.c], moved).on_conflict_do_nothing()
            )
            await s.execute(
                sa.delete(A).where(
                    A.c.portal_id == portal_id, type_col == object_type, id_col.in_(ids)
                )
            )
        lists_of_type = sa.select(LISTS.c.list_id).where(
            LISTS.c.portal_id == portal_id, LISTS.c.object_type_id == TYPE_IDS[object_type]
        )
        in_lists = (
            MEMBERS.c.portal_id == portal_id,
            MEMBERS.c.record_id.in_(ids),
            MEMBERS.c.list_id.in_(lists_of_type),
        )
        await s.execute(
            self._insert(MEMBERS)
            .from_select(
                ["portal_id", "list_id", "record_id"],
                sa.select(
                    MEMBERS.c.portal_id,
                    MEMBERS.c.list_id,
                    sa.literal(survivor, sa.BigInteger),
                ).where(*in_lists),
            )
            .on_conflict_do_nothing()
        )
        await s.execute(sa.delete(MEMBERS).where(*in_lists))

    async def purge_record(
        self, portal_id: int, object_type: str, record_id: int, *, tenant_id: str | None = None
    ) -> int:
        """A privacy (GDPR) deletion: the record, the records merged into it, their
        associations and list memberships leave the mirror entirely. Returns rows removed."""
        _check_type(object_type)
        mine = (R.c.portal_id == portal_id, R.c.object_type == object_type)
        async with self.db.session(tenant_id) as s:
            ids = [int(record_id)] + [
                int(i)
                for i in await s.scalars(
                    sa.select(R.c.record_id).where(*mine, R.c.merged_into == record_id)
                )
            ]
            n = int(
                getattr(
                    await s.execute(sa.delete(R).where(*mine, R.c.record_id.in_(ids))),
                    "rowcount",
                    0,
                )
                or 0
            )
            for end in ("from", "to"):
                await s.execute(
                    sa.delete(A).where(
                        A.c.portal_id == portal_id,
                        A.c[f"{end}_type"] == object_type,
                        A.c[f"{end}_id"].in_(ids),
                    )
                )
            await s.execute(
                sa.delete(MEMBERS).where(
                    MEMBERS.c.portal_id == portal_id,
                    MEMBERS.c.record_id.in_(ids),
                    MEMBERS.c.list_id.in_(
                        sa.select(LISTS.c.list_id).where(
                            LISTS.c.portal_id == portal_id,
                            LISTS.c.object_type_id == TYPE_IDS[object_type],
                        )
                    ),
                )
            )
            return n

    async def purge_portal(self, portal_id: int) -> None:
        """Remove everything the mirror holds of a portal (it was disconnected)."""
        async with self.db.session(None) as s:
            for model in (
                MirrorRecord,
                MirrorAssociation,
                MirrorStage,
                MirrorPipeline,
                MirrorListMember,
                MirrorList,
                MirrorCampaign,
                MirrorSyncState,
            ):
                table = _table(model)
                await s.execute(sa.delete(table).where(table.c.portal_id == portal_id))

    async def replace_associations(
        self,
        portal_id: int,
        from_type: str,
        to_type: str,
        links: Mapping[int, Iterable[tuple[int, int]]],
    ) -> int:
        """The `to_type` links of each record in `links` (from id -> [(to id, type id)]) are
        exactly those given: links HubSpot no longer reports go."""
        if not links:
            return 0
        now = utcnow()
        rows = [
            {
                "portal_id": portal_id,
                "from_type": from_type,
                "from_id": int(src),
                "to_type": to_type,
                "to_id": int(dst),
                "type_id": int(type_id),
                "synced_at": now,
            }
            for src, targets in links.items()
            for dst, type_id in set(targets)
        ]
        async with self.db.session(None) as s:
            await s.execute(
                sa.delete(A).where(
                    A.c.portal_id == portal_id,
                    A.c.from_type == from_type,
                    A.c.to_type == to_type,
                    A.c.from_id.in_([int(i) for i in links]),
                )
            )
            if rows:
                await s.execute(self._insert(A).on_conflict_do_nothing(), rows)
        return len(rows)

    async def replace_pipelines(
        self, portal_id: int, object_type: str, pipelines: Sequence[Mapping[str, Any]]
    ) -> None:
        """A portal's pipelines and their stages, as HubSpot's pipelines API answered."""
        now = utcnow()
        P, ST = _table(MirrorPipeline), _table(MirrorStage)
        async with self.db.session(None) as s:
            for table in (ST, P):
                await s.execute(
                    sa.delete(table).where(
                        table.c.portal_id == portal_id, table.c.object_type == object_type
                    )
                )
            for p in pipelines:
                pid = str(p.get("id"))
                await s.execute(
                    sa.insert(P).values(
                        portal_id=portal_id,
                        object_type=object_type,
                        pipeline_id=pid,
                        label=p.get("label"),
                        display_order=int(p.get("displayOrder") or 0),
                        archived=bool(p.get("archived")),
                        data=dict(p),
                        synced_at=now,
                    )
                )
                stages = [
                    {
                        "portal_id": portal_id,
                        "object_type": object_type,
                        "pipeline_id": pid,
                        "stage_id": str(st.get("id")),
                        "label": st.get("label"),
                        "display_order": int(st.get("displayOrder") or 0),
                        "probability": _float((st.get("metadata") or {}).get("probability")),
                        "is_closed": str((st.get("metadata") or {}).get("isClosed")).lower()
                        == "true",
                        "archived": bool(st.get("archived")),
                        "data": dict(st),
                    }
                    for st in p.get("stages") or []
                    if isinstance(st, Mapping) and st.get("id") is not None
                ]
                if stages:
                    await s.execute(sa.insert(ST), stages)

    async def replace_lists(self, portal_id: int, lists: Sequence[Mapping[str, Any]]) -> None:
        """A portal's lists (definitions; memberships go through `replace_list_members`)."""
        now = utcnow()
        async with self.db.session(None) as s:
            keep = [str(x.get("listId")) for x in lists if x.get("listId") is not None]
            await s.execute(
                sa.delete(MEMBERS).where(
                    MEMBERS.c.portal_id == portal_id, MEMBERS.c.list_id.not_in(keep)
                )
            )
            await s.execute(sa.delete(LISTS).where(LISTS.c.portal_id == portal_id))
            rows = [
                {
                    "portal_id": portal_id,
                    "list_id": str(x.get("listId")),
                    "name": x.get("name"),
                    "processing_type": x.get("processingType"),
                    "object_type_id": x.get("objectTypeId"),
                    "size": _int((x.get("additionalProperties") or {}).get("hs_list_size"))
                    if x.get("size") is None
                    else _int(x.get("size")),
                    "data": dict(x),
                    "updated_at": _parse_ts(x.get("updatedAt")),
                    "synced_at": now,
                }
                for x in lists
                if x.get("listId") is not None
            ]
            if rows:
                await s.execute(sa.insert(LISTS), rows)

    async def replace_list_members(
        self, portal_id: int, list_id: str, record_ids: Iterable[int]
    ) -> int:
        rows = [
            {"portal_id": portal_id, "list_id": str(list_id), "record_id": int(i)}
            for i in set(record_ids)
        ]
        async with self.db.session(None) as s:
            await s.execute(
                sa.delete(MEMBERS).where(
                    MEMBERS.c.portal_id == portal_id, MEMBERS.c.list_id == str(list_id)
                )
            )
            if rows:
                await s.execute(sa.insert(MEMBERS), rows)
        return len(rows)

    async def upsert_campaigns(self, portal_id: int, campaigns: Sequence[Mapping[str, Any]]) -> int:
        C = _table(MirrorCampaign)
        now = utcnow()
        rows = [
            {
                "portal_id": portal_id,
                "campaign_id": str(c.get("id")),
                "properties": dict(c.get("properties") or {}),
                "created_at": _parse_ts(c.get("createdAt")),
                "updated_at": _parse_ts(c.get("updatedAt")),
                "synced_at": now,
            }
            for c in campaigns
            if c.get("id")
        ]
        if not rows:
            return 0
        async with self.db.session(None) as s:
            stmt = self._insert(C)
            await s.execute(
                stmt.on_conflict_do_update(
                    index_elements=[C.c.portal_id, C.c.campaign_id],
                    set_={
                        k: stmt.excluded[k]
                        for k in ("properties", "created_at", "updated_at", "synced_at")
                    },
                ),
                rows,
            )
        return len(rows)

    # ------------------------------------------------------------------ sync state

    async def _save_state(
        self, s: AsyncSession, portal_id: int, object_type: str, values: Mapping[str, Any]
    ) -> None:
        allowed = {c.name for c in S.c} - {"portal_id", "object_type", "updated_at"}
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"not sync state fields: {', '.join(sorted(unknown))}")
        row = {"cursor": {}, **values, "updated_at": utcnow()}
        stmt = self._insert(S).values(portal_id=portal_id, object_type=object_type, **row)
        await s.execute(
            stmt.on_conflict_do_update(
                index_elements=[S.c.portal_id, S.c.object_type],
                set_={k: stmt.excluded[k] for k in {*values, "updated_at"}},
            )
        )

    async def save_state(self, portal_id: int, object_type: str, **values: Any) -> None:
        async with self.db.session(None) as s:
            await self._save_state(s, portal_id, object_type, values)

    async def sync_states(
        self, portal_id: int, *, tenant_id: str | None = None
    ) -> dict[str, SyncStateView]:
        """Each object type's sync state for the portal (types never synced are `idle`)."""
        async with self.db.session(tenant_id, read_only=True) as s:
            rows = (await s.execute(sa.select(S).where(S.c.portal_id == portal_id))).mappings()
            found = {r["object_type"]: SyncStateView(**dict(r)) for r in rows}
        return {
            **{t: SyncStateView(portal_id, t) for t in MIRROR_SYNC_TYPES},
            **found,
        }

    async def recent_sync_states(
        self, portal_id: int, *, tenant_id: str | None = None
    ) -> dict[str, SyncStateView]:
        """`sync_states`, at most `state_ttl_s` old: what a read needs to pick its source."""
        key = (portal_id, tenant_id)
        now = time.monotonic()
        hit = self._states.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        states = await self.sync_states(portal_id, tenant_id=tenant_id)
        if len(self._states) > 4096:
            self._states.clear()
        self._states[key] = (now + self.state_ttl_s, states)
        return states

    async def sync_state(self, portal_id: int, object_type: str) -> SyncStateView:
        return (await self.sync_states(portal_id)).get(object_type) or SyncStateView(
            portal_id, object_type
        )

    # ------------------------------------------------------------------ reads

    async def get_record(
        self, portal_id: int, object_type: str, record_id: int, *, tenant_id: str | None = None
    ) -> MirroredRecord | None:
        """One live record by id; an id merged into another resolves to the survivor. One
        statement per lookup, with no transaction around it on SQLite (`Database.first`):
        this is the read every dashboard makes."""
        _check_type(object_type)
        params = {"p": portal_id, "t": object_type}
        row = await self.db.first(_ONE, {**params, "i": int(record_id)}, tenant_id)
        if row is not None and row.merged_into is not None:
            row = await self.db.first(_ONE, {**params, "i": int(row.merged_into)}, tenant_id)
        if row is None or row.archived:
            return None
        return _record(row)

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
                table = _table(model)
                out[name] = int(
                    await s.scalar(
                        sa.select(sa.func.count())
                        .select_from(table)
                        .where(table.c.portal_id == portal_id)
                    )
                    or 0
                )
        return {t: out.get(t, 0) for t in MIRROR_SYNC_TYPES}

    async def contact_counts(
        self,
        portal_id: int,
        created_from: str,
        created_before: str,
        *,
        tenant_id: str | None = None,
    ) -> tuple[dict[str | None, int], dict[str, int]]:
        """Live contacts per lifecycle stage value (None: not set), and new contacts per UTC
        day of `createdate` in [created_from, created_before) (ISO-8601 instants)."""
        stage = self.prop("lifecyclestage")
        created = self.prop("createdate")
        # Written as the partial indexes' own condition, so the planner can use them.
        live = (R.c.portal_id == portal_id, sa.text("object_type = 'contacts' AND NOT archived"))
        async with self.db.session(tenant_id, read_only=True) as s:
            stages = {
                (None if v in (None, "") else str(v)): int(n)
                for v, n in await s.execute(
                    sa.select(stage, sa.func.count()).where(*live).group_by(stage)
                )
            }
            day = sa.func.substr(created, 1, 10)
            days = {
                str(d): int(n)
                for d, n in await s.execute(
                    sa.select(day, sa.func.count())
                    .where(*live, created >= created_from, created < created_before)
                    .group_by(day)
                )
            }
        return stages, days

    async def deal_rows(
        self,
        portal_id: int,
        *,
        close_from: str | None,
        close_before: str | None,
        pipeline_id: str | None,
        tenant_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """`pipeline`, `dealstage` and `amount` of the live deals closing in the range."""
        names = ("pipeline", "dealstage", "amount")
        where = [R.c.portal_id == portal_id, R.c.object_type == "deals", sa.not_(R.c.archived)]
        close = self.prop("closedate")
        if close_from is not None:
            where.append(close >= close_from)
        if close_before is not None:
            where.append(close < close_before)
        if pipeline_id is not None:
            where.append(sa.func.lower(self.prop("pipeline")) == pipeline_id.lower())
        async with self.db.session(tenant_id, read_only=True) as s:
            rows = await s.execute(sa.select(*[self.prop(n) for n in names]).where(*where))
            return [dict(zip(names, row, strict=True)) for row in rows]

    async def pipelines(
        self, portal_id: int, object_type: str = "deals", *, tenant_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The mirrored pipelines as HubSpot answered them (with their stages)."""
        P = _table(MirrorPipeline)
        async with self.db.session(tenant_id, read_only=True) as s:
            rows = await s.scalars(
                sa.select(P.c.data)
                .where(P.c.portal_id == portal_id, P.c.object_type == object_type)
                .order_by(P.c.display_order, P.c.pipeline_id)
            )
            return [dict(r) for r in rows]

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

    def prop(self, name: str) -> Any:
        """A property's text inside the JSON, in the form the expression indexes use."""
        if self.dialect == "postgresql":
            return R.c.properties.op("->>")(sa.literal_column(f"'{_safe_name(name)}'"))
        return sa.func.json_extract(R.c.properties, sa.literal_column(f"'$.{_safe_name(name)}'"))

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
            n = _decimal(value)
            return int(n) if n is not None else -1
        if name in NUMBER_PROPERTIES or name in numbers:
            n = _decimal(value)
            if n is None:
                raise InputError(f"{value!r} is not a number for {name}", field=name)
            return float(n) if self.dialect == "sqlite" else n
        if name in DATETIME_PROPERTIES:
            ts = _parse_ts(value)
            if ts is None:
                raise InputError(f"{value!r} is not a date for {name}", field=name)
            return _iso(ts)
        return str(value).lower()

    def _condition(self, f: Mapping[str, Any], numbers: Collection[str] = ()) -> Any:
        name = str(f.get("propertyName") or "")
        _safe_name(name)
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
        _check_type(object_type)
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
            _safe_name(name)
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
        page = [_record(r) for r in rows[:limit]]
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


def _record(row: Any) -> MirroredRecord:
    return MirroredRecord(
        id=int(row.record_id),
        properties=dict(row.properties or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
        archived=bool(row.archived),
        archived_at=row.archived_at,
        merged_into=row.merged_into,
        synced_at=row.synced_at,
    )


_NAME = re.compile(r"^[A-Za-z0-9_]{1,100}$")


def _safe_name(name: str) -> str:
    # Property names go into SQL as JSON paths: only HubSpot's name characters are allowed.
    if not _NAME.match(name):
        raise InputError(f"not a property name: {name[:60]!r}", field="propertyName")
    return name


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


def _decimal(value: Any) -> Decimal | None:
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def _float(value: Any) -> float | None:
    d = _decimal(value) if value is not None else None
    return float(d) if d is not None else None


def _int(value: Any) -> int | None:
    d = _decimal(value) if value is not None else None
    return int(d) if d is not None else None


def _parse_ts(value: Any) -> datetime | None:
    """HubSpot's instants: ISO-8601 (…Z) or epoch milliseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    s = str(value).strip()
    if re.fullmatch(r"-?\d+", s):
        return datetime.fromtimestamp(int(s) / 1000, UTC)
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


parse_timestamp = _parse_ts
iso_timestamp = _iso
