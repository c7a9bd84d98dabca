"""Leases: one process at a time holds a named job; another takes over when the holder dies.

A lease is a row of `hubspot_leases` (name, holder, term, expires_at). Its holder renews it
well before it expires. When the holder stops renewing — it died, hung, or lost the
database — any other process takes it once `expires_at` has passed, so the job moves to a
live process within `ttl + retry interval`. Acquire, renew and release are each one
conditional statement, so two processes never both win the same term.

Time: on PostgreSQL the database server's clock decides expiry (processes on several machines
may disagree about the time; the one server does not). On SQLite every process shares one file
on one machine, whose clock serves. A holder does not trust the row alone: it treats the
lease as lost a little before `ttl` has passed since it *sent* its last successful renewal —
never later than the expiry the database recorded — so a holder cut off from the database
gives the job up before another process can take it.

`term` grows each time the lease is taken anew (another holder, or the same one after it
expired): work stamped with the term it started under can be told from a later holder's.
Names are free-form strings such as `hubspot.scheduled-sends` or `hubspot.sync:1234567`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from atom_hubspot.errors import StorageError
from atom_hubspot.storage.db import rows_changed
from atom_hubspot.storage.models import Lease as LeaseRow
from atom_hubspot.storage.models import utcnow

if TYPE_CHECKING:
    from atom_hubspot.storage.db import Database

log = logging.getLogger("atom_hubspot.leases")

DEFAULT_TTL_S = 30.0
MAX_NAME_LENGTH = 200


def new_holder_id() -> str:
    """A holder id unique to this process (host, pid, random part), readable in the table."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Lease:
    """A lease this process holds: until `valid_until` (time.monotonic()) at the latest."""

    name: str
    holder: str
    term: int
    expires_at: datetime  # as the database recorded it
    valid_until: float

    @property
    def valid(self) -> bool:
        return time.monotonic() < self.valid_until


@dataclass(frozen=True)
class LeaseState:
    """Who holds (or last held) a lease, as the table says; for operators and tests."""

    name: str
    holder: str
    term: int
    acquired_at: datetime
    expires_at: datetime


def _safety_margin(ttl_s: float) -> float:
    return min(1.0, ttl_s / 10)


class LeaseStore:
    """Acquire, renew, release and read leases in the plugin's database."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock  # SQLite only: PostgreSQL uses the server's clock

    def _times(self, ttl_s: float) -> tuple[Any, Any]:
        """(now, expiry) as SQL expressions (PostgreSQL) or values (SQLite)."""
        if self.db.dialect == "postgresql":
            now = sa.func.statement_timestamp()
            return now, now + sa.literal(timedelta(seconds=ttl_s), sa.Interval())
        current = self.clock()
        return current, current + timedelta(seconds=ttl_s)

    def _insert(self) -> Any:
        if self.db.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(LeaseRow)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(LeaseRow)

    @staticmethod
    def _check(name: str, ttl_s: float) -> None:
        if not name or len(name) > MAX_NAME_LENGTH:
            raise ValueError(f"a lease name is 1 to {MAX_NAME_LENGTH} characters")
        if not ttl_s > 0:
            raise ValueError("a lease's ttl must be positive")

    def _lease(self, name: str, holder: str, row: Any, sent: float, ttl_s: float) -> Lease:
        return Lease(
            name=name,
            holder=holder,
            term=int(row.term),
            expires_at=row.expires_at,
            valid_until=sent + ttl_s - _safety_margin(ttl_s),
        )

    async def try_acquire(
        self, name: str, holder: str, ttl_s: float = DEFAULT_TTL_S
    ) -> Lease | None:
        """Take the lease if it is free, expired, or already ours; None if another holds it."""
        self._check(name, ttl_s)
        now, expires = self._times(ttl_s)
        L = LeaseRow
        ins = self._insert().values(
            name=name, holder=holder, term=1, acquired_at=now, expires_at=expires
        )
        ours_and_live = sa.and_(L.holder == ins.excluded.holder, L.expires_at > now)
        stmt = ins.on_conflict_do_update(
            index_elements=[L.name],
            set_={
                "holder": ins.excluded.holder,
                "term": sa.case((ours_and_live, L.term), else_=L.term + 1),
                "acquired_at": sa.case((ours_and_live, L.acquired_at), else_=now),
                "expires_at": ins.excluded.expires_at,
            },
            where=sa.or_(L.holder == ins.excluded.holder, L.expires_at <= now),
        ).returning(L.term, L.expires_at)
        sent = time.monotonic()
        async with self.db.session(None) as s:
            row = (await s.execute(stmt)).first()
        return None if row is None else self._lease(name, holder, row, sent, ttl_s)

    @staticmethod
    def _live(lease: Lease, now: Any) -> sa.Update:
        """An UPDATE of this lease's row while it is still this holder's live term."""
        L = LeaseRow
        return sa.update(L).where(
            L.name == lease.name,
            L.holder == lease.holder,
            L.term == lease.term,
            L.expires_at > now,
        )

    async def renew(self, lease: Lease, ttl_s: float = DEFAULT_TTL_S) -> Lease | None:
        """Extend a live lease of ours by `ttl_s`; None if it expired or another holder has it."""
        self._check(lease.name, ttl_s)
        now, expires = self._times(ttl_s)
        stmt = (
            self._live(lease, now)
            .values(expires_at=expires)
            .returning(LeaseRow.term, LeaseRow.expires_at)
        )
        sent = time.monotonic()
        async with self.db.session(None) as s:
            row = (await s.execute(stmt)).first()
        return None if row is None else self._lease(lease.name, lease.holder, row, sent, ttl_s)

    async def release(self, lease: Lease) -> bool:
        """Give the lease up at once (a clean shutdown), so another process need not wait.

        The row stays, expired, so the next holder's term still counts up from this one."""
        now, _ = self._times(0.001)
        async with self.db.session(None) as s:
            result = await s.execute(self._live(lease, now).values(expires_at=now))
            return rows_changed(result) == 1

    async def state(self, name: str) -> LeaseState | None:
        """The lease's row (live or expired), or None when nobody has taken it."""
        L = LeaseRow
        async with self.db.session(None, read_only=True) as s:
            row = (await s.execute(sa.select(L).where(L.name == name))).scalar_one_or_none()
            if row is None:
                return None
            return LeaseState(row.name, row.holder, row.term, row.acquired_at, row.expires_at)


