"""One process contending for a lease, for the cross-process lease tests.

Run as `python -m tests.storage.lease_worker <url> <lease name> <events file>`. It holds the
lease through `LeaderLease` (ttl 1 s, renewed and retried every 0.1 s) and appends one JSON line
per event to the events file: `ready`, then `acquired` / `renewed` (with the expiry the database
recorded) / `lost`. SIGTERM closes it cleanly (releasing the lease); SIGKILL is a crash.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from atom_hubspot.storage.db import Database
from atom_hubspot.storage.leases import LeaderLease, Lease, LeaseStore

TTL_S = 1.0


async def main(url: str, name: str, events: Path) -> None:
    def emit(event: str, **fields: Any) -> None:
        with events.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"event": event, **fields}) + "\n")

    db = Database(url)
    leader = LeaderLease(
        LeaseStore(db),
        name,
        ttl_s=TTL_S,
        renew_every_s=0.1,
        retry_every_s=0.1,
        on_acquired=lambda lease: emit(
            "acquired",
            holder=lease.holder,
            term=lease.term,
            expires_at=lease.expires_at.isoformat(),
        ),
        on_lost=lambda: emit("lost"),
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    emit("ready", holder=leader.holder)
    try:
        while not stop.is_set():
            before: Lease | None = leader.lease
            await leader.tick()
            after = leader.lease
            if before is not None and after is not None:
                emit("renewed", term=after.term, expires_at=after.expires_at.isoformat())
            try:
                await asyncio.wait_for(stop.wait(), timeout=0.1)
            except TimeoutError:
                pass
    finally:
        await leader.aclose()
        emit("closed")
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
