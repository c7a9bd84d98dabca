"""One host process for the two-process scheduled-send test.

Run as `python -m tests.marketing.send_worker <config.json>`. It starts the stub host with the
plugin on the shared database (its own in-process sandbox, which accepts the shared private-app
token), waits for the `go` file so every process starts racing at once, moves its runner's
clock past `send_at`, lets the host's own runner work until no scheduled send is pending or
claimed, then writes the sends its sandbox received to `out`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from atom_hubspot.sandbox import create_sandbox_app
from atom_hubspot.sandbox.config import (
    DEMO_PORTAL_ID,
    FaultConfig,
    PortalConfig,
    SandboxConfig,
)
from tests.clocks import DateClock
from tests.marketing.conftest import ALICE, running_host


def sandbox_for(token: str, *, send_latency_ms: float = 0.0) -> Any:
    return create_sandbox_app(
        SandboxConfig(
            portals=[PortalConfig(portal_id=DEMO_PORTAL_ID, seed=True)],
            requests_per_10s=None,
            search_per_s=None,
            private_app_tokens={token: DEMO_PORTAL_ID},
            faults=FaultConfig(latency_ms=send_latency_ms, paths=["single-send"]),
        )
    )


async def main(cfg: dict[str, Any]) -> None:
    # Slow sends and one row per claim, so the two processes' claims interleave.
    app = sandbox_for(cfg["token"], send_latency_ms=40)
    go = Path(cfg["go"])
    async with running_host(cfg["env"], app, connect=False) as host:
        await asyncio.to_thread(Path(cfg["ready"]).touch)
        while not await asyncio.to_thread(go.exists):  # noqa: ASYNC110 - another process
            await asyncio.sleep(0.01)
        host.runtime.scheduler.batch_size = 1
        host.runtime.scheduler.clock = DateClock(
            datetime.fromisoformat(cfg["send_at"]) + timedelta(seconds=1)
        )
        store = host.runtime.scheduler.store
        for _ in range(3000):
            rows = await store.list_for(ALICE, limit=1000)
            if rows and all(r.status not in ("pending", "claimed") for r in rows):
                break
            await asyncio.sleep(0.02)
        result = json.dumps(
            {
                "worker": host.runtime.scheduler.worker_id,
                "running": host.runtime.scheduler.running,
                "sends": [s["to"] for s in app.state.sandbox.sends()],
            }
        )
        await asyncio.to_thread(Path(cfg["out"]).write_text, result)


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text())))
