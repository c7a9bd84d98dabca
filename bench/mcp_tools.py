"""Agent tools over MCP, in-process: the tool definitions' size, and the p50 latency of each
read tool called through the MCP SDK's in-memory client against the host with the HubSpot
plugin, its mirror synced from the offline sandbox — next to the same read made directly on
the service (the MCP and runner overhead), in one run.

    python -m bench.mcp_tools [--calls 200]

Token counts are approximated as characters / 4 of the definitions' JSON (no tokenizer is
installed offline); the MCP `tools/list` answer is what a client loads into its context.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from mcp import Client

from atom_host_stub.contract import SearchFilter
from atom_host_stub.mcp_server import build_server, fixed_principal, runner_for, tool_definitions
from atom_hubspot.storage.db import migrate
from tests.api.conftest import PORTAL_A, PRINCIPALS, running_stack
from tests.conftest import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, make_key

# (label, tool, arguments); FIRST is the first contact's id.
READS: list[tuple[str, str, dict[str, Any]]] = [
    ("hubspot_records contacts page", "hubspot_records", {"object_type": "contacts", "limit": 20}),
    ("hubspot_records contacts id", "hubspot_records", {"object_type": "contacts", "id": "FIRST"}),
    ("crm_search contacts page", "crm_search", {"object_type": "contacts", "limit": 20}),
    (
        "crm_search contacts by email",
        "crm_search",
        {"object_type": "contacts", "filters": [{"field": "email", "op": "eq", "value": "EMAIL"}]},
    ),
    ("crm_get contacts id", "crm_get", {"object_type": "contacts", "id": "FIRST"}),
    (
        "crm_search contacts page live",
        "crm_search",
        {"object_type": "contacts", "limit": 20, "source": "live"},
    ),
    (
        "crm_get contacts id live",
        "crm_get",
        {"object_type": "contacts", "id": "FIRST", "source": "live"},
    ),
    ("crm_pipelines", "crm_pipelines", {}),
    ("marketing_lists", "marketing_lists", {}),
    ("marketing_campaigns", "marketing_campaigns", {}),
    ("hubspot_sync_status", "hubspot_sync_status", {}),
]


async def p50(call: Callable[[], Awaitable[Any]], n: int) -> float:
    for _ in range(5):
        await call()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        await call()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


async def main(calls: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-mcp-"))
    db = f"sqlite:///{tmp / 'atom.sqlite3'}"
    await asyncio.to_thread(migrate, db)
    env = {
        "HUBSPOT_CLIENT_ID": SANDBOX_CLIENT_ID,
        "HUBSPOT_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        "ATOM_HUBSPOT_ENCRYPTION_KEYS": f"k1:{make_key()}",
        "HUBSPOT_API_BASE_URL": "http://sandbox.local",
        "HUBSPOT_AUTHORIZE_URL": "http://sandbox.local/oauth/authorize",
        "HUBSPOT_REDIRECT_URI": "http://host.local/auth/hubspot/callback",
        "ATOM_DATA_DIR": str(tmp / "data"),
        "HUBSPOT_SYNC_INTERVAL": "0",
    }
    async with running_stack(env, db, None) as stack:
        runtime: Any = stack.runtime
        await runtime.mirror_sync.sync_portal(PORTAL_A)
        runner = runner_for(stack.host, os.urandom(32))
        text = json.dumps(tool_definitions(list(runner.tools.values())))
        print(
            f"tools: {len(runner.tools)}; definitions: {len(text)} chars ≈ {len(text) // 4} tokens"
        )
        server = build_server(runner, fixed_principal(PRINCIPALS["alice"]))
        services = await runtime.services_for(PRINCIPALS["alice"])
        contacts = stack.sandbox.portals[PORTAL_A].records["contacts"]
        first = str(min(contacts))
        email = str(contacts[int(first)].properties["email"])
        by_email = [SearchFilter(field="email", op="eq", value=email)]
        crm = services.crm
        direct: dict[str, Callable[[], Awaitable[Any]]] = {
            "hubspot_records contacts page": lambda: crm.list_page_from(
                "auto", "contact", limit=20
            ),
            "hubspot_records contacts id": lambda: crm.read_from("auto", "contact", first),
            "crm_search contacts page": lambda: crm.list_records("contact", limit=20),
            "crm_search contacts by email": lambda: crm.search_records("contact", by_email),
            "crm_get contacts id": lambda: crm.get_record("contact", first),
            "crm_search contacts page live": lambda: crm.list_records(
                "contact", limit=20, source="live"
            ),
            "crm_get contacts id live": lambda: crm.get_record("contact", first, source="live"),
        }
        print(
            f"{'tool call (in-process MCP client)':44} {'p50 ms':>8} {'direct ms':>10} {'ratio':>6}"
        )
        async with Client(server) as client:
            for label, name, args in READS:
                args = json.loads(json.dumps(args).replace("FIRST", first).replace("EMAIL", email))
                answer = await client.call_tool(name, args)
                assert not answer.is_error, answer
                source = (answer.structured_content or {}).get("source", "")
                ms = await p50(lambda n=name, a=args: client.call_tool(n, a), calls)
                shown = f"{label} [{source}]" if source else label
                base = direct.get(label)
                if base is not None:
                    d = await p50(base, calls)
                    print(f"{shown:44} {ms:8.2f} {d:10.2f} {ms / d:6.2f}")
                else:
                    print(f"{shown:44} {ms:8.2f} {'':>10} {'':>6}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    asyncio.run(main(parser.parse_args().calls))
