"""The mirror as the routes see it: where each object type's sync stands, and which source a
read uses (`?source=mirror|live|auto`).

`auto` reads from the mirror when that object type is `current` — its last sync succeeded and
what it holds is at most HUBSPOT_MIRROR_MAX_LAG_SECONDS behind HubSpot — and from HubSpot
otherwise. Every answer says which it was and as of when (`meta.source`, `meta.as_of`).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from atom_hubspot.errors import InputError, MirrorNotReady
from atom_hubspot.storage.mirror import (
    DealGroup,
    MirroredRecord,
    MirrorPage,
    MirrorStore,
    SyncStateView,
)

Source = Literal["mirror", "live", "auto"]
SOURCES: tuple[str, ...] = ("mirror", "live", "auto")


class SyncProgressView(BaseModel):
    processed: int = Field(description="Records written so far in this run")
    expected: int | None = Field(default=None, description="HubSpot's count, when known")


class ObjectSyncStatus(BaseModel):
    """Where the mirror of one object type stands."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "object_type": "contacts",
                    "status": "current",
                    "mode": "incremental",
                    "progress": None,
                    "last_success_at": "2026-12-02T06:00:05Z",
                    "synced_through": "2026-12-02T06:00:00Z",
                    "lag_s": 42.0,
                    "records": 300,
                    "last_error": None,
                }
            ]
        }
    )

    object_type: str
    status: Literal["idle", "running", "current"] = Field(
        description="running: a sync is under way; current: the last one succeeded and the "
        "mirror is within the lag bound; idle: neither (never synced, stale or failed)"
    )
    mode: str | None = Field(default=None, description="full or incremental")
    progress: SyncProgressView | None = None
    last_success_at: datetime | None = None
    synced_through: datetime | None = Field(
        default=None, description="The mirror holds every change HubSpot made up to this time"
    )
    lag_s: float | None = Field(default=None, description="Seconds since synced_through")
    records: int = Field(description="Live records (or pipelines, lists, campaigns) mirrored")
    last_error: str | None = None


class FeedStatusModel(BaseModel):
    """HubSpot's change feed into this portal's mirror (HUBSPOT_FEED_MODE)."""

    mode: Literal["push", "pull", "polling"]
    last_event_at: datetime | None = None
    events_per_minute: float = Field(description="Events received, average of the last 5 min")
    pending: int = Field(description="Events stored, not yet applied")
    parked: int = Field(description="Events that could not be applied (see the logs)")
    journal_offset: str | None = Field(default=None, description="Pull mode: where it stands")
    signature_failures: int = Field(description="Refused deliveries, any portal, since start")
    last_signature_failure: str | None = None
    last_signature_failure_at: datetime | None = None


class PortalSyncStatus(BaseModel):
    portal_id: int
    objects: list[ObjectSyncStatus]
    feed: FeedStatusModel | None = None


def lag_of(state: SyncStateView, now: float | None = None) -> float | None:
    if state.synced_through is None:
        return None
    return max(0.0, (now if now is not None else time.time()) - state.synced_through.timestamp())


def is_current(state: SyncStateView, max_lag_s: float, now: float | None = None) -> bool:
    lag = lag_of(state, now)
    return (
        state.last_success_at is not None
        and state.status in ("current", "running")
        and lag is not None
        and lag <= max_lag_s
    )


def object_status(
    state: SyncStateView, records: int, max_lag_s: float, now: float | None = None
) -> ObjectSyncStatus:
    if state.status == "running":
        status: Literal["idle", "running", "current"] = "running"
    elif is_current(state, max_lag_s, now):
        status = "current"
    else:
        status = "idle"
    return ObjectSyncStatus(
        object_type=state.object_type,
        status=status,
        mode=state.mode,
        progress=SyncProgressView(processed=state.processed, expected=state.expected)
        if state.status == "running"
        else None,
        last_success_at=state.last_success_at,
        synced_through=state.synced_through,
        lag_s=None if (lag := lag_of(state, now)) is None else round(lag, 1),
        records=records,
        last_error=state.last_error,
    )


async def portal_status(
    store: MirrorStore, portal_id: int, max_lag_s: float, *, tenant_id: str | None = None
) -> PortalSyncStatus:
    states = await store.sync_states(portal_id, tenant_id=tenant_id)
    counts = await store.counts(portal_id, tenant_id=tenant_id)
    now = time.time()
    return PortalSyncStatus(
        portal_id=portal_id,
        objects=[
            object_status(state, counts.get(t, 0), max_lag_s, now) for t, state in states.items()
        ],
    )


def check_source(source: str | None) -> Source:
    value = (source or "auto").strip().lower()
    if value not in SOURCES:
        raise InputError(
            "source must be mirror, live or auto",
            errors=[{"field": "source", "message": "one of mirror, live, auto"}],
        )
    return cast(Source, value)  # one of SOURCES, checked above


async def mirror_state(
    store: MirrorStore, portal_id: int, object_type: str, *, tenant_id: str | None = None
) -> SyncStateView:
    return (await store.recent_sync_states(portal_id, tenant_id=tenant_id))[object_type]


