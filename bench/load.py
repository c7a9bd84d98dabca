"""A short bounded load run against the demo host on loopback.

    python -m bench.load [--clients 50] [--seconds 30] [--hubspot-share 0.2]

Starts `atom-host serve --demo` (in-process sandbox, SQLite, the demo portal connected through
OAuth) on a free port, then `--clients` concurrent keep-alive clients send requests for
`--seconds`: host-only (`GET /api/integrations`), storage (`GET /api/hubspot/auth/status`)
and, for `--hubspot-share` of them, HubSpot-bound reads (`GET /api/hubspot/contacts/{id}`,
`GET /api/hubspot/contacts?limit=10`). HubSpot-bound calls go through the plugin's governor
at the demo portal's 110 per 10 s, so they queue by design; they are reported apart.
Prints requests, errors, p50/p99 per kind, and the host's open file descriptors and RSS
before, right after, and 5 s after the run.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx
import psutil

from bench._harness import PYTHON, Table, child_server, free_port, percentile

API_KEY = "load-key-0123456789abcdef"


def host_stats(pid: int) -> tuple[int, float, int]:
    p = psutil.Process(pid)
    procs = [p, *p.children(recursive=True)]
    fds = sum(q.num_fds() for q in procs)
    rss = sum(q.memory_info().rss for q in procs) / 2**20
    conns = len(p.net_connections(kind="tcp"))
    return fds, rss, conns


async def run_load(
    base: str, clients: int, seconds: float, share: float, ids: list[str]
) -> tuple[dict[str, list[float]], dict[str, int], int]:
    lat: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    kinds = [("host", "/api/integrations"), ("storage", "/api/hubspot/auth/status")]
    rng = random.Random(1)
    t_end = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {API_KEY}"}, limits=limits, timeout=90
    ) as c:

        async def client() -> None:
            while time.perf_counter() < t_end:
                if rng.random() < share:
                    if rng.random() < 0.5:
                        kind, path = "hubspot", f"/api/hubspot/contacts/{rng.choice(ids)}"
                    else:
                        kind, path = "hubspot", "/api/hubspot/contacts?limit=10"
                else:
                    kind, path = rng.choice(kinds)
                s = time.perf_counter()
                try:
                    r = await c.get(path)
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                lat[kind].append(time.perf_counter() - s)
                if not ok:
                    errors[kind] += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        overrun = time.perf_counter() - t0 - seconds
    return lat, errors, int(max(0.0, overrun) * 1000)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--hubspot-share", type=float, default=0.2)
    a = ap.parse_args(argv)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    atom_host = str(Path(PYTHON).parent / "atom-host")
    with tempfile.TemporaryDirectory(prefix="atom-load-") as data:
        env = {
            "ATOM_API_KEYS": f"{API_KEY}:load:load",
            "ATOM_DATA_DIR": data,
            "ATOM_PUBLIC_URL": base,
            "ATOM_DATABASE_URL": f"sqlite:///{data}/atom.sqlite3",
        }
        with child_server(
            [atom_host, "serve", "--demo", "--port", str(port)], port, env=env, timeout=120
        ) as proc:
            h = {"Authorization": f"Bearer {API_KEY}"}
            deadline = time.monotonic() + 60
            while True:
                r = httpx.get(f"{base}/api/hubspot/contacts?limit=50", headers=h, timeout=30)
                if r.status_code == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            r.raise_for_status()
            ids = [row["id"] for row in r.json()["data"]["results"]]
            # Settle: one of each kind, then measure the idle host.
            httpx.get(f"{base}/api/integrations", headers=h)
            httpx.get(f"{base}/api/hubspot/auth/status", headers=h)
            before = host_stats(proc.pid)
            lat, errors, overrun_ms = asyncio.run(
                run_load(base, a.clients, a.seconds, a.hubspot_share, ids)
            )
            after = host_stats(proc.pid)
            time.sleep(5)
            later = host_stats(proc.pid)
            alive = proc.poll() is None
    t = Table(
        f"Load: {a.clients} clients for {a.seconds:g} s on loopback against "
        f"`atom-host serve --demo`",
        ["kind", "requests", "errors", "req/s", "p50 ms", "p99 ms", "max ms"],
    )
    total = 0
    for kind in ("host", "storage", "hubspot"):
        v = lat.get(kind, [])
        total += len(v)
        t.add(
            kind,
            len(v),
            errors.get(kind, 0),
            len(v) / a.seconds,
            percentile(v, 50) * 1000,
            percentile(v, 99) * 1000,
            max(v, default=float("nan")) * 1000,
        )
    t.notes.append(
        f"total {total:,} requests, {sum(errors.values())} errors; last requests "
        f"finished {overrun_ms} ms after the {a.seconds:g} s mark; host still "
        f"running: {alive}"
    )
    t.notes.append(
        f"host open fds {before[0]} before -> {after[0]} right after -> {later[0]} "
        f"5 s later; TCP connections {before[2]} -> {after[2]} -> {later[2]}"
    )
    t.notes.append(
        f"host RSS {before[1]:.1f} MB before -> {after[1]:.1f} MB after -> "
        f"{later[1]:.1f} MB 5 s later"
    )
    t.notes.append(
        "hubspot = reads through the plugin to the in-process sandbox, paced by the "
        "governor at the demo portal's 110 calls per 10 s"
    )
    t.print()
    return 0 if alive else 1


if __name__ == "__main__":
    raise SystemExit(main())
