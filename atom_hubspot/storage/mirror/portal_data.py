"""The mirror's portal-wide data besides records: links between records, deal pipelines and
their stages, lists and their members, campaigns — each replaced whole by the sync — and the
purge of everything a portal left."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from atom_hubspot.storage.mirror.records import (
    LISTS,
    MEMBERS,
    A,
    MirrorBase,
    float_or_none,
    int_or_none,
    parse_ts,
    table_of,
)
from atom_hubspot.storage.models import (
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


class PortalData(MirrorBase):
    """Associations, pipelines, lists and campaigns of a portal (each method one transaction)."""

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
                table = table_of(model)
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
        P, ST = table_of(MirrorPipeline), table_of(MirrorStage)
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
                        "probability": float_or_none((st.get("metadata") or {}).get("probability")),
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
                    "size": int_or_none((x.get("additionalProperties") or {}).get("hs_list_size"))
                    if x.get("size") is None
                    else int_or_none(x.get("size")),
                    "data": dict(x),
                    "updated_at": parse_ts(x.get("updatedAt")),
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
        C = table_of(MirrorCampaign)
        now = utcnow()
        rows = [
            {
                "portal_id": portal_id,
                "campaign_id": str(c.get("id")),
                "properties": dict(c.get("properties") or {}),
                "created_at": parse_ts(c.get("createdAt")),
                "updated_at": parse_ts(c.get("updatedAt")),
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

    async def pipelines(
        self, portal_id: int, object_type: str = "deals", *, tenant_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The mirrored pipelines as HubSpot answered them (with their stages)."""
        P = table_of(MirrorPipeline)
        async with self.db.session(tenant_id, read_only=True) as s:
            rows = await s.scalars(
                sa.select(P.c.data)
                .where(P.c.portal_id == portal_id, P.c.object_type == object_type)
                .order_by(P.c.display_order, P.c.pipeline_id)
            )
            return [dict(r) for r in rows]
