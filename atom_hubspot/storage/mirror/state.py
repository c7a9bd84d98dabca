"""Where each object type's sync of a portal stands, saved with the pages it describes, and a
short-lived copy of it for the reads that ask on every request which source answers."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from atom_hubspot.storage.mirror.records import MirrorBase, S, SyncStateView
from atom_hubspot.storage.models import MIRROR_SYNC_TYPES, utcnow

if TYPE_CHECKING:
    from atom_hubspot.storage.db import Database

# How stale a read's idea of the sync state may be (a sync takes seconds to minutes).
STATE_TTL_S = 1.0


class SyncStates(MirrorBase):
    """The sync state rows (`hubspot_mirror_sync_state`), read and written."""

    def __init__(self, db: Database, *, state_ttl_s: float = STATE_TTL_S) -> None:
        super().__init__(db)
        # Sync states asked on every read, kept for a moment per (portal, tenant).
        self.state_ttl_s = state_ttl_s
        self._states: dict[tuple[int, str | None], tuple[float, dict[str, SyncStateView]]] = {}
        self._upserts: dict[frozenset[str], Any] = {}

    async def _save_state(
        self, s: AsyncSession, portal_id: int, object_type: str, values: Mapping[str, Any]
    ) -> None:
        allowed = {c.name for c in S.c} - {"portal_id", "object_type", "updated_at"}
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"not sync state fields: {', '.join(sorted(unknown))}")
        row = {"cursor": {}, **values, "updated_at": utcnow()}
        await s.execute(
            self._state_upsert(frozenset(values)),
            {**row, "portal_id": portal_id, "object_type": object_type},
        )

    def _state_upsert(self, fields: frozenset[str]) -> Any:
        """The state upsert that updates `fields` (and `updated_at`) of an existing row, built
        once per set of fields: the sync saves its state with every page, and building the
        statement (its `excluded` columns) cost more than running it."""
        stmt = self._upserts.get(fields)
        if stmt is None:
            names = sorted({*fields, "cursor", "updated_at", "portal_id", "object_type"})
            insert = self._insert(S).values({n: sa.bindparam(n, type_=S.c[n].type) for n in names})
            stmt = self._upserts[fields] = insert.on_conflict_do_update(
                index_elements=[S.c.portal_id, S.c.object_type],
                set_={n: insert.excluded[n] for n in sorted({*fields, "updated_at"})},
            )
        return stmt

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
