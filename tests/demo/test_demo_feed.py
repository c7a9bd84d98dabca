"""`serve --demo`: a contact edited in the sandbox (as a user in HubSpot's UI would) reaches the
host as a signed webhook and lands in the mirror, with no call from anyone."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from atom_hubspot.demo import SANDBOX_MOUNT
from atom_hubspot.sandbox.config import DEMO_PORTAL_ID


def _mirrored_firstname(db: Path, contact_id: int) -> str | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT properties FROM hubspot_mirror_records "
            "WHERE portal_id = ? AND object_type = 'contacts' AND record_id = ?",
            (DEMO_PORTAL_ID, contact_id),
        ).fetchone()
    return None if row is None else json.loads(row[0]).get("firstname")


async def test_a_sandbox_edit_arrives_in_the_demo_mirror(tmp_path: Path) -> None:
    from atom_host_stub.app import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    db = tmp_path / "atom.sqlite3"
    env = {
        "ATOM_DATA_DIR": str(tmp_path),
        "ATOM_DATABASE_URL": f"sqlite:///{db}",
        "ATOM_API_KEYS": "k-1234567890abcdef:acme:alice",
        "ATOM_PUBLIC_URL": base,
        "ATOM_PLUGINS": "hubspot",
    }
    server = uvicorn.Server(uvicorn.Config(create_app(env=env, demo=True), log_level="critical"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            for _ in range(3000):
                if server.started:
                    break
                await asyncio.sleep(0.01)
            assert server.started, "the demo host did not start"
            key = {"Authorization": "Bearer k-1234567890abcdef"}
            listed = await c.get("/api/hubspot/contacts", params={"limit": 1}, headers=key)
            assert listed.status_code == 200, listed.text
            contact_id = int(listed.json()["data"]["results"][0]["id"])
            edited = await c.patch(
                f"{SANDBOX_MOUNT}/_sandbox/portals/{DEMO_PORTAL_ID}/objects/contacts/{contact_id}",
                json={"properties": {"firstname": "Arrived"}},
            )
            assert edited.status_code == 200, edited.text
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if _mirrored_firstname(db, contact_id) == "Arrived":
                    break
                await asyncio.sleep(0.05)
            assert _mirrored_firstname(db, contact_id) == "Arrived"
            status = (await c.get("/api/hubspot/sync", headers=key)).json()["data"]["portals"][0]
            assert status["feed"]["mode"] == "push" and status["feed"]["last_event_at"]
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
