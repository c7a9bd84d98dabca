"""The change feed, end to end over real HTTP: sandbox edits → signed webhooks → host → mirror.

    python -m bench.feed [--rate 200] [--seconds 10] [--contacts 200]

Four runs, each on a fresh sandbox (`atom-host sandbox --webhook-url …`) and a fresh host
(`bench.host_server`, SQLite, the plugin's rate budget lifted so the feed is what is measured):
1. throughput: the sandbox edits contacts "as a user in HubSpot" at --rate per second for
   --seconds, from inside itself (no HTTP call per change); each edit is one event. A watcher
   reads the host's SQLite mirror every 10 ms; change-to-visible is the time from the edit in the
   sandbox to the watcher first seeing the value (10 ms resolution).
2. crash: the same stream with the host killed (SIGKILL) half way and started again on the same
   data; the sandbox retries failed deliveries as HubSpot does. Counts events emitted vs stored
   (lost), stored twice, and records where the mirror differs from the sandbox.
3. bad deliveries: forged, stale and replayed deliveries sent to the host; counts the refused
   ones and what the inbox holds afterwards.
4. disorder: 10 % of deliveries sent twice and out of order; mirror compared with the sandbox
   record by record.
Targets: 200 events/s sustained, change-to-visible p99 <= 1 s, 0 lost, 0 applied twice, 100 %
of bad deliveries refused, 0 mismatches.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench._harness import PYTHON, ROOT, Table, free_port, machine, percentile, wait_for_port
from bench.sandbox_server import BENCH_TOKEN, PORTAL_ID

SECRET = "sandbox-client-secret"  # noqa: S105 - the offline sandbox's fake secret
FIRST_NAMES = "firstname"


@dataclass
class Stack:
    sandbox_url: str
    host_port: int
    data: Path
    sandbox: subprocess.Popen[bytes]
    host: subprocess.Popen[bytes] | None = None
    ids: list[int] = field(default_factory=list)
    key: str = field(
        default_factory=lambda: base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    )

    @property
    def db(self) -> Path:
        return self.data / "atom.sqlite3"

    @property
    def hook(self) -> str:
        return f"http://127.0.0.1:{self.host_port}/webhooks/hubspot"


def _start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, sig)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def start_host(stack: Stack) -> None:
    env = {
        "HUBSPOT_SYNC_INTERVAL": "0",
        "HUBSPOT_FEED_MODE": "push",
        # The same key after a restart: the restarted host decrypts the token it stored.
        "ATOM_HUBSPOT_ENCRYPTION_KEYS": f"k1:{stack.key}",
    }
    stack.host = _start(
        [
            PYTHON,
            "-m",
            "bench.host_server",
            "--port",
            str(stack.host_port),
            "--sandbox-url",
            stack.sandbox_url,
            "--data",
            str(stack.data),
        ],
        env,
    )
    wait_for_port(stack.host_port, 120, stack.host)
    # Connected once the private-app token is saved (the server does it after listening).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(sqlite3.Error):
            with sqlite3.connect(stack.db) as c:
                if c.execute("SELECT count(*) FROM hubspot_connections").fetchone()[0]:
                    return
        time.sleep(0.1)
    raise TimeoutError("the host did not connect the portal")


@contextlib.contextmanager
def stack(contacts: int, *, disorder: float = 0.0) -> Iterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="bench-feed-") as tmp:
        sport, hport = free_port(), free_port()
        sandbox = _start(
            [
                PYTHON,
                "-m",
                "atom_host_stub",
                "sandbox",
                "--port",
                str(sport),
                "--rate-limit",
                "0",
                "--search-rate",
                "0",
                "--private-app-token",
                BENCH_TOKEN,
                "--webhook-url",
                f"http://127.0.0.1:{hport}/webhooks/hubspot",
                "--webhook-disorder",
                str(disorder),
            ],
            {"ATOM_PLUGINS": "hubspot"},
        )
        st = Stack(f"http://127.0.0.1:{sport}", hport, Path(tmp), sandbox)
        try:
            wait_for_port(sport, 120, sandbox)
            start_host(st)
            with httpx.Client(base_url=st.sandbox_url, timeout=30) as c:
                auth = {"Authorization": f"Bearer {BENCH_TOKEN}"}
                after: str | None = None
                while len(st.ids) < contacts:
                    params: dict[str, Any] = {"limit": 100, **({"after": after} if after else {})}
                    page = c.get("/crm/objects/2026-03/contacts", params=params, headers=auth)
                    body = page.json()
                    st.ids += [int(r["id"]) for r in body["results"]]
                    after = (body.get("paging") or {}).get("next", {}).get("after")
                    if not after:
                        break
            st.ids = st.ids[:contacts]
            yield st
        finally:
            _stop(st.host)
            _stop(sandbox)


def mirrored(db: Path, ids: list[int]) -> dict[int, dict[str, Any]]:
    with sqlite3.connect(db, timeout=5) as c:
        rows = c.execute(
            "SELECT record_id, properties, archived FROM hubspot_mirror_records "
            "WHERE portal_id = ? AND object_type = 'contacts'",
            (PORTAL_ID,),
        ).fetchall()
    wanted = set(ids)
    rows = [r for r in rows if int(r[0]) in wanted]
    return {int(r[0]): json.loads(r[1]) for r in rows if not r[2]}


async def stream(
    st: Stack, rate: float, seconds: float, *, midway: Any = None
) -> tuple[dict[str, tuple[int, float]], float]:
    """The sandbox edits contacts at `rate`/s from inside itself (`/_sandbox/changes/stream`,
    one event each). Returns value -> (contact id, edited at, epoch s) and the stream's length."""
    total = int(rate * seconds)
    async with httpx.AsyncClient(base_url=st.sandbox_url, timeout=30) as c:
        r = await c.post(
            "/_sandbox/changes/stream",
            json={"ids": st.ids, "rate": rate, "count": total, "property": FIRST_NAMES},
        )
        assert r.status_code == 202, r.text
        crashed = midway is None
        while True:
            await asyncio.sleep(0.2)
            body = (await c.get("/_sandbox/changes/stream")).json()
            if not crashed and len(body["edits"]) >= total // 2:
                await asyncio.get_running_loop().run_in_executor(None, midway)
                crashed = True
            if not body["running"]:
                break
    edits = body["edits"]
    sent = {value: (int(cid), float(ts)) for value, cid, ts in edits}
    took = (edits[-1][2] - edits[0][2]) if len(edits) > 1 else 1.0
    return sent, max(took, 1e-6)


