"""One syncing process for the two-process and kill-and-resume tests.

Run as `python -m tests.mirror.sync_worker <config.json>`: a MirrorSyncRunner on the shared
database, reading from its own in-process sandbox (seeded the same way in every process, so ids
match), waits for the `go` file, syncs the portal once, prints one JSON line per page and the
report as the last line.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from atom_hubspot.client import HubSpotClient
from atom_hubspot.sandbox import create_sandbox_app
from atom_hubspot.sandbox.config import FaultConfig
from atom_hubspot.sandbox.objects import CONTACTS
from atom_hubspot.sandbox.testing import sandbox_transport
from atom_hubspot.storage.db import Database
from atom_hubspot.sync import SyncProgress
from atom_hubspot.sync.runner import MirrorSyncRunner, describe
from tests.client.fakes import settings
from tests.mirror.conftest import PAT, PORTAL, make_http, sandbox_config

BULK_CONTACTS = 3_000
STAMP = 1_780_000_000.0


def sandbox_app(latency_ms: float) -> Any:
    app = create_sandbox_app(
        sandbox_config(faults=FaultConfig(latency_ms=latency_ms, paths=["/contacts"]))
    )
    # The same extra contacts in every process (ids follow the seed's).
    app.state.sandbox.portals[PORTAL].bulk_create(CONTACTS, BULK_CONTACTS, STAMP, modified=STAMP)
    return app


class WorkerRunner(MirrorSyncRunner):
    """The runner with its client on this process's sandbox (no stored connection needed)."""

    def __init__(self, client: HubSpotClient, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._client = client

    async def client_for_portal(self, portal_id: int) -> HubSpotClient:
        return self._client.in_lane("sync")


async def main(cfg: dict[str, Any]) -> None:
    from atom_hubspot.client import StaticToken

    app = sandbox_app(cfg.get("latency_ms", 0.0))
    http = make_http(sandbox_transport(app))
    db = Database(cfg["database_url"])
    client = HubSpotClient(http, StaticToken(PAT), portal_id=PORTAL)
    runner = WorkerRunner(
        client,
        settings(HUBSPOT_API_BASE_URL="http://sandbox.local"),
        db,
        None,  # type: ignore[arg-type]  # connections: not used by this runner
        holder=cfg["holder"],
        lease_ttl_s=cfg.get("ttl_s", 30.0),
    )
    go = Path(cfg["go"])
    while not await asyncio.to_thread(go.exists):  # noqa: ASYNC110 - another process
        await asyncio.sleep(0.01)

    def progress(p: SyncProgress) -> None:
        print(json.dumps({"page": p.object_type, "processed": p.processed}), flush=True)

    try:
        report = await runner.sync_portal(PORTAL, objects=["contacts"], progress=progress)
        print(json.dumps({"report": describe(report)}), flush=True)
    finally:
        await http.aclose()
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text())))
