"""The stub host with the HubSpot plugin, for the read-path benchmark, as a real HTTP server.

    python -m bench.host_server --port 8800 --sandbox-url http://127.0.0.1:8765 --data DIR

The production path (not demo mode): plugin settings point at a standalone sandbox, SQLite is
migrated, and the benchmark's principal connects the demo portal with a private-app token.
The plugin's rate-limit governor gets the sandbox's budget (unlimited) through the runtime's
governor seam: `atom-host serve --demo` keeps HubSpot's 110 per 10 s, which would make this
a measurement of the budget, not of the host's overhead.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets

from atom_host_stub.contract import Principal

API_KEY = "bench-host-key-0123456789"
PRINCIPAL = Principal(tenant_id="bench", user_id="bench")


async def serve(port: int, sandbox_url: str, data: str, *, hubspot_budget: bool = False) -> None:
    import uvicorn

    from atom_host_stub.app import create_app
    from atom_host_stub.host import Host
    from atom_hubspot.client import RateLimitGovernor
    from atom_hubspot.storage.db import migrate
    from bench.sandbox_server import BENCH_TOKEN

    db = f"sqlite:///{data}/atom.sqlite3"
    await asyncio.to_thread(migrate, db)
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    keys = os.environ.get("ATOM_HUBSPOT_ENCRYPTION_KEYS") or f"k1:{key}"  # stable on restarts
    env = {
        **os.environ,
        "HUBSPOT_CLIENT_ID": "sandbox-client-id",
        "HUBSPOT_CLIENT_SECRET": "sandbox-client-secret",
        "ATOM_HUBSPOT_ENCRYPTION_KEYS": keys,
        "HUBSPOT_API_BASE_URL": sandbox_url,
        "HUBSPOT_AUTHORIZE_URL": sandbox_url + "/oauth/authorize",
        "HUBSPOT_REDIRECT_URI": f"http://127.0.0.1:{port}/auth/hubspot/callback",
        "ATOM_DATABASE_URL": db,
        "ATOM_DATA_DIR": data,
        "ATOM_PLUGINS": "hubspot",
        "ATOM_API_KEYS": f"{API_KEY}:{PRINCIPAL.tenant_id}:{PRINCIPAL.user_id}",
        "ATOM_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    host = Host.from_env(env)
    if not hubspot_budget:
        host.context.state["hubspot.governor"] = RateLimitGovernor(
            requests_per_10s=1_000_000, search_per_s=1_000_000
        )
    app = create_app(host)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            return
        await asyncio.sleep(0.05)
    runtime = host.context.state["hubspot"]
    await runtime.connections.save_private_app_token(PRINCIPAL, BENCH_TOKEN)
    await task


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--sandbox-url", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument(
        "--hubspot-budget",
        action="store_true",
        help="Keep HubSpot's 110 per 10 s (and 5 searches/s) in the plugin's governor.",
    )
    a = ap.parse_args(argv)
    try:  # the event loop `atom-host serve` runs on (uvicorn's loop="auto")
        import uvloop

        uvloop.run(serve(a.port, a.sandbox_url, a.data, hubspot_budget=a.hubspot_budget))
    except ImportError:
        asyncio.run(serve(a.port, a.sandbox_url, a.data, hubspot_budget=a.hubspot_budget))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