async def watch(
    st: Stack, sent: dict[str, tuple[int, float]], stop: asyncio.Event
) -> dict[str, float]:
    seen: dict[str, float] = {}
    while not stop.is_set():
        now = time.time()
        with contextlib.suppress(sqlite3.Error):
            for rec in (await asyncio.to_thread(mirrored, st.db, st.ids)).values():
                v = rec.get(FIRST_NAMES)
                if isinstance(v, str) and v not in seen:
                    seen[v] = now
        await asyncio.sleep(0.01)
    return seen


def drained(st: Stack, timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=st.sandbox_url, timeout=10) as c:
        while time.monotonic() < deadline:
            status = c.get("/_sandbox/webhooks").json()
            with contextlib.suppress(sqlite3.Error), sqlite3.connect(st.db, timeout=5) as db:
                pending = db.execute(
                    "SELECT count(*) FROM hubspot_feed_events WHERE status = 'pending'"
                ).fetchone()[0]
                idle = status["pending_batches"] == 0 and status["in_flight"] == 0
                if idle and pending == 0:
                    return True
            time.sleep(0.2)
    return False


def compare(st: Stack, ids: set[int]) -> tuple[int, int]:
    """(records compared, records whose mirrored properties differ from the sandbox's), over
    the records the run changed (the sync is off: the others were never mirrored)."""
    with httpx.Client(base_url=st.sandbox_url, timeout=30) as c:
        body = c.post(
            "/crm/objects/2026-03/contacts/batch/read",
            json={
                "inputs": [{"id": str(i)} for i in sorted(ids)[:100]],
                "properties": [FIRST_NAMES, "lastname", "email"],
            },
            headers={"Authorization": f"Bearer {BENCH_TOKEN}"},
        ).json()
    truth = {int(r["id"]): r["properties"] for r in body.get("results", [])}
    mine = mirrored(st.db, list(truth))
    differ = sum(
        1
        for rid, props in truth.items()
        if any(
            (mine.get(rid) or {}).get(k) != props.get(k) for k in (FIRST_NAMES, "lastname", "email")
        )
    )
    return len(truth), differ


