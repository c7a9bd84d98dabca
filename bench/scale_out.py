"""Scale-out: 4 processes bulk-upsert into one portal at the same time, each with its own
client, sharing one rate budget — on PostgreSQL, on Redis, and (for contrast) not shared.

    python -m bench.scale_out [--processes 4] [--records 20000] [--rate-limit 110] [--window 10]
                              [--backends postgres,redis[,memory]]

Each process upserts records/processes contacts (chunks of 100). The aggregate rate is
records / (last end - first start) against the bound (limit x 100 per window). PostgreSQL:
a fresh database on ATOM_BENCH_POSTGRES_URL's server (default the local one), migrated with
the plugin's Alembic history (table hubspot_rate_windows). Redis: ATOM_BENCH_REDIS_URL
(default redis://127.0.0.1:6379/0) under a fresh key prefix.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx

from bench import sandbox_server as sbx
from bench._harness import PYTHON, ROOT, Table, free_port, sandbox_server
from bench.bulk_write import best_seconds, rows

PG = os.environ.get("ATOM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("ATOM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def child(a: argparse.Namespace) -> dict[str, Any]:
    from atom_hubspot.client import (
        HubSpotClient,
        HubSpotHTTP,
        PostgresWindowBackend,
        RedisWindowBackend,
        StaticToken,
    )
    from atom_hubspot.errors import HubSpotError, RateLimited
    from bench.ours import bench_settings, make_governor

    async def run() -> dict[str, Any]:
        backend: Any = None
        if a.backend == "postgres":
            backend = PostgresWindowBackend(a.store)
        elif a.backend == "redis":
            backend = RedisWindowBackend(a.store, key_prefix=a.prefix)
        settings = bench_settings(a.url)
        governor = make_governor(settings, a.rate_limit, a.window, backend)
        http = HubSpotHTTP(settings, governor=governor)
        client = HubSpotClient(http, StaticToken(sbx.BENCH_TOKEN), portal_id=sbx.PORTAL_ID)
        data = rows(f"{a.prefix}-p{a.index}-", a.records)
        # Start together: say "ready", wait for the parent's "go" on stdin.
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        t0 = time.time()
        surfaced, other = 0, 0
        try:
            result = await client.contacts.batch_upsert([(r["email"], r) for r in data])
            for e in result.errors:
                if (e.code or "") == "rate_limited":
                    surfaced += 1
                else:
                    other += 1
        except RateLimited:
            surfaced += 1
        except HubSpotError:
            other += 1
        t1 = time.time()
        await http.aclose()
        if backend is not None:
            await backend.aclose()
        return {
            "start": t0,
            "end": t1,
            "rate_limited": surfaced,
            "other_errors": other,
            "waits": governor.waits,
        }

    return asyncio.run(run())


def fresh_pg_database() -> tuple[str, Any]:
    import psycopg

    from atom_hubspot.storage.db import migrate

    name = f"atom_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG.rsplit("/", 1)[0] + "/" + name
    migrate(url)

    def drop() -> None:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


def run_backend(
    backend: str, a: argparse.Namespace, url: str, admin: httpx.Client
) -> dict[str, Any]:
    drop = None
    store = ""
    if backend == "postgres":
        store, drop = fresh_pg_database()
    elif backend == "redis":
        store = REDIS
    prefix = f"{backend}{uuid.uuid4().hex[:6]}"
    per = a.records // a.processes
    admin.post("/_sandbox/limits/reset")
    before = sbx.calls(admin)
    procs = [
        subprocess.Popen(
            [
                PYTHON,
                "-m",
                "bench.scale_out",
                "--child",
                "--backend",
                backend,
                "--store",
                store,
                "--prefix",
                prefix,
                "--index",
                str(i),
                "--records",
                str(per),
                "--url",
                url,
                "--rate-limit",
                str(a.rate_limit),
                "--window",
                str(a.window),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(a.processes)
    ]
    for p in procs:
        assert p.stdout is not None
        line = p.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"child did not start: {line!r} {p.stderr.read()[-800:]}")
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=900)
        if p.returncode != 0:
            raise RuntimeError(f"child failed: {err.strip()[-800:]}")
        outs.append(json.loads(out.strip().splitlines()[-1]))
    if drop is not None:
        drop()
    after = sbx.calls(admin)
    stored = sbx.check_contacts(admin, prefix, per * a.processes)
    elapsed = max(o["end"] for o in outs) - min(o["start"] for o in outs)
    late = max(o["start"] for o in outs) - min(o["start"] for o in outs)
    return {
        "elapsed": elapsed,
        "late": late,
        "answered_429": after["rate_limited"] - before["rate_limited"],
        "surfaced": sum(o["rate_limited"] for o in outs),
        "other": sum(o["other_errors"] for o in outs),
        **stored,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--processes", type=int, default=4)
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--rate-limit", type=int, default=110)
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument(
        "--backends",
        default="postgres,redis",
        help="comma list of postgres, redis, memory (memory = not shared: the "
        "contrast; left out of the default run to keep it near 1 minute)",
    )
    # child-only
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--backend")
    ap.add_argument("--store", default="")
    ap.add_argument("--prefix", default="")
    ap.add_argument("--index", type=int, default=0)
    ap.add_argument("--url")
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(child(a)))
        return 0
    bound = a.rate_limit * 100 / a.window
    calls = -(-a.records // 100)
    best = a.records / max(best_seconds(calls, a.rate_limit, a.window), a.window)
    t = Table(
        f"{a.processes} processes upserting {a.records:,} contacts into one portal, "
        f"sandbox limit {a.rate_limit} / {a.window:g} s (bound {bound:,.0f} records/s)",
        [
            "shared budget",
            "seconds",
            "records/s",
            "of bound",
            "of best",
            "stored",
            "lost",
            "dup",
            "429s answered",
            "rate-limit errors surfaced",
            "other errors",
        ],
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    labels = {
        "memory": "none (each process its own)",
        "postgres": "PostgreSQL",
        "redis": "Redis (limits)",
    }
    with (
        sandbox_server(port, rate_limit=a.rate_limit, window_s=a.window),
        httpx.Client(base_url=url, timeout=60) as admin,
    ):
        for backend in [b.strip() for b in a.backends.split(",") if b.strip()]:
            try:
                r = run_backend(backend, a, url, admin)
            except Exception as exc:
                t.notes.append(f"{backend}: not measured ({type(exc).__name__}: {str(exc)[:200]})")
                continue
            rate = a.records / r["elapsed"]
            t.add(
                labels.get(backend, backend),
                r["elapsed"],
                rate,
                f"{rate / bound:.0%}",
                f"{rate / best:.0%}",
                r["stored"],
                r["lost"],
                r["duplicated"],
                r["answered_429"],
                r["surfaced"],
                r["other"],
            )
    t.notes.append(
        "best = the fastest a rolling window allows for this many calls (the first "
        "window starts empty)"
    )
    t.print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
