"""`atom-host serve --workers 2` on PostgreSQL against the sandbox over real HTTP.

Each request is sent on a connection whose worker process is known (the client's port is
looked up among each worker's sockets), so the test can start an OAuth connection in one
worker and finish it in the other, sign in through one and be recognised (and signed out) by
the other, and spread HubSpot-bound reads over both. It checks: one process holds the
scheduler's lease; the rate budget is shared (the sandbox, enforcing HubSpot's 110 per 10 s,
rejects nothing although the reads exceed one window's budget); sessions and OAuth work
whichever worker a request reaches.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import psutil
import pytest

from atom_hubspot.sandbox.testing import approve
from atom_hubspot.storage.db import migrate
from bench._harness import free_port
from tests.conftest import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, make_key

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ATOM_HOST = str(Path(sys.executable).parent / "atom-host")
ALICE_KEY = "alice-key-for-the-workers-test"
BOB_KEY = "bob-key-for-the-workers-test"


class Raw:
    """One keep-alive HTTP/1.1 connection: we know its port, hence which worker serves it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.reader = self.sock.makefile("rb")
        self.local_port = self.sock.getsockname()[1]
        self.worker = 0

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> tuple[int, dict[str, list[str]], bytes]:
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        lines += [f"Content-Length: {len(body)}", "", ""]
        self.sock.sendall("\r\n".join(lines).encode() + body)
        status = int(self.reader.readline().split()[1])
        got: dict[str, list[str]] = {}
        while (line := self.reader.readline().decode().rstrip("\r\n")) != "":
            name, _, value = line.partition(":")
            got.setdefault(name.strip().lower(), []).append(value.strip())
        length = int(got.get("content-length", ["0"])[0])
        return status, got, self.reader.read(length)

    def json(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        status, _, body = self.request(method, path, **kw)
        return status, json.loads(body) if body else None

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def _workers(parent: int, port: int) -> dict[int, psutil.Process]:
    """The serving processes: children of the supervisor holding the listening socket."""
    found = {}
    for child in psutil.Process(parent).children():
        try:
            if any(
                c.status == psutil.CONN_LISTEN and c.laddr.port == port
                for c in child.net_connections("tcp")
            ):
                found[child.pid] = child
        except psutil.NoSuchProcess:
            continue
    return found


def _assign(conns: list[Raw], workers: dict[int, psutil.Process]) -> None:
    by_port = {}
    for pid, proc in workers.items():
        for c in proc.net_connections("tcp"):
            if c.raddr and c.raddr.port:
                by_port[c.raddr.port] = pid
    for conn in conns:
        conn.worker = by_port.get(conn.local_port, 0)


@pytest.fixture
def served(postgres_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    migrate(postgres_url)
    sport, hport = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sport}"
    env = {
        **os.environ,
        "ATOM_DATABASE_URL": postgres_url,
        "ATOM_DATA_DIR": str(tmp_path / "data"),
        "ATOM_PLUGINS": "hubspot",
        "ATOM_API_KEYS": f"{ALICE_KEY}:acme:alice,{BOB_KEY}:acme:bob",
        "ATOM_PUBLIC_URL": f"http://127.0.0.1:{hport}",
        "HUBSPOT_CLIENT_ID": SANDBOX_CLIENT_ID,
        "HUBSPOT_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        "ATOM_HUBSPOT_ENCRYPTION_KEYS": f"k1:{make_key()}",
        "HUBSPOT_API_BASE_URL": sandbox_url,
        "HUBSPOT_AUTHORIZE_URL": f"{sandbox_url}/oauth/authorize",
        "HUBSPOT_REDIRECT_URI": f"http://127.0.0.1:{hport}/auth/hubspot/callback",
        "HUBSPOT_RATE_LIMIT_BACKEND": "postgres",
    }
    procs = [
        subprocess.Popen(
            [ATOM_HOST, "sandbox", "--port", str(sport), "--rate-limit", "110", "--window", "10"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
        subprocess.Popen(
            [ATOM_HOST, "serve", "--workers", "2", "--port", str(hport), "--no-access-log"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        ),
    ]
    log: list[str] = []
    threading.Thread(target=lambda: log.extend(procs[1].stdout or []), daemon=True).start()
    try:
        deadline = time.monotonic() + 180  # two workers starting on a busy machine
        while sum("Application startup complete" in line for line in log) < 2:
            assert procs[1].poll() is None, "".join(log)
            assert time.monotonic() < deadline, "".join(log)
            time.sleep(0.2)
        yield {"port": hport, "pid": procs[1].pid, "sandbox": sandbox_url, "db": postgres_url}
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)


def _connections_on_both(port: int, parent: int, each: int) -> tuple[list[Raw], list[Raw]]:
    """At least `each` open connections served by each of the two workers."""
    workers = _workers(parent, port)
    assert len(workers) == 2, workers
    conns: list[Raw] = []
    for _ in range(40):
        batch = [Raw(port) for _ in range(8)]
        for c in batch:
            assert c.request("GET", "/_host/live")[0] == 200
        conns += batch
        _assign(conns, workers)
        a, b = sorted(workers)
        on_a, on_b = [c for c in conns if c.worker == a], [c for c in conns if c.worker == b]
        if len(on_a) >= each and len(on_b) >= each:
            return on_a, on_b
    raise AssertionError("the kernel never handed a connection to the second worker")


def _lease_holders(db_url: str) -> list[tuple[str, str]]:
    import psycopg

    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT name, holder FROM hubspot_leases WHERE expires_at > now()"
        ).fetchall()
    return [(str(n), str(h)) for n, h in rows]


def test_two_workers_share_scheduler_budget_sessions_and_oauth(served: dict[str, Any]) -> None:
    port, parent = served["port"], served["pid"]
    on_a, on_b = _connections_on_both(port, parent, each=6)
    a, b = on_a[0], on_b[0]
    alice = {"Authorization": f"Bearer {ALICE_KEY}"}

    # One scheduler, one list-send runner and one change-feed applier: one live lease each,
    # held by a worker.
    holders = _lease_holders(served["db"])
    assert sorted(name for name, _ in holders) == [
        "hubspot.feed",
        "hubspot.list-sends",
        "hubspot.scheduled-sends",
    ]
    assert all(int(holder.split(":")[1]) in {a.worker, b.worker} for _, holder in holders)

    # OAuth started in worker A, finished in worker B, seen by both.
    status, started = a.json(
        "POST", "/auth/hubspot", headers={**alice, "Content-Type": "application/json"}, body=b"{}"
    )
    assert status == 200, started
    back = asyncio.run(approve(started["data"]["url"], httpx.AsyncHTTPTransport()))
    parts = urlsplit(back)
    status, _, body = b.request("GET", f"{parts.path}?{parts.query}", headers=alice)
    assert status in (200, 303), body[:500]
    for conn in (a, b):
        status, answer = conn.json("GET", "/api/hubspot/auth/status", headers=alice)
        assert status == 200, answer
        portals = answer["data"]["connections"] if isinstance(answer["data"], dict) else []
        assert any(p["status"] == "connected" for p in portals), answer

    # A browser session signed in through A is Bob's in B; signed out in B, it is gone in A.
    form = urlencode({"api_key": BOB_KEY, "next": "/"}).encode()
    status, headers, _ = a.request(
        "POST",
        "/sign-in",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=form,
    )
    assert status == 303, headers
    cookie = next(c.split(";", 1)[0] for c in headers["set-cookie"] if c.startswith("atom_"))
    assert b.json("GET", "/api/hubspot/auth/status", headers={"Cookie": cookie})[0] == 200
    assert b.request("POST", "/sign-out", headers={"Cookie": cookie})[0] == 303
    assert a.json("GET", "/api/hubspot/auth/status", headers={"Cookie": cookie})[0] == 401

    # Shared budget: 156 reads over both workers, more than one 10 s window allows. They ask
    # HubSpot (source=live): with the default `auto` a worker answers from the mirror as soon
    # as the sync that connecting started has finished, which under load happens midway.
    status, page = a.json("GET", "/api/hubspot/contacts?limit=10", headers=alice)
    assert status == 200, page
    ids = [r["id"] for r in page["data"]["results"]]
    conns = on_a[:6] + on_b[:6]
    results: list[tuple[int, str]] = []

    def reads(conn: Raw, n: int) -> None:
        for i in range(n):
            path = f"/api/hubspot/contacts/{ids[i % len(ids)]}?source=live"
            status, answer = conn.json("GET", path, headers=alice)
            results.append((status, answer["meta"]["source"] if status == 200 else str(answer)))

    threads = [threading.Thread(target=reads, args=(c, 13)) for c in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not any(t.is_alive() for t in threads), "reads still running after 180 s"
    assert len(results) == 156 and set(results) == {(200, "live")}, sorted(set(results))
    calls = httpx.get(f"{served['sandbox']}/_sandbox/calls", params={"log": 0}).json()
    assert sum(calls["rate_limited"].values()) == 0, calls
    assert calls["by_route"]["crm.objects.get"] == 156, calls
    # Both workers called HubSpot's stand-in (each holds its own connections to it).
    sandbox_port = urlsplit(served["sandbox"]).port
    workers = _workers(parent, port)
    for pid in (a.worker, b.worker):
        assert any(
            c.raddr and c.raddr.port == sandbox_port for c in workers[pid].net_connections("tcp")
        ), pid
    for conn in on_a + on_b:
        conn.close()