def event_counts(st: Stack) -> tuple[int, int, int]:
    """(emitted by the sandbox, stored in the inbox, stored more than once)."""
    with httpx.Client(base_url=st.sandbox_url, timeout=30) as c:
        emitted = {tuple(e) for e in c.get("/_sandbox/webhooks/events").json()["events"]}
    with sqlite3.connect(st.db, timeout=5) as db:
        rows = db.execute("SELECT portal_id, event_id FROM hubspot_feed_events").fetchall()
    stored = [tuple(r) for r in rows]
    twice = len(stored) - len(set(stored))
    return len(emitted), len(emitted & set(stored)), twice


async def run_stream(st: Stack, rate: float, seconds: float, midway: Any = None) -> dict[str, Any]:
    stop = asyncio.Event()
    sent_box: dict[str, tuple[int, float]] = {}
    watcher = asyncio.create_task(watch(st, sent_box, stop))
    sent, took = await stream(st, rate, seconds, midway=midway)
    sent_box.update(sent)
    ok = await asyncio.to_thread(drained, st)
    await asyncio.sleep(0.3)
    stop.set()
    seen = await watcher
    lat = [seen[v] - t for v, (_, t) in sent.items() if v in seen]
    return {
        "sent": len(sent),
        "rate": len(sent) / took,
        "visible": len(lat),
        "lat": lat,
        "drained": ok,
        "edited": {cid for cid, _ in sent.values()},
    }


def bad_deliveries(st: Stack, n: int) -> tuple[int, int, int, int]:
    """(sent, refused with 401, inbox rows before, inbox rows after)."""
    import hashlib
    import hmac

    def sign(body: bytes, ts: int) -> str:
        msg = b"POST" + st.hook.encode() + body + str(ts).encode()
        return base64.b64encode(hmac.new(SECRET.encode(), msg, hashlib.sha256).digest()).decode()

    def count() -> int:
        with sqlite3.connect(st.db, timeout=5) as db:
            return int(db.execute("SELECT count(*) FROM hubspot_feed_events").fetchone()[0])

    before = count()
    refused = 0
    sent = 0
    with httpx.Client(timeout=10) as c:
        # One good delivery, captured to be replayed.
        body = json.dumps(
            [
                {
                    "eventId": 10**12,
                    "portalId": PORTAL_ID,
                    "occurredAt": int(time.time() * 1000),
                    "subscriptionType": "contact.propertyChange",
                    "objectId": st.ids[0],
                }
            ]
        ).encode()
        ts = int(time.time() * 1000)
        good = {
            "X-HubSpot-Signature-v3": sign(body, ts),
            "X-HubSpot-Request-Timestamp": str(ts),
            "Content-Type": "application/json",
        }
        assert c.post(st.hook, content=body, headers=good).status_code == 204
        before += 1
        for i in range(n):
            ev = json.dumps(
                [
                    {
                        "eventId": 2 * 10**12 + i,
                        "portalId": PORTAL_ID,
                        "occurredAt": int(time.time() * 1000),
                        "subscriptionType": "contact.creation",
                        "objectId": st.ids[0],
                    }
                ]
            ).encode()
            now = int(time.time() * 1000)
            stale = now - 6 * 60 * 1000
            for headers, payload in (
                (
                    {
                        "X-HubSpot-Signature-v3": base64.b64encode(os.urandom(32)).decode(),
                        "X-HubSpot-Request-Timestamp": str(now),
                    },
                    ev,
                ),
                (
                    {
                        "X-HubSpot-Signature-v3": sign(ev, stale),
                        "X-HubSpot-Request-Timestamp": str(stale),
                    },
                    ev,
                ),
                (good, body),
            ):
                sent += 1
                r = c.post(
                    st.hook,
                    content=payload,
                    headers={**headers, "Content-Type": "application/json"},
                )
                refused += r.status_code == 401
    return sent, refused, before, count()


