"""The portal-wide types the mirror holds besides records: deal pipelines, lists and their
members, campaigns. Each is small and read whole on every run (no cursor, no increments)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from atom_hubspot.errors import MissingScopes, TierRequired
from atom_hubspot.storage.mirror import MirrorStore
from atom_hubspot.sync.objects import utc
from atom_hubspot.sync.outcome import ObjectSyncResult, StillHolder, SyncStopped

if TYPE_CHECKING:
    from atom_hubspot.client import HubSpotClient


class PortalWideSync:
    """The sync of pipelines, lists and campaigns; `PortalSyncer` is one."""

    client: HubSpotClient
    store: MirrorStore
    portal_id: int
    clock: Callable[[], float]
    still_holder: StillHolder | None

    async def _check_holder(self) -> None:
        if self.still_holder is not None and not await self.still_holder():
            raise SyncStopped

    async def refresh_lists(self) -> int:
        """Every list and its members again (list membership changed)."""
        return await self._lists()

    async def _small(
        self, object_type: str, fetch: Callable[[], Awaitable[int]]
    ) -> ObjectSyncResult:
        await self.store.save_state(
            self.portal_id,
            object_type,
            status="running",
            mode="full",
            run_started_at=utc(self.clock()),
            last_error=None,
        )
        try:
            n = await fetch()
        except (MissingScopes, TierRequired) as exc:
            # Not this portal's (tier, scopes): nothing to mirror, say why.
            await self.store.save_state(
                self.portal_id,
                object_type,
                status="current",
                last_success_at=utc(self.clock()),
                processed=0,
                last_error=f"{exc.code}: {exc.message}"[:500],
            )
            return ObjectSyncResult(object_type, "full", 0, error=None)
        now = utc(self.clock())
        await self.store.save_state(
            self.portal_id,
            object_type,
            status="current",
            synced_through=now,
            last_success_at=now,
            processed=n,
            last_error=None,
        )
        return ObjectSyncResult(object_type, "full", n)

    async def _pipelines(self) -> int:
        pipelines = await self.client.pipelines.list("deals")
        await self.store.replace_pipelines(
            self.portal_id,
            "deals",
            [p.model_dump(by_alias=True, mode="json") for p in pipelines],
        )
        return len(pipelines)

    async def _lists(self) -> int:
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            await self._check_holder()
            page = await self.client.lists.search(count=500, offset=offset)
            found += [x.model_dump(by_alias=True, mode="json") for x in page.lists]
            offset += len(page.lists)
            if not page.has_more or not page.lists:
                break
        await self.store.replace_lists(self.portal_id, found)
        for x in found:
            if x.get("processingType") == "DYNAMIC" and not x.get("listId"):
                continue
            members = [int(m.record_id) async for m in self.client.lists.iter_members(x["listId"])]
            await self.store.replace_list_members(self.portal_id, str(x["listId"]), members)
        return len(found)

    async def _campaigns(self) -> int:
        found: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            await self._check_holder()
            page = await self.client.campaigns.list(limit=100, after=after)
            found += [c.model_dump(by_alias=True, mode="json") for c in page.results]
            after = page.next_after
            if after is None:
                break
        await self.store.upsert_campaigns(self.portal_id, found)
        return len(found)