def choose(source: Source, state: SyncStateView, max_lag_s: float) -> Literal["mirror", "live"]:
    """Which source answers: `mirror` and `live` are the caller's; `auto` takes the mirror
    while it is current. A caller asking for the mirror of a type never synced gets a 503."""
    if source == "live":
        return "live"
    if source == "mirror":
        if state.last_success_at is None and state.synced_through is None:
            raise MirrorNotReady(
                f"The mirror of {state.object_type} is not filled yet; ask with source=live "
                "or try again once the first sync has run (GET /api/hubspot/sync)."
            )
        return "mirror"
    return "mirror" if is_current(state, max_lag_s) else "live"


def as_of(state: SyncStateView) -> datetime | None:
    """What a mirror answer is as of: the point through which it holds every change."""
    return state.synced_through


def record_as_of(state_as_of: datetime | None, record: MirroredRecord) -> datetime | None:
    """What one mirrored record is as of: when the mirror last wrote it from HubSpot's answer
    (a change feed event refreshes a record long after the last sync), or the point through
    which the mirror holds every change, whichever is later."""
    stamps = [t for t in (state_as_of, record.synced_at) if t is not None]
    return max(stamps) if stamps else None


def now_utc() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- reads, writes


class Sourced(BaseModel):
    """Where an answer came from, for `meta`."""

    source: Literal["mirror", "live"]
    as_of: datetime | None


class MirrorAccess:
    """One principal's view of one portal's mirror: reads scoped by row-level security to the
    principal's tenant, the source policy, and the write-back of HubSpot's answers."""

    def __init__(
        self, store: MirrorStore, portal_id: int, tenant_id: str, max_lag_s: float
    ) -> None:
        self.store = store
        self.portal_id = portal_id
        self.tenant_id = tenant_id
        self.max_lag_s = max_lag_s

    async def decide(self, object_type: str, source: Source) -> tuple[str, datetime | None]:
        """("mirror" | "live", as of) for a read of `object_type`."""
        state = await mirror_state(
            self.store, self.portal_id, object_type, tenant_id=self.tenant_id
        )
        chosen = choose(source, state, self.max_lag_s)
        return chosen, (as_of(state) if chosen == "mirror" else now_utc())

    async def page(
        self,
        object_type: str,
        *,
        filter_groups: list[list[dict[str, object]]],
        sorts: list[tuple[str, bool]],
        query: str | None,
        limit: int,
        after: str | None,
        numbers: Collection[str] = (),
    ) -> MirrorPage:
        """`numbers`: properties beyond the mirror's known ones to compare as numbers (the
        portal's score properties)."""
        if after not in (None, "") and not (str(after).isdigit() and len(str(after)) <= 18):
            # Both cursors are numbers (an id, an offset) the database takes as 64-bit integers.
            raise InputError(
                "after must be the cursor a previous page returned",
                errors=[{"field": "after", "message": "not a cursor of this mirror"}],
            )
        # Like HubSpot: plain listing (id cursor) when nothing narrows or orders the page,
        # search (offset cursor) otherwise.
        keyset = not any(filter_groups) and not sorts and not query
        return await self.store.query_records(
            self.portal_id,
            object_type,
            filter_groups=filter_groups,
            sorts=sorts,
            query=query,
            limit=limit,
            after=after,
            keyset=keyset,
            tenant_id=self.tenant_id,
            numbers=numbers,
        )

    async def count(self, object_type: str) -> int:
        """How many live records of `object_type` the mirror holds."""
        counts = await self.store.counts(self.portal_id, tenant_id=self.tenant_id)
        return counts.get(object_type, 0)

    async def get(self, object_type: str, record_id: int) -> MirroredRecord | None:
        return await self.store.get_record(
            self.portal_id, object_type, record_id, tenant_id=self.tenant_id
        )

    async def wrote(self, object_type: str, record: MirroredRecord) -> None:
        """HubSpot's answer to a write made through the plugin: the caller reads it back from
        the mirror at once. It names only some properties, so they are merged in."""
        await self.store.upsert_records(
            self.portal_id, object_type, [record], complete=False, tenant_id=self.tenant_id
        )

    async def archived(self, object_type: str, record_id: int) -> None:
        await self.store.archive_records(
            self.portal_id, object_type, [record_id], tenant_id=self.tenant_id
        )

    async def purge(self, object_type: str, record_id: int) -> None:
        await self.store.purge_record(
            self.portal_id, object_type, record_id, tenant_id=self.tenant_id
        )

    async def contact_counts(
        self, first_day: str, day_after: str
    ) -> tuple[dict[str | None, int], dict[str, int]]:
        return await self.store.contact_counts(
            self.portal_id, first_day, day_after, tenant_id=self.tenant_id
        )

    async def deal_groups(
        self, close_from: str | None, close_before: str | None, pipeline_id: str | None
    ) -> list[DealGroup]:
        return await self.store.deal_groups(
            self.portal_id,
            close_from=close_from,
            close_before=close_before,
            pipeline_id=pipeline_id,
            tenant_id=self.tenant_id,
        )

    async def pipelines(self) -> list[dict[str, object]]:
        return await self.store.pipelines(self.portal_id, tenant_id=self.tenant_id)
