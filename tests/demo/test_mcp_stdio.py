"""`atom-host mcp --demo` as a desktop assistant runs it: a subprocess spoken to over stdin and
stdout with the MCP SDK's stdio client, acting as the principal of the API key in
ATOM_MCP_API_KEY, against the offline sandbox's demo portal (mirrored at start)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

KEY = "k-stdio-0123456789abcdef"


def server(tmp_path: Path, key: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "atom_host_stub", "mcp", "--demo"],
        env={
            "ATOM_DATA_DIR": str(tmp_path / "data"),
            "ATOM_DATABASE_URL": f"sqlite:///{tmp_path / 'atom.sqlite3'}",
            "ATOM_API_KEYS": f"{KEY}:acme:alice",
            "ATOM_MCP_API_KEY": key,
            "ATOM_PLUGINS": "hubspot",
            "HUBSPOT_SYNC_INTERVAL": "0",
        },
        cwd=str(Path(__file__).resolve().parents[2]),
    )


@pytest.mark.slow
async def test_stdio_lists_the_tools_and_reads_the_demo_portal_from_its_mirror(
    tmp_path: Path,
) -> None:
    async with stdio_client(server(tmp_path, KEY)) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name for t in (await session.list_tools()).tools}
            assert {"crm_search", "crm_get", "hubspot_records", "job_status"} <= tools
            assert len(tools) <= 20
            answer = await session.call_tool("crm_search", {"object_type": "contacts", "limit": 3})
            assert not answer.is_error, answer
            page: dict[str, Any] = answer.structured_content or {}
            assert page["provider"] == "hubspot" and len(page["results"]) == 3
            # The demo mirrors the portal before it serves: the read says so.
            assert page["source"] == "mirror" and page["as_of"]
            assert page["total"] > 3 and page["truncated"] is True
            one = await session.call_tool(
                "crm_get", {"object_type": "contacts", "id": page["results"][0]["id"]}
            )
            assert (one.structured_content or {})["record"]["id"] == page["results"][0]["id"]


def test_stdio_refuses_a_key_it_does_not_know(tmp_path: Path) -> None:
    params = server(tmp_path, "not-a-key-0000000000")
    done = subprocess.run(
        [params.command, *params.args],
        env={"PATH": "/usr/bin:/bin", **(params.env or {})},
        cwd=params.cwd,
        input=b"",
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert b"API key is not valid" in done.stderr
    assert b"not-a-key" not in done.stderr + done.stdout