Callback = Callable[..., Awaitable[None] | None]


class LeaderLease:
    """Holds one named lease in the background and runs a job only while it is held.

    `on_acquired(lease)` runs when this process becomes the holder, `on_lost()` when it stops
    being the holder (taken over, expired while the database was unreachable, or closed).
    Until it holds the lease it tries again every `retry_every_s`; once held it renews every
    `renew_every_s` (a third of the ttl by default, so two renewals may fail before expiry).
    """

    def __init__(
        self,
        store: LeaseStore,
        name: str,
        *,
        holder: str | None = None,
        ttl_s: float = DEFAULT_TTL_S,
        renew_every_s: float | None = None,
        retry_every_s: float | None = None,
        on_acquired: Callback | None = None,
        on_lost: Callback | None = None,
    ) -> None:
        LeaseStore._check(name, ttl_s)
        self.store = store
        self.name = name
        self.holder = holder or new_holder_id()
        self.ttl_s = ttl_s
        self.renew_every_s = renew_every_s or ttl_s / 3
        self.retry_every_s = retry_every_s or ttl_s / 3
        self.on_acquired = on_acquired
        self.on_lost = on_lost
        self.lease: Lease | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @property
    def held(self) -> bool:
        return self.lease is not None and self.lease.valid

    def start(self) -> None:
        """Start trying (idempotent); the first attempt is made at once."""
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.get_running_loop().create_task(
                self._loop(), name=f"lease-{self.name}"
            )

    async def aclose(self) -> None:
        """Stop the job (if held), then release the lease so another process takes it now."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            # Let a statement in flight finish, so a lease just won is known and released.
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=5.0)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        lease = self.lease
        await self._lose("closed")
        if lease is not None:
            try:
                await self.store.release(lease)
            except StorageError:
                log.warning("lease %s not released (database unavailable); it expires", self.name)

    async def tick(self) -> bool:
        """One step: acquire, or renew what is held. Returns whether the lease is held."""
        if self.lease is not None and not self.lease.valid:
            await self._lose("it expired before it could be renewed")
        try:
            if self.lease is None:
                lease = await self.store.try_acquire(self.name, self.holder, self.ttl_s)
                if lease is not None:
                    self.lease = lease
                    log.info(
                        "lease %s acquired (term %d) by %s", self.name, lease.term, self.holder
                    )
                    await self._call(self.on_acquired, lease)
            else:
                renewed = await self.store.renew(self.lease, self.ttl_s)
                if renewed is None:
                    await self._lose("another process holds it now")
                else:
                    self.lease = renewed
        except StorageError as err:
            log.warning("lease %s: database unavailable (%s)", self.name, err.code)
            if self.lease is not None and not self.lease.valid:
                await self._lose("the database was unreachable until it expired")
        return self.held

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.tick()
            except Exception:  # the holder must outlive one bad tick
                log.exception("lease %s: unexpected error; will retry", self.name)
            wait = self.renew_every_s if self.lease is not None else self.retry_every_s
            if self.lease is not None:  # wake in time to give it up if renewals keep failing
                wait = max(0.0, min(wait, self.lease.valid_until - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=wait)

    async def _lose(self, why: str) -> None:
        lease, self.lease = self.lease, None
        if lease is None:
            return
        log.info("lease %s (term %d) given up by %s: %s", self.name, lease.term, self.holder, why)
        await self._call(self.on_lost)

    async def _call(self, callback: Callback | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            result = callback(*args)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("lease %s: the job's start or stop failed", self.name)
