"""The ledger of used confirmation tokens in the host's database, shared by every worker.

A commit claims its confirmation with one `INSERT … ON CONFLICT DO NOTHING` of the nonce's
digest: exactly one process (of any number, on SQLite or PostgreSQL) inserts the row and runs
the commit; it then stores the commit's answer in the row. Any other request with the same
token finds the row: it answers the stored result (replayed), or, while the first commit is
still running, waits for it a little, then says to ask again. A commit that fails deletes its
claim, so the same token may be tried again (nothing was done). A row whose process died in
the middle stays "running" until it expires: the write may or may not have happened, and
"at most once" is the promise, so such a token never commits again.

Rows go once `KEEP_AFTER_S` has passed after the token's own expiry; a process deletes
expired rows at most once per `PURGE_EVERY_S`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from atom_host_stub.agent_tools import Commit, Committed, ToolFailure, expired_failure
from atom_host_stub.host_db import HostDatabase, HostDatabaseError, confirmations, rows_changed

log = logging.getLogger("atom_host_stub.mcp")

KEEP_AFTER_S = 3600  # a replay within an hour of the token's expiry still gets its answer
PURGE_EVERY_S = 60.0
WAIT_FOR_RUNNING_S = 10.0
POLL_S = 0.05
RUNNING, DONE = "running", "done"


def ledger_key(nonce: str) -> str:
    return hashlib.sha256(b"atom-confirmation." + nonce.encode()).hexdigest()


class DatabaseLedger:
    """`ConfirmationLedger` on the host's `atom_host_mcp_confirmations` table."""

    def __init__(
        self,
        db: HostDatabase,
        *,
        clock: Callable[[], float] = time.time,
        wait_s: float = WAIT_FOR_RUNNING_S,
    ) -> None:
        self.db = db
        self.clock = clock
        self.wait_s = wait_s
        self._insert = postgresql.insert if db.dialect == "postgresql" else sqlite.insert
        self._purged_at = 0.0

    @property
    def engine(self) -> AsyncEngine:
        return self.db.engine

    async def once(self, nonce: str, tool: str, expires_at: int, commit: Commit) -> Committed:
        try:
            await self.db.ready()
        except HostDatabaseError as exc:
            log.warning("confirmation ledger unavailable: %s", exc)
            raise ToolFailure(
                "service_unavailable",
                "The host cannot record this confirmation right now, so nothing was done: "
                "try again later.",
            ) from None
        return await self._once(ledger_key(nonce), tool, expires_at, commit)

    async def _once(self, key: str, tool: str, expires_at: int, commit: Commit) -> Committed:
        now = self.clock()
        if expires_at >= now and await self._claim(key, tool, int(now), expires_at):
            try:
                result = await commit()
            except BaseException:
                await self._release(key)
                raise
            await self._finish(key, result)
            return result, False
        deadline = time.monotonic() + self.wait_s
        while True:
            row = await self._read(key)
            if row is None:
                if expires_at < self.clock():
                    raise expired_failure()
                # The first attempt failed and let go of its claim meanwhile: try ours.
                return await self._once(key, tool, expires_at, commit)
            state, stored = row
            if state == DONE and stored is not None:
                return json.loads(stored), True
            if time.monotonic() >= deadline:
                raise ToolFailure(
                    "confirmation_in_progress",
                    "This confirmation is being committed by another request: call again "
                    "with the same token in a moment for its result.",
                )
            await asyncio.sleep(POLL_S)

    async def _claim(self, key: str, tool: str, now: int, expires_at: int) -> bool:
        statement = (
            self._insert(confirmations)
            .values(
                key=key,
                tool=tool[:100],
                state=RUNNING,
                result=None,
                created_at=now,
                expires_at=expires_at + KEEP_AFTER_S,
            )
            .on_conflict_do_nothing(index_elements=["key"])
            # The row comes back only to the one that inserted it (rowcount is no help here:
            # psycopg's async cursor does not report it for this statement).
            .returning(confirmations.c.key)
        )
        async with self.engine.begin() as conn:
            claimed = (await conn.execute(statement)).first() is not None
        if claimed:
            await self._purge_now_and_then(now)
        return claimed

    async def _finish(self, key: str, result: dict[str, Any]) -> None:
        stored = json.dumps(result, default=str)
        async with self.engine.begin() as conn:
            await conn.execute(
                confirmations.update()
                .where(confirmations.c.key == key)
                .values(state=DONE, result=stored)
            )

    async def _release(self, key: str) -> None:
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    confirmations.delete().where(
                        confirmations.c.key == key, confirmations.c.state == RUNNING
                    )
                )
        except sa.exc.SQLAlchemyError:
            # The claim stays until it expires: the token cannot commit, which is the safe side.
            log.warning("could not release a failed confirmation's claim")

    async def _read(self, key: str) -> tuple[str, str | None] | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(confirmations.c.state, confirmations.c.result).where(
                        confirmations.c.key == key
                    )
                )
            ).first()
        return None if row is None else (str(row[0]), row[1])

    async def _purge_now_and_then(self, now: int) -> None:
        if now - self._purged_at < PURGE_EVERY_S:
            return
        self._purged_at = now
        async with self.engine.begin() as conn:
            gone = rows_changed(
                await conn.execute(confirmations.delete().where(confirmations.c.expires_at < now))
            )
        if gone:
            log.info("dropped %d expired confirmation records", gone)
