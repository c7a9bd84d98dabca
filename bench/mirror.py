"""The portal mirror: a full sync of N contacts under HubSpot's limits (killed halfway and
resumed), interactive reads during it, reads from the mirror vs the sandbox direct vs the live
path, and contact analytics from the mirror vs live — all in one run, side by side.

    python -m bench.mirror [--contacts 100000] [--seconds 6] [--concurrency 16]

One standalone sandbox (110 requests per 10 s) holds N contacts. The host (bench/host_server.py
with HubSpot's budget in its governor and the background sync on) connects the portal with a
private-app token and starts syncing it; interactive reads (`source=live`) run every 0.5 s
while it syncs. Halfway the host is killed with SIGKILL and started again: the sync resumes
from its stored cursor. Then: `GET /api/hubspot/contacts/{id}` from the mirror through the
host vs a bare httpx GET to the sandbox (its limits lifted for that phase) vs the live path
through the host (HubSpot's budget), same client and concurrency; and
`GET /api/hubspot/analytics/contacts` from the mirror vs live.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import secrets
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from typing import Any

import httpx
import psutil

from bench import sandbox_server as sbx
from bench._harness import PYTHON, Table, child_server, free_port, percentile, sandbox_server
from bench.host_server import API_KEY as HOST_KEY
from bench.read_path import sequential, threaded, wait_ready

BUDGET_PER_S = 110 / 10  # HubSpot's public-app limit: what the sync may use when nobody waits


def start_host(sandbox_url: str, port: int, data: str, env: dict[str, str]) -> Any:
    return child_server(
        [
            PYTHON,
            "-m",
            "bench.host_server",
            "--port",
            str(port),
            "--sandbox-url",
            sandbox_url,
            "--data",
            data,
            "--hubspot-budget",
        ],
        port,
        env=env,
        timeout=120,
    )


def sync_state(host: httpx.Client) -> dict[str, Any]:
    body = host.get("/api/hubspot/sync").json()
    portals = body["data"]["portals"] if body.get("ok") else []
    if not portals:
        return {}
    return next(o for o in portals[0]["objects"] if o["object_type"] == "contacts")


def db_figures(data: str) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(f"{data}/atom.sqlite3")) as db:
        rows, distinct = db.execute(
            "select count(*), count(distinct record_id) from hubspot_mirror_records "
            "where object_type = 'contacts' and not archived"
        ).fetchone()
        processed = db.execute(
            "select processed from hubspot_mirror_sync_state where object_type = 'contacts'"
        ).fetchone()[0]
    return {"rows": rows, "distinct": distinct, "processed": processed}


def sync_rows(
    sync: Table,
    expected: int,
    figures: dict[str, int],
    killed_at: int,
    stored_then: dict[str, int],
    calls: int,
    spent: float,
    rate: float,
) -> None:
    sync.add("records in HubSpot (sandbox)", expected)
    sync.add("mirrored rows / distinct ids", f"{figures['rows']} / {figures['distinct']}")
    sync.add(
        "lost / written twice",
        f"{expected - figures['distinct']} / {figures['processed'] - expected}",
    )
    sync.add("killed (SIGKILL) at records", f"{killed_at} (stored: {stored_then['rows']})")
    sync.add("resumed run: calls, seconds", f"{calls}, {spent:.1f}")
    sync.add("resumed run: calls/s vs budget 11/s", f"{rate:.2f} ({rate / BUDGET_PER_S:.2f}x)")


def sync_rows_interactive(sync: Table, latencies: list[float], growth: int) -> None:
    sync.add("resumed run: peak RSS growth MB", f"{growth / 2**20:.1f}")
    sync.add(
        "interactive reads during sync: n, p50, p99 ms",
        f"{len(latencies)}, {percentile(latencies, 50) * 1000:.0f}, "
        f"{percentile(latencies, 99) * 1000:.0f}",
    )
    sync.notes.append("the driver, the host and the sandbox share the machine's cores")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--contacts", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--sandbox-port", type=int, default=0, help="Default: a free port.")
    ap.add_argument("--host-port", type=int, default=0, help="Default: a free port.")
    a = ap.parse_args(argv)
    n = a.contacts
    sport, hport = a.sandbox_port or free_port(), a.host_port or free_port()
    sandbox_url, host_url = f"http://127.0.0.1:{sport}", f"http://127.0.0.1:{hport}"
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    env = {
        "ATOM_HUBSPOT_ENCRYPTION_KEYS": f"k1:{key}",
        "HUBSPOT_SYNC_INTERVAL": "3600",
        "HUBSPOT_ANALYTICS_CACHE_SECONDS": "0",
    }
    ids = list(range(1001, 1001 + n))
    sync = Table(f"Full sync of {n:,} contacts, HubSpot's 110 per 10 s", ["figure", "value"])
    reads = Table(
        f"One contact by id ({a.seconds:g} s per phase, {a.concurrency} in flight)",
        ["path", "req/s", "p50 ms", "p99 ms", "errors", "vs sandbox direct", "vs live"],
    )
    analytics = Table(
        f"GET /api/hubspot/analytics/contacts over {n:,} contacts",
        ["source", "runs", "p50 ms", "max ms", "vs live"],
    )
    hh = {"Authorization": f"Bearer {HOST_KEY}"}
    with (
        tempfile.TemporaryDirectory(prefix="atom-bench-mirror-") as data,
        sandbox_server(sport, rate_limit=110, contacts=n),
        httpx.Client(base_url=sandbox_url, timeout=30) as admin,
        httpx.Client(base_url=host_url, headers=hh, timeout=900) as host,
    ):
        # --- first host: sync, interactive reads meanwhile, SIGKILL halfway
        latencies: list[float] = []
        killed_at = 0
        with start_host(sandbox_url, hport, data, env) as proc:
            wait_ready(f"{host_url}/api/hubspot/contacts/{ids[0]}?source=live", hh)
            t0 = time.monotonic()
            while True:
                s = time.perf_counter()
                r = host.get(f"/api/hubspot/contacts/{ids[len(latencies) % n]}?source=live")
                latencies.append(time.perf_counter() - s)
                assert r.status_code == 200, r.text
                state = sync_state(host)
                done = (state.get("progress") or {}).get("processed", 0)
                if done >= n // 2:
                    killed_at = done
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)
                    break
                if time.monotonic() - t0 > 1800:
                    raise RuntimeError("the sync did not get halfway")
                time.sleep(0.5)
        stored_then = db_figures(data)

        # --- second host: resumes from the cursor; budget use and memory measured
        with start_host(sandbox_url, hport, data, env) as proc:
            wait_ready(f"{host_url}/api/hubspot/contacts/{ids[0]}?source=live", hh)
            ps = psutil.Process(proc.pid)
            rss_start = ps.memory_info().rss
            peak = rss_start
            # The budget's use is measured from the first page the resumed run stores (the
            # background loop looks for portals every few seconds) to the last.
            calls0, t0 = 0, 0.0
            while True:
                peak = max(peak, ps.memory_info().rss)
                state = sync_state(host)
                done = (state.get("progress") or {}).get("processed", 0)
                if not t0 and done > stored_then["processed"]:
                    calls0, t0 = sbx.calls(admin)["total"], time.monotonic()
                if state.get("status") == "current":
                    break
                time.sleep(0.25)
            spent = time.monotonic() - t0
            calls = sbx.calls(admin)["total"] - calls0
            figures = db_figures(data)
            expected = admin.get("/_bench/contacts", params={"prefix": ""}).json()["records"]

            rate = calls / spent if spent else 0.0
            sync_rows(sync, expected, figures, killed_at, stored_then, calls, spent, rate)
            sync_rows_interactive(sync, latencies, peak - rss_start)
            sync.print()

            # --- reads: mirror through the host, the sandbox direct, the live path
            results: dict[str, tuple[float, list[float], int]] = {}
            errors = {"mirror": 0, "bare": 0, "live": 0}
            bare_h = {"Authorization": f"Bearer {sbx.BENCH_TOKEN}"}
            paths = {
                "mirror": (host_url, hh, "/api/hubspot/contacts/{}?source=mirror"),
                "bare": (sandbox_url, bare_h, "/crm/objects/2026-03/contacts/{}"),
                "live": (host_url, hh, "/api/hubspot/contacts/{}?source=live"),
            }
            for name, (base, headers, template) in paths.items():
                print(f"reads: {name} ...", file=sys.stderr, flush=True)
                admin.put(
                    "/_sandbox/limits",
                    json={"requests_per_10s": None if name == "bare" else 110},
                )
                admin.post("/_sandbox/limits/reset")  # the phase before counted its calls too
                tl = threading.local()

                def call(
                    rid: int,
                    base: str = base,
                    headers: Any = headers,
                    template: str = template,
                    tl: threading.local = tl,
                    name: str = name,
                ) -> None:
                    c = getattr(tl, "c", None)
                    if c is None:
                        c = tl.c = httpx.Client(base_url=base, headers=headers, timeout=60)
                    if c.get(template.format(rid)).status_code != 200:
                        errors[name] += 1

                rps = threaded(call, ids, a.seconds, a.concurrency)
                lat, _ = sequential(call, ids, min(a.seconds, 3.0))
                results[name] = (rps, lat, errors[name])

            # --- analytics from the mirror vs live (HubSpot's 5 searches/s)
            timings: dict[str, list[float]] = {"mirror": [], "live": []}
            for source, runs in (("mirror", 20), ("live", 1)):
                print(f"analytics from {source} ...", file=sys.stderr, flush=True)
                for _ in range(runs):
                    s = time.perf_counter()
                    r = host.get("/api/hubspot/analytics/contacts", params={"source": source})
                    timings[source].append(time.perf_counter() - s)
                    body = r.json()
                    assert body["ok"] and body["meta"]["source"] == source, body
                    assert body["data"]["total_contacts"] == expected

    labels = {
        "mirror": "host, source=mirror",
        "bare": "bare httpx GET to the sandbox",
        "live": "host, source=live (110/10 s)",
    }
    for name in ("mirror", "bare", "live"):
        rps, lat, err = results[name]
        reads.add(
            labels[name],
            rps,
            percentile(lat, 50) * 1000,
            percentile(lat, 99) * 1000,
            err,
            f"{rps / results['bare'][0]:.2f}x",
            f"{rps / results['live'][0]:.1f}x",
        )
    live_p50 = percentile(timings["live"], 50)
    for source in ("mirror", "live"):
        t = timings[source]
        analytics.add(
            source,
            len(t),
            percentile(t, 50) * 1000,
            max(t) * 1000,
            f"{live_p50 / percentile(t, 50):.0f}x faster" if source == "mirror" else "1x",
        )
    for t in (reads, analytics):
        t.notes.append("the driver, the host and the sandbox share the machine's cores")
        t.print()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
