"""A background loop that only the process holding a named lease runs: one at a time, however
many workers and hosts share the database; another process takes over within the lease's ttl
when the holder dies (storage/leases.py). The scheduled-send runner and the list-send runner
are such loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from atom_hubspot.errors import StorageError

if TYPE_CHECKING:
    from atom_hubspot.storage.db import Database
    from atom_hubspot.storage.leases import LeaderLease

log = logging.getLogger("atom_hubspot.runners")


class LeasedLoop:
    """Calls `run_once()` every `interval_s` while this process holds the lease `lease_name`."""

    def __init__(
        self,
        db: Database,
        lease_name: str,
        *,
        worker_id: str,
        interval_s: float,
        lease_ttl_s: float,
        what: str,
    ) -> None:
        self.lease_db = db
        self.lease_name = lease_name
        self.worker_id = worker_id
        self.interval_s = interval_s
        self.lease_ttl_s = lease_ttl_s
        self.what = what
        self.leader: LeaderLease | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def run_once(self) -> Any:
        raise NotImplementedError

    def start(self) -> None:
        """Run in the background of whichever host process holds the lease."""
        if self.leader is None:
            from atom_hubspot.storage.leases import LeaderLease, LeaseStore

            self.leader = LeaderLease(
                LeaseStore(self.lease_db),
                self.lease_name,
                holder=self.worker_id,
                ttl_s=self.lease_ttl_s,
                on_acquired=lambda _lease: self._start_loop(),
                on_lost=self._stop_loop,
            )
        self.leader.start()

    @property
    def running(self) -> bool:
        """Whether this process runs the loop now (it holds the lease)."""
        return self._task is not None and not self._task.done()

    async def aclose(self) -> None:
        """Stop after the work in hand and give the lease up, so another process takes over
        at once."""
        leader, self.leader = self.leader, None
        if leader is not None:
            await leader.aclose()
        await self._stop_loop()

    def _start_loop(self) -> None:
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.get_running_loop().create_task(
                self._loop(), name=f"hubspot-{self.lease_name}-{self.worker_id}"
            )

    async def _stop_loop(self) -> None:
        self._stopping.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=max(5.0, self.interval_s))
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # shutting down
                await task

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except StorageError as err:
                log.warning("%s: database unavailable (%s); will retry", self.what, err.code)
            except Exception:  # the loop must outlive one bad tick
                log.exception("%s: unexpected error in a tick; will retry", self.what)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval_s)
