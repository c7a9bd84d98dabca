"""Which process syncs which portal, and when.

`MirrorSyncRunner.sync_portal` takes the portal's lease (`hubspot.sync:<portal>` in
storage/leases.py) for the length of one run, renewing it between pages: with several processes
on PostgreSQL exactly one syncs a portal at a time, and when it dies another takes over once
the lease expires (its ttl). On SQLite the single process takes the same lease unopposed.

`start()` runs the background loop of `serve` (and demo mode): every few seconds it looks for
connected portals, syncs at once one that was never synced, and every HUBSPOT_SYNC_INTERVAL
seconds the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from atom_hubspot.errors import HubSpotError, NotConnected
from atom_hubspot.storage.leases import Lease, LeaseStore, new_holder_id
from atom_hubspot.storage.mirror import MirrorStore
from atom_hubspot.storage.models import Connection
from atom_hubspot.sync.engine import PortalSyncer
from atom_hubspot.sync.objects import SYNC_TYPES
from atom_hubspot.sync.outcome import Progress, SyncReport

if TYPE_CHECKING:
    from atom_hubspot.client import HubSpotClient
    from atom_hubspot.oauth import ConnectionManager
    from atom_hubspot.settings import HubSpotSettings
    from atom_hubspot.storage.db import Database

log = logging.getLogger("atom_hubspot.sync")

LEASE_TTL_S = 30.0
# How often the background loop looks for portals that are due (new ones are synced at once).
LOOP_TICK_S = 5.0


def lease_name(portal_id: int) -> str:
    return f"hubspot.sync:{portal_id}"


class MirrorSyncRunner:
    def __init__(
        self,
        settings: HubSpotSettings,
        db: Database,
        connections: ConnectionManager,
        *,
        holder: str | None = None,
        lease_ttl_s: float = LEASE_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.db = db
        self.connections = connections
        self.store = MirrorStore(db)
        self.leases = LeaseStore(db)
        self.holder = holder or new_holder_id()
        self.lease_ttl_s = lease_ttl_s
        self.clock = clock
        self.running: dict[int, asyncio.Task[SyncReport]] = {}
        self._last_run: dict[int, float] = {}
        # One run per portal in this process too (the lease is per process, not per task).
        self._locks: dict[int, asyncio.Lock] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self.tick_s = LOOP_TICK_S
        # Only connections made in the environment in force are synced (their tokens are its).
        self._in_use = Connection.environment == settings.environment.value

    # ------------------------------------------------------------------ one portal

    async def connected_portals(self) -> list[int]:
        async with self.db.session(None, read_only=True) as s:
            rows = await s.scalars(
                sa.select(Connection.portal_id)
                .where(Connection.status == "connected", self._in_use)
                .distinct()
                .order_by(Connection.portal_id)
            )
            return [int(p) for p in rows]

    async def client_for_portal(self, portal_id: int) -> HubSpotClient:
        """A client on one of the portal's working connections (any tenant's: the mirror is
        the portal's), in the governor's sync lane."""
        async with self.db.session(None, read_only=True) as s:
            conn = (
                await s.execute(
                    sa.select(Connection)
                    .where(
                        Connection.portal_id == portal_id,
                        Connection.status == "connected",
                        self._in_use,
                    )
                    .order_by(Connection.updated_at.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
        if conn is None:
            raise NotConnected(f"No working connection to portal {portal_id}.", portal_id=portal_id)
        session = self.connections.tokens.session(conn.id, conn.tenant_id)
        client: HubSpotClient = self.connections.make_client(session, portal_id)
        return client.in_lane("sync")

    async def sync_portal(
        self,
        portal_id: int,
        *,
        objects: Iterable[str] = SYNC_TYPES,
        full: bool = False,
        progress: Progress | None = None,
    ) -> SyncReport:
        """One run for the portal while holding its lease; skipped (and said so) when another
        process holds it. A second call in this process waits for the first."""
        async with self._locks.setdefault(portal_id, asyncio.Lock()):
            return await self._sync_portal(portal_id, objects, full, progress)

    async def _sync_portal(
        self, portal_id: int, objects: Iterable[str], full: bool, progress: Progress | None
    ) -> SyncReport:
        lease = await self.leases.try_acquire(lease_name(portal_id), self.holder, self.lease_ttl_s)
        if lease is None:
            return SyncReport(portal_id, skipped="another process is syncing this portal")
        held: list[Lease] = [lease]
        renewed_at = [time.monotonic()]

        async def still_holder() -> bool:
            current = held[0]
            if time.monotonic() - renewed_at[0] < self.lease_ttl_s / 3 and current.valid:
                return True
            new = await self.leases.renew(current, self.lease_ttl_s)
            if new is None:
                log.warning("portal %s: sync lease lost; stopping this run", portal_id)
                return False
            held[0] = new
            renewed_at[0] = time.monotonic()
            return True

        try:
            client = await self.client_for_portal(portal_id)
            syncer = PortalSyncer(
                client,
                self.store,
                portal_id,
                overlap_s=self.settings.sync_overlap_s,
                reconcile_s=self.settings.sync_reconcile_s,
                progress=progress,
                still_holder=still_holder,
            )
            return await syncer.run(objects, full=full)
        finally:
            self._last_run[portal_id] = self.clock()
            with contextlib.suppress(HubSpotError):
                await self.leases.release(held[0])

    # ------------------------------------------------------------------ background

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._stop.clear()
            self._task = asyncio.get_running_loop().create_task(
                self._loop(), name="hubspot-mirror-sync"
            )

    async def _due(self) -> list[int]:
        interval = self.settings.sync_interval_s
        due = []
        for portal_id in await self.connected_portals():
            if portal_id in self.running and not self.running[portal_id].done():
                continue
            last = self._last_run.get(portal_id)
            if last is None:
                states = await self.store.sync_states(portal_id)
                never = all(s.last_success_at is None for s in states.values())
                if never or any(s.status == "running" for s in states.values()):
                    due.append(portal_id)  # new, or a run to resume
                    continue
                latest = max(
                    s.last_success_at.timestamp() for s in states.values() if s.last_success_at
                )
                last = self._last_run[portal_id] = latest
            if self.clock() - last >= interval:
                due.append(portal_id)
        return due

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                for portal_id in await self._due():
                    self.running[portal_id] = asyncio.get_running_loop().create_task(
                        self._background_run(portal_id), name=f"hubspot-sync-{portal_id}"
                    )
            except HubSpotError as exc:
                log.warning("mirror sync: cannot look for portals (%s)", exc.code)
            except Exception:  # the loop must outlive one bad tick
                log.exception("mirror sync: unexpected error; will retry")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.tick_s)
            self._wake.clear()

    def kick(self) -> None:
        """Look for due portals now (a portal was just connected, a test is waiting)."""
        self._wake.set()

    async def _background_run(self, portal_id: int) -> SyncReport:
        try:
            report = await self.sync_portal(portal_id)
        except HubSpotError as exc:
            log.warning("mirror sync of portal %s did not run: %s", portal_id, exc.code)
            return SyncReport(portal_id, skipped=exc.code)
        if report.skipped:
            log.info("mirror sync of portal %s skipped: %s", portal_id, report.skipped)
        else:
            log.info(
                "mirror sync of portal %s: %s",
                portal_id,
                ", ".join(
                    f"{r.object_type} {r.records}{' FAILED' if r.error else ''}"
                    for r in report.results
                ),
            )
        return report

    async def wait_idle(self) -> None:
        """Wait for the runs in progress (tests, demo start-up)."""
        tasks = [t for t in self.running.values() if not t.done()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        self._stop.set()
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for run in list(self.running.values()):
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await run
        self.running.clear()


def describe(report: SyncReport) -> Any:
    """A short summary of one portal's run (the CLI prints it)."""
    return {
        "portal_id": report.portal_id,
        "skipped": report.skipped,
        "results": [
            {
                "object_type": r.object_type,
                "mode": r.mode,
                "records": r.records,
                "archived": r.archived,
                "seconds": round(r.seconds, 2),
                "error": r.error,
            }
            for r in report.results
        ],
    }
