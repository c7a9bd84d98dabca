"""The one way records change in the mirror: upsert, archive, merge, purge.

The rules live here alone: a record is only ever replaced by one HubSpot modified at the same
time or later, a merged record points at the one that survived, a privacy deletion leaves
nothing behind, and a record's real columns (`records.record_columns`) always follow its JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from atom_hubspot.storage.mirror.records import (
    COLUMN_PROPERTY,
    LISTS,
    MEMBERS,
    TYPE_IDS,
    A,
    MirrorBase,
    MirroredRecord,
    R,
    check_type,
    merged_ids,
    record_columns,
)
from atom_hubspot.storage.mirror.state import SyncStates
from atom_hubspot.storage.models import utcnow


class RecordWrites(SyncStates, MirrorBase):
    """Upserts, archives, merges and purges of records (each method one transaction)."""

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
        check_type(object_type)
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
                **record_columns(r.properties),
            }
            for r in records
        }
        stmt = self._insert(R)
        ex = stmt.excluded
        if complete:
            properties: Any = ex.properties
            columns = {c: ex[c] for c in COLUMN_PROPERTY}
        else:
            if self.dialect == "postgresql":
                properties = R.c.properties.op("||")(ex.properties)
            else:
                properties = sa.func.json_patch(R.c.properties, ex.properties)
            # A partial answer changes a column only when it names the column's property.
            columns = {
                c: sa.case((self.has_property(ex.properties, name), ex[c]), else_=R.c[c])
                for c, name in COLUMN_PROPERTY.items()
            }
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
                **{c: pick(value, R.c[c]) for c, value in columns.items()},
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
        check_type(object_type)
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
        check_type(object_type)
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
        check_type(object_type)
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
        check_type(object_type)
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