async def main_async(a: argparse.Namespace) -> int:
    print(f"# machine: {machine()}", flush=True)
    table = Table(
        f"change feed: sandbox -> webhooks -> host -> mirror "
        f"({a.rate:g} events/s target, {a.seconds:g} s)",
        ["run", "figure", "measured", "target", "ratio / verdict"],
    )
    with stack(a.contacts) as st:
        r = await run_stream(st, a.rate, a.seconds)
        p50, p99 = percentile(r["lat"], 50), percentile(r["lat"], 99)
        table.add("throughput", "events/s sent", r["rate"], a.rate, f"{r['rate'] / a.rate:.2f}x")
        table.add(
            "throughput",
            "events visible / sent",
            f"{r['visible']}/{r['sent']}",
            "all",
            "drained" if r["drained"] else "NOT drained",
        )
        table.add("throughput", "change-to-visible p50 (s)", p50, "-", "")
        table.add("throughput", "change-to-visible p99 (s)", p99, 1.0, f"{p99 / 1.0:.2f}x of bound")
        sent, refused, before, after = bad_deliveries(st, a.bad)
        table.add(
            "bad deliveries",
            "refused (forged, stale, replayed)",
            f"{refused}/{sent}",
            "100 %",
            f"{100 * refused / sent:.0f} %",
        )
        table.add(
            "bad deliveries",
            "inbox rows added by them",
            after - before,
            0,
            "ok" if after == before else "STORED",
        )

    with stack(a.contacts) as st:

        def crash() -> None:
            _stop(st.host, signal.SIGKILL)
            time.sleep(1.0)
            start_host(st)

        r = await run_stream(st, a.rate, a.seconds, midway=crash)
        emitted, stored, twice = event_counts(st)
        compared, differ = compare(st, r["edited"])
        table.add(
            "crash (kill -9)",
            "events lost (emitted - stored)",
            emitted - stored,
            0,
            f"{stored}/{emitted} stored",
        )
        table.add("crash (kill -9)", "events stored twice", twice, 0, "")
        table.add(
            "crash (kill -9)",
            "records differing from sandbox",
            f"{differ}/{compared}",
            0,
            "drained" if r["drained"] else "NOT drained",
        )

    with stack(a.contacts, disorder=0.1) as st:
        r = await run_stream(st, a.rate, a.seconds / 2)
        compared, differ = compare(st, r["edited"])
        emitted, stored, twice = event_counts(st)
        table.add(
            "disorder 10 %",
            "records differing from sandbox",
            f"{differ}/{compared}",
            0,
            "drained" if r["drained"] else "NOT drained",
        )
        table.add(
            "disorder 10 %",
            "events lost / stored twice",
            f"{emitted - stored} / {twice}",
            "0 / 0",
            "",
        )
    table.notes.append(
        "change-to-visible: edit in the sandbox -> value seen in the mirror's SQLite (10 ms polls)"
    )
    table.notes.append(
        "a value overwritten before the feed applied it is never visible (the applier reads the "
        "record's latest state); percentiles are over the values that were"
    )
    table.notes.append(
        "the sandbox retries a failed delivery after 1, 2, 4 … s (10 attempts), as HubSpot retries"
    )
    table.print()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--contacts", type=int, default=200)
    ap.add_argument("--bad", type=int, default=100, help="deliveries of each bad kind")
    return asyncio.run(main_async(ap.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
