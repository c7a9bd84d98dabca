"""Fill and keep a portal's mirror: full sync, incremental sync, id reconciliation.

Full sync (first time, or `--full`): page through HubSpot's list endpoint (no 10,000-result cap;
each page's `after` is committed with the page) and, once every page is in, mark as archived
what the pass did not see. Incremental sync: search everything modified between the last
synced point minus an overlap window (search lags writes by a few seconds) and the moment this
run started, in `hs_object_id` order with `hs_object_id > last seen` as the cursor. The upper
bound and the keyset are what make the same-timestamp trap harmless: 50,000 records stamped with
one `lastmodifieddate` are still read once each, in id order, and the run ends.
https://developers.hubspot.com/docs/api-reference/search/guide#limitations

Every page is written with its cursor in one transaction (`MirrorStore.upsert_records(...,
state=…)`), so a sync killed at any point resumes at the page after the last one stored: no
record is lost and none is written twice. Deletions: archived records drop out of search and
list, so a periodic reconciliation lists every id and archives the mirror's records HubSpot no
longer has; merges arrive as the survivor's `hs_merged_object_ids` and are resolved on upsert.

Calls go through the governor's `sync` lane, so people waiting for HubSpot go first.

Beside this module: `objects` (the types, properties and link names the sync knows, a HubSpot
object as a mirrored record), `outcome` (progress and reports), `portal_wide` (pipelines, lists
and campaigns, read whole each run).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from atom_hubspot.client.objects import MAX_LIST_LIMIT
from atom_hubspot.client.search import MAX_SEARCH_LIMIT, Filter, FilterGroup, SearchRequest
from atom_hubspot.errors import HubSpotError, MissingScopes, TierRequired
from atom_hubspot.storage.mirror import MirroredRecord, MirrorStore, merged_ids
from atom_hubspot.sync.objects import (
    ASSOCIATED,
    ASSOCIATION_TYPE_NAMES,
    FALLBACK_PROPERTIES,
    MODIFIED_PROPERTY,
    RECORD_TYPES,
    SYNC_TYPES,
    URL_PROPERTY_BUDGET,
    chunks,
    ms,
    to_mirrored,
    utc,
)
from atom_hubspot.sync.outcome import (
    ObjectSyncResult,
    Progress,
    StillHolder,
    SyncProgress,
    SyncReport,
    SyncStopped,
)
from atom_hubspot.sync.portal_wide import PortalWideSync

if TYPE_CHECKING:
    from atom_hubspot.client import CrmObject, HubSpotClient, ObjectPage

log = logging.getLogger("atom_hubspot.sync")


class PortalSyncer(PortalWideSync):
    """Syncs one portal's mirror through one client (in the governor's sync lane)."""

    def __init__(
        self,
        client: HubSpotClient,
        store: MirrorStore,
        portal_id: int,
        *,
        overlap_s: float = 120.0,
        reconcile_s: float = 86_400.0,
        clock: Callable[[], float] = time.time,
        progress: Progress | None = None,
        still_holder: StillHolder | None = None,
        property_names: dict[str, list[str]] | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.portal_id = portal_id
        self.overlap_s = overlap_s
        self.reconcile_s = reconcile_s
        self.clock = clock
        self.progress = progress
        self.still_holder = still_holder
        # The portal's property names per type, once read (a caller may share the dict).
        self._properties: dict[str, list[str]] = (
            property_names if property_names is not None else {}
        )

    # ------------------------------------------------------------------ run

    async def run(self, objects: Iterable[str] = SYNC_TYPES, *, full: bool = False) -> SyncReport:
        """Sync the given object types; a failing type does not stop the others (its error is
        kept in its state). The record types run at the same time: a full pass (list calls)
        and an incremental one (searches, their own 5-per-second budget) use separate lanes
        of HubSpot's limits; the small portal-wide types follow."""
        report = SyncReport(self.portal_id)
        wanted = [t for t in SYNC_TYPES if t in set(objects)]
        records = [t for t in wanted if t in RECORD_TYPES]
        results = list(await asyncio.gather(*(self._guarded(t, full) for t in records)))
        if not any(r.mode == "stopped" for r in results):
            for object_type in (t for t in wanted if t not in RECORD_TYPES):
                results.append(await self._guarded(object_type, full))
                if results[-1].mode == "stopped":
                    break
        report.results = results
        return report

    async def _guarded(self, object_type: str, full: bool) -> ObjectSyncResult:
        started = self.clock()
        try:
            result = await self._one(object_type, full=full)
        except SyncStopped:
            result = ObjectSyncResult(object_type, "stopped", error="stopped: lease lost")
        except HubSpotError as exc:
            message = f"{exc.code}: {exc.message}"[:500]
            await self.store.save_state(
                self.portal_id, object_type, status="failed", last_error=message
            )
            log.warning(
                "sync of portal %s %s failed: %s (correlation id %s)",
                self.portal_id,
                object_type,
                exc.code,
                exc.correlation_id,
            )
            result = ObjectSyncResult(object_type, "failed", error=message)
        result.seconds = self.clock() - started
        return result

    async def _one(self, object_type: str, *, full: bool) -> ObjectSyncResult:
        if object_type in RECORD_TYPES:
            return await self.sync_records(object_type, full=full)
        if object_type == "pipelines":
            return await self._small(object_type, self._pipelines)
        if object_type == "lists":
            return await self._small(object_type, self._lists)
        return await self._small(object_type, self._campaigns)

    def _report(
        self, object_type: str, mode: str, processed: int, expected: int | None, t0: float
    ) -> None:
        if self.progress is not None:
            self.progress(
                SyncProgress(
                    self.portal_id, object_type, mode, processed, expected, t0, self.clock()
                )
            )

    # ------------------------------------------------------------------ records

    async def properties_of(self, object_type: str) -> list[str]:
        """Every property name the portal has for the type (HubSpot's and custom ones)."""
        if object_type not in self._properties:
            try:
                defs = await self.client.properties.list(object_type)
                names = sorted({d.name for d in defs if not d.archived})
            except (MissingScopes, TierRequired):
                names = []
            except HubSpotError as exc:
                if exc.status != 403:
                    raise
                names = []
            base = ["hs_object_id", "createdate", MODIFIED_PROPERTY[object_type]]
            if object_type == "contacts":
                base.append("hs_merged_object_ids")
            self._properties[object_type] = list(
                dict.fromkeys([*base, *(names or FALLBACK_PROPERTIES[object_type])])
            )
        return self._properties[object_type]

    async def sync_records(self, object_type: str, *, full: bool = False) -> ObjectSyncResult:
        state = await self.store.sync_state(self.portal_id, object_type)
        resuming = state.status == "running" and state.mode in ("full", "incremental")
        if full or state.synced_through is None:
            if not (resuming and state.mode == "full" and not full):
                state.cursor = {}
                state.processed = 0
                state.run_started_at = utc(self.clock())
            result = await self._full(object_type, state)
        elif resuming and state.mode == "full":
            result = await self._full(object_type, state)
        else:
            result = await self._incremental(object_type, state, resume=resuming)
        due = state.reconciled_at is None or (
            self.clock() - state.reconciled_at.timestamp() >= self.reconcile_s
        )
        if result.mode == "incremental" and due:
            result.archived += await self.reconcile(object_type)
        return result

    async def _full(self, object_type: str, state: Any) -> ObjectSyncResult:
        """List every record page by page; `after` is committed with each page."""
        started_at: datetime = state.run_started_at or utc(self.clock())
        processed = int(state.processed or 0)
        after = state.cursor.get("after")
        api = self.client.objects(object_type)
        names = await self.properties_of(object_type)
        first, *rest = chunks(names, URL_PROPERTY_BUDGET)
        expected = await self._estimate(object_type)
        await self.store.save_state(
            self.portal_id,
            object_type,
            status="running",
            mode="full",
            run_started_at=started_at,
            cursor=dict(state.cursor),
            processed=processed,
            expected=expected,
            last_error=None,
        )
        t0 = self.clock()

        def fetch(cursor: str | None) -> asyncio.Task[ObjectPage]:
            return asyncio.ensure_future(
                api.list(
                    limit=MAX_LIST_LIMIT,
                    after=cursor,
                    properties=first,
                    associations=list(ASSOCIATED[object_type]) or None,
                )
            )

        # The next page is asked for while this one is stored: the budget, not the database,
        # sets the pace. Cursors are still committed in order, one page at a time; a page
        # asked for ahead and never stored is simply asked for again after a restart.
        ahead = fetch(after)
        try:
            while True:
                await self._check_holder()
                page = await ahead
                if page.next_after is not None:
                    ahead = fetch(page.next_after)
                records = [to_mirrored(o) for o in page.results]
                if rest and records:
                    records = await self._complete(object_type, records, rest)
                after = page.next_after
                processed += len(records)
                await self.store.upsert_records(
                    self.portal_id,
                    object_type,
                    records,
                    state={"cursor": {"after": after}, "processed": processed},
                )
                await self._inline_links(object_type, page.results)
                self._report(object_type, "full", processed, expected, t0)
                if after is None:
                    break
        finally:
            if not ahead.done():
                ahead.cancel()
                with contextlib.suppress(asyncio.CancelledError, HubSpotError):
                    await ahead
        # Whatever the pass did not see is gone from HubSpot (archived or deleted).
        archived = await self.store.archive_unseen(self.portal_id, object_type, started_at)
        now = utc(self.clock())
        await self.store.save_state(
            self.portal_id,
            object_type,
            status="current",
            mode="incremental",
            cursor={},
            synced_through=started_at,
            last_success_at=now,
            reconciled_at=now,
            processed=processed,
            last_error=None,
        )
        return ObjectSyncResult(object_type, "full", processed, archived)

    async def _estimate(self, object_type: str) -> int | None:
        """How many records there are (one search with limit 1), for progress and ETA."""
        try:
            return await self.client.objects(object_type).count()
        except HubSpotError:
            return None

    async def _complete(
        self, object_type: str, records: list[MirroredRecord], chunks: list[list[str]]
    ) -> list[MirroredRecord]:
        """Read the properties that did not fit in the list call's URL, by batch read."""
        by_id = {r.id: dict(r.properties) for r in records}
        api = self.client.objects(object_type)
        for names in chunks:
            batch = await api.batch_read(list(by_id), properties=names)
            for obj in batch.results:
                by_id.setdefault(int(obj.id), {}).update(obj.properties)
        return [
            MirroredRecord(r.id, by_id[r.id], r.created_at, r.updated_at, r.archived, r.archived_at)
            for r in records
        ]

    async def _inline_links(self, object_type: str, objs: Sequence[CrmObject]) -> None:
        for to_type in ASSOCIATED[object_type]:
            links = {
                int(o.id): [
                    (int(ref.id), ASSOCIATION_TYPE_NAMES.get(ref.type or "", 0))
                    for ref in o.associations.get(to_type, [])
                ]
                for o in objs
            }
            await self.store.replace_associations(self.portal_id, object_type, to_type, links)

    async def _read_links(self, object_type: str, ids: list[int]) -> None:
        for to_type in ASSOCIATED[object_type]:
            found = await self.client.associations.batch_read(object_type, to_type, ids)
            links = {
                int(src): [
                    (int(ref.id), int(t.get("typeId") or 0))
                    for ref in refs
                    for t in (ref.association_types or [{"typeId": 0}])
                ]
                for src, refs in found.items()
            }
            await self.store.replace_associations(self.portal_id, object_type, to_type, links)

    async def _incremental(self, object_type: str, state: Any, *, resume: bool) -> ObjectSyncResult:
        """Everything modified in [since, upper], in id order; the cursor is the last id."""
        if resume and state.cursor.get("upper"):
            since = datetime.fromisoformat(state.cursor["since"])
            upper = datetime.fromisoformat(state.cursor["upper"])
            after_id = int(state.cursor.get("after_id") or 0)
            processed = int(state.processed or 0)
        else:
            since = state.synced_through - timedelta(seconds=self.overlap_s)
            # Capped at this run's start: records changed meanwhile are the next run's, so a
            # busy portal cannot keep this run going.
            upper = utc(self.clock())
            after_id = 0
            processed = 0
        cursor = {"since": since.isoformat(), "upper": upper.isoformat()}
        await self.store.save_state(
            self.portal_id,
            object_type,
            status="running",
            mode="incremental",
            run_started_at=upper,
            cursor={**cursor, "after_id": after_id},
            processed=processed,
            expected=None,
            last_error=None,
        )
        names = await self.properties_of(object_type)
        api = self.client.objects(object_type)
        modified = MODIFIED_PROPERTY[object_type]
        t0 = self.clock()
        while True:
            await self._check_holder()
            request = SearchRequest(
                filter_groups=[
                    FilterGroup.of(
                        Filter.between(modified, ms(since), ms(upper)),
                        Filter.gt("hs_object_id", after_id),
                    )
                ],
                properties=names,
                limit=MAX_SEARCH_LIMIT,
            ).sort("hs_object_id", "ASCENDING")
            page = await api.search(request)
            records = [to_mirrored(o) for o in page.results]
            if records:
                after_id = max(r.id for r in records)
            processed += len(records)
            await self.store.upsert_records(
                self.portal_id,
                object_type,
                records,
                state={"cursor": {**cursor, "after_id": after_id}, "processed": processed},
            )
            if records:
                await self._read_links(object_type, [r.id for r in records])
            self._report(object_type, "incremental", processed, page.total, t0)
            if len(records) < MAX_SEARCH_LIMIT:
                break
        await self.store.save_state(
            self.portal_id,
            object_type,
            status="current",
            cursor={},
            synced_through=upper,
            last_success_at=utc(self.clock()),
            processed=processed,
            last_error=None,
        )
        return ObjectSyncResult(object_type, "incremental", processed)

    async def reconcile(self, object_type: str) -> int:
        """List every id HubSpot has (ids only) and archive the mirror's records it no longer
        has: deletions that no search shows. Streams range by range, in id order."""
        api = self.client.objects(object_type)
        after: str | None = None
        low = 0
        archived = 0
        started = utc(self.clock())
        while True:
            await self._check_holder()
            page = await api.list(limit=MAX_LIST_LIMIT, after=after, properties=["hs_object_id"])
            ids = sorted(int(o.id) for o in page.results)
            after = page.next_after
            high = ids[-1] if ids and after is not None else 2**62
            have = await self.store.live_ids_between(self.portal_id, object_type, low, high)
            gone = sorted(set(have) - set(ids))
            if gone:
                archived += await self.store.archive_records(
                    self.portal_id, object_type, gone, before=started
                )
            low = high
            if after is None:
                break
        await self.store.save_state(self.portal_id, object_type, reconciled_at=utc(self.clock()))
        if archived:
            log.info(
                "portal %s: %d %s no longer in HubSpot, archived in the mirror",
                self.portal_id,
                archived,
                object_type,
            )
        return archived

    # ------------------------------------------------------------------ single records

    async def refresh(
        self, object_type: str, ids: Iterable[int], *, links: Iterable[int] = ()
    ) -> tuple[int, int]:
        """Read these records as HubSpot has them now (every property, by batch read) into
        the mirror, and the links of `links` among them; those HubSpot no longer has are
        archived. The change feed's way in: whatever order events arrived in, the mirror ends
        at HubSpot's state. Returns (records written, records archived)."""
        wanted = sorted({int(i) for i in ids})
        if not wanted:
            return 0, 0
        names = await self.properties_of(object_type)
        read_at = utc(self.clock())
        batch = await self.client.objects(object_type).batch_read(wanted, properties=names)
        records = [to_mirrored(o) for o in batch.results]
        written = await self.store.upsert_records(self.portal_id, object_type, records)
        seen = {r.id for r in records}
        for r in records:  # a merged id answers with its survivor
            seen.update(merged_ids(r.properties))
        gone = [i for i in wanted if i not in seen]
        archived = await self.store.archive_records(
            self.portal_id, object_type, gone, before=read_at
        )
        relinked = sorted({r.id for r in records} & {int(i) for i in links})
        if relinked:
            await self.refresh_links(object_type, relinked)
        return written, archived

    async def refresh_links(self, object_type: str, ids: list[int]) -> None:
        """The mirrored links of these records, read again from HubSpot."""
        await self._read_links(object_type, ids)
