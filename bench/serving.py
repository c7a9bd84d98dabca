"""Production serving, side by side in one run:

1. a host-only database route (`GET /api/hubspot/scheduled-sends`, one stored send) served by
   `atom-host serve` vs `bench/minimal_app.py` (a bare ASGI app on the same uvicorn, driver and
   database reading the same row), 50 clients: throughput ratio and p99 — on SQLite and on
   PostgreSQL. On SQLite the host reads a short page on the loop's thread through the
   synchronous driver, so a second minimal app reading that way is the like-for-like floor;
2. the same route with `atom-host serve --workers 2` vs `--workers 1` on PostgreSQL;
3. a live read (`GET /api/hubspot/contacts/{id}?source=live`, HubSpot asked on every request)
   through the host vs the same call straight to the sandbox, one client: p50 overhead; and the
   same read answered from the portal's mirror (the default `source=auto`);
4. `atom-host plugins --json` as a whole process vs `python -c "from hubspot import HubSpot"`.

Besides throughput and latency, each side reports the CPU its server processes spent per request
(`server CPU`): on a machine shared with other work, throughput follows whatever else runs, while
CPU per request stays close to what the code costs. `gen CPU` is the load generator's share of
one core, to show it was not the limit.

    python -m bench.serving [--seconds 5] [--rounds 3] [--clients 50] [--skip-postgres]
    python -m bench.serving --only start-up    # the last row alone
    python -m bench.serving --only live        # the live and mirror reads alone
    python -m bench.serving --only workers     # one worker against two, on PostgreSQL

The load generator (bench/loadgen.py) runs on the same machine. Each pair alternates for
`--rounds` rounds and the medians are compared, so a busy machine slows both sides alike.
PostgreSQL parts use a throw-away database on ATOM_BENCH_POSTGRES_URL's server.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import resource
import secrets
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

from bench import loadgen
from bench._harness import PYTHON, Table, child_server, free_port, sandbox_server, start_up_env

ATOM_HOST = str(Path(PYTHON).parent / "atom-host")
API_KEY = "bench-serving-key"
AUTH = f"Authorization: Bearer {API_KEY}"
ROUTE = "/api/hubspot/scheduled-sends"


def host_env(database_url: str, data: str, port: int, sandbox_url: str) -> dict[str, str]:
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return {
        "ATOM_DATABASE_URL": database_url,
        "ATOM_DATA_DIR": data,
        "ATOM_PLUGINS": "hubspot",
        "ATOM_API_KEYS": f"{API_KEY}:bench:bench",
        "ATOM_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "HUBSPOT_CLIENT_ID": "sandbox-client-id",
        "HUBSPOT_CLIENT_SECRET": "sandbox-client-secret",
        "ATOM_HUBSPOT_ENCRYPTION_KEYS": f"k1:{key}",
        "HUBSPOT_API_BASE_URL": sandbox_url,
        "HUBSPOT_AUTHORIZE_URL": f"{sandbox_url}/oauth/authorize",
        "HUBSPOT_RATE_LIMIT_BACKEND": "postgres"
        if database_url.startswith("postgres")
        else "memory",
    }


def seed_send(database_url: str) -> None:
    """One stored scheduled send of the bench principal: the row both sides read."""
    from atom_hubspot.storage.db import Database, migrate
    from atom_hubspot.storage.models import ScheduledSend

    migrate(database_url)

    async def insert() -> None:
        db = Database(database_url)
        try:
            async with db.session("bench") as s:
                s.add(
                    ScheduledSend(
                        tenant_id="bench",
                        user_id="bench",
                        portal_id=1234567,
                        connection_id="00000000-0000-0000-0000-000000000000",
                        email_id=123456789,
                        recipients=[{"email": "ada@example.com"}],
                        contact_properties={},
                        custom_properties={},
                        send_at=datetime.now(UTC) + timedelta(days=30),
                        status="pending",
                        attempts=0,
                    )
                )
        finally:
            await db.dispose()

    asyncio.run(insert())


def serve_host(
    port: int, env: dict[str, str], workers: int = 1
) -> AbstractContextManager[subprocess.Popen[bytes]]:
    args = [ATOM_HOST, "serve", "--port", str(port), "--no-access-log"]
    if workers > 1:
        args += ["--workers", str(workers)]
    return child_server(args, port, env=env, timeout=180)


def serve_minimal(
    port: int, database_url: str, *, sync_sqlite: bool = False
) -> AbstractContextManager[subprocess.Popen[bytes]]:
    args = [PYTHON, "-m", "bench.minimal_app", "--port", str(port)]
    if sync_sqlite:
        args.append("--sync-sqlite")
    return child_server([*args, "--database-url", database_url], port, timeout=60)


def server_cpu_s(proc: subprocess.Popen[bytes]) -> float:
    """CPU seconds spent so far by a server process and its workers."""
    root = psutil.Process(proc.pid)
    return cpu_s([root, *root.children(recursive=True)])


def cpu_s(processes: Iterable[psutil.Process]) -> float:
    """CPU seconds spent so far by `processes` (one that just exited counts nothing)."""
    total = 0.0
    for p in processes:
        try:
            times = p.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def load(
    proc: subprocess.Popen[bytes], url: str, clients: int, seconds: float, headers: list[str]
) -> dict[str, float]:
    """loadgen.run, plus the server's CPU per request and the generator's share of a core."""
    cpu0, gen0, t0 = server_cpu_s(proc), resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    result = loadgen.run(url, clients=clients, seconds=seconds, headers=headers)
    cpu1, gen1, t1 = server_cpu_s(proc), resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    gen = gen1.ru_utime - gen0.ru_utime + gen1.ru_stime - gen0.ru_stime
    return {
        **result,
        "cpu_us": (cpu1 - cpu0) / max(1.0, result["requests"]) * 1e6,
        "gen_cpu": gen / (t1 - t0),
        "span_s": t1 - t0,
    }


def warm(url: str, headers: list[str]) -> None:
    """Until the route answers 200 (every worker started), then a short warm-up."""
    deadline = time.monotonic() + 180
    while loadgen.run(url, clients=4, seconds=0.5, headers=headers)["errors"]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} does not answer 200")
    loadgen.run(url, clients=8, seconds=1.0, headers=headers)


def alternate(
    sides: dict[str, Callable[[], dict[str, float]]], rounds: int
) -> dict[str, dict[str, float]]:
    """Run each side once per round, alternating; the median of each figure per side."""
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, run in sides.items():
            runs[name].append(run())
    return {
        name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()
    }


def host_vs_minimal(
    t: Table, label: str, database_url: str, a: argparse.Namespace, data: str
) -> None:
    """The host against the minimal app. On SQLite twice over: the minimal app reading
    through aiosqlite (as a small app would), and reading on the loop's thread through the
    synchronous driver, as the host reads a short page — the like-for-like floor."""
    seed_send(database_url)
    hport, mport, sport = free_port(), free_port(), free_port()
    env = host_env(database_url, data, hport, "http://127.0.0.1:9")
    sqlite = database_url.startswith("sqlite")
    with contextlib.ExitStack() as stack:
        host = stack.enter_context(serve_host(hport, env))
        minimal = stack.enter_context(serve_minimal(mport, database_url))
        host_url, minimal_url = f"http://127.0.0.1:{hport}{ROUTE}", f"http://127.0.0.1:{mport}/"
        sides = {
            "host": lambda: load(host, host_url, a.clients, a.seconds, [AUTH]),
            "minimal": lambda: load(minimal, minimal_url, a.clients, a.seconds, []),
        }
        warm(host_url, [AUTH])
        warm(minimal_url, [])
        if sqlite:
            same = stack.enter_context(serve_minimal(sport, database_url, sync_sqlite=True))
            same_url = f"http://127.0.0.1:{sport}/"
            warm(same_url, [])
            sides["same"] = lambda: load(same, same_url, a.clients, a.seconds, [])
        med = alternate(sides, a.rounds)
    h = med["host"]
    floors = [("minimal", "minimal ASGI app" + (" (aiosqlite)" if sqlite else ""))]
    if sqlite:
        floors.append(("same", "minimal ASGI app (sqlite3 on the loop thread, as the host)"))
    for key, name in floors:
        m = med[key]
        t.add(
            f"{label}: host vs {name}, {a.clients} clients",
            f"{h['rps']:.0f} vs {m['rps']:.0f} req/s",
            f"{h['p99_ms']:.0f} vs {m['p99_ms']:.0f}",
            f"{h['rps'] / m['rps']:.2f}x (target >= 0.80x, p99 <= 250 ms)",
            f"{h['cpu_us']:.0f} vs {m['cpu_us']:.0f} ({h['cpu_us'] / m['cpu_us']:.2f}x)",
            f"{max(h['gen_cpu'], m['gen_cpu']):.0%}",
            f"{h['errors']:.0f} / {m['errors']:.0f}",
        )


def postgres_cpu_s() -> float:
    """CPU seconds spent so far by the PostgreSQL server's processes on this machine (0 when
    they cannot be read, e.g. another user's processes without the right to see them)."""
    return cpu_s(
        p for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith("postgres")
    )


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (every process, the kernel, interrupts)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def workers(t: Table, database_url: str, a: argparse.Namespace, data: str) -> None:
    """One worker against two, both serving at once and loaded in alternating rounds. Beside
    the ratio, where the machine's cores went on each side (host, PostgreSQL, load generator):
    on a 2-core machine a second worker can only use what the first left of them."""
    seed_send(database_url)
    sides: dict[str, Callable[[], dict[str, float]]] = {}
    with contextlib.ExitStack() as stack:
        for n in (1, 2):
            port = free_port()
            env = host_env(database_url, f"{data}/w{n}", port, "http://127.0.0.1:9")
            url = f"http://127.0.0.1:{port}{ROUTE}"
            server = stack.enter_context(serve_host(port, env, workers=n))
            warm(url, [AUTH])

            def side(server: subprocess.Popen[bytes] = server, url: str = url) -> dict[str, float]:
                pg0, busy0 = postgres_cpu_s(), machine_busy_s()
                result = load(server, url, a.clients, a.seconds, [AUTH])
                pg1, busy1 = postgres_cpu_s(), machine_busy_s()
                # Per second under load: the generator waits 0.5 s before it starts, when
                # nothing much runs, so the span of the whole call would understate each share.
                loaded = result["requests"] / result["rps"]
                return {
                    **result,
                    "host_cores": result["cpu_us"] * result["requests"] / 1e6 / loaded,
                    "pg_cores": (pg1 - pg0) / loaded,
                    "busy_cores": (busy1 - busy0) / loaded,
                    "gen_cores": result["gen_cpu"] * result["span_s"] / loaded,
                }

            sides[str(n)] = side
        med = alternate(sides, a.rounds)
    one, two = med["1"], med["2"]

    def cores(r: dict[str, float]) -> str:
        total = r["host_cores"] + r["pg_cores"] + r["gen_cores"]
        return (
            f"host {r['host_cores']:.2f} + PostgreSQL {r['pg_cores']:.2f} + load "
            f"{r['gen_cores']:.2f} = {total:.2f}, machine busy {r['busy_cores']:.2f}"
        )

    t.add(
        f"PostgreSQL: --workers 2 vs --workers 1, {a.clients} clients",
        f"{two['rps']:.0f} vs {one['rps']:.0f} req/s",
        f"{two['p99_ms']:.0f} vs {one['p99_ms']:.0f}",
        f"{two['rps'] / one['rps']:.2f}x (target >= 1.40x)",
        f"{two['cpu_us']:.0f} vs {one['cpu_us']:.0f}",
        f"{max(two['gen_cpu'], one['gen_cpu']):.0%}",
        f"{two['errors']:.0f} / {one['errors']:.0f}",
    )
    t.notes.append(
        f"workers: cores busy with 2 workers: {cores(two)}; with 1: {cores(one)} "
        f"(of {os.cpu_count()})"
    )


def live_read(t: Table, a: argparse.Namespace, data: str) -> None:
    from bench import sandbox_server as sbx
    from bench.host_server import API_KEY as HOST_KEY

    sport, hport = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sport}"
    args = [PYTHON, "-m", "bench.host_server", "--port", str(hport), "--sandbox-url", sandbox_url]
    host = child_server([*args, "--data", data], hport, timeout=120)
    with sandbox_server(sport, rate_limit=None, contacts=200) as sandbox, host as served:
        contact = f"http://127.0.0.1:{hport}/api/hubspot/contacts/1001"
        direct = f"{sandbox_url}/crm/objects/2026-03/contacts/1001"
        host_h, direct_h = (
            [f"Authorization: Bearer {HOST_KEY}"],
            [f"Authorization: Bearer {sbx.BENCH_TOKEN}"],
        )
        mirrored(f"http://127.0.0.1:{hport}", host_h)
        warm(f"{contact}?source=live", host_h)
        warm(direct, direct_h)
        med = alternate(
            {
                "live": lambda: load(served, f"{contact}?source=live", 1, a.seconds, host_h),
                "mirror": lambda: load(served, contact, 1, a.seconds, host_h),
                "direct": lambda: load(sandbox, direct, 1, a.seconds, direct_h),
            },
            a.rounds,
        )
    d = med["direct"]
    for name, what in (("live", "?source=live"), ("mirror", "from the mirror")):
        h = med[name]
        t.add(
            f"Read a contact {what}, 1 client: via the host vs straight to the sandbox",
            f"p50 {h['p50_ms']:.2f} vs {d['p50_ms']:.2f} ms",
            f"{h['p99_ms']:.1f} vs {d['p99_ms']:.1f}",
            f"+{h['p50_ms'] - d['p50_ms']:.2f} ms p50"
            + (" (target <= 1 ms)" if name == "live" else ""),
            f"{h['cpu_us']:.0f} vs {d['cpu_us']:.0f}",
            f"{max(h['gen_cpu'], d['gen_cpu']):.0%}",
            f"{h['errors']:.0f} / {d['errors']:.0f}",
        )


def mirrored(host_url: str, headers: list[str]) -> None:
    """Until the host's first sync of the portal has finished: reads are measured on a quiet
    host, not beside a full sync (bench.mirror measures reads during a sync)."""
    import httpx

    auth = dict(h.split(": ", 1) for h in headers)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        body = httpx.get(f"{host_url}/api/hubspot/sync", headers=auth, timeout=10).json()
        objects = [o for p in body["data"]["portals"] for o in p["objects"]]
        done = [o for o in objects if o["object_type"] == "contacts" and o["status"] == "current"]
        if done and not any(o["status"] == "running" for o in objects):
            return
        time.sleep(0.5)
    raise RuntimeError("the host's first sync of the portal did not finish in 180 s")


def start_up(t: Table, runs: int) -> None:
    commands = {
        "ours": [ATOM_HOST, "plugins", "--json"],
        "sdk": [PYTHON, "-c", "from hubspot import HubSpot"],
    }
    wall: dict[str, list[float]] = {k: [] for k in commands}
    cpu: dict[str, list[float]] = {k: [] for k in commands}
    with tempfile.TemporaryDirectory(prefix="atom-start-") as cwd:
        env = start_up_env({**os.environ, "ATOM_DATA_DIR": cwd}, Path(cwd) / "pycache")
        for cmd in commands.values():  # fills the bytecode caches
            subprocess.run(cmd, stdout=subprocess.DEVNULL, cwd=cwd, env=env, check=False)
        for _ in range(runs):
            for name, cmd in commands.items():
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                subprocess.run(cmd, stdout=subprocess.DEVNULL, cwd=cwd, env=env, check=False)
                wall[name].append(time.perf_counter() - t0)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu[name].append(
                    after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                )
    w = {k: statistics.median(v) * 1000 for k, v in wall.items()}
    c = {k: statistics.median(v) * 1000 for k, v in cpu.items()}
    t.add(
        f"`atom-host plugins --json` vs `from hubspot import HubSpot` (median of {runs})",
        f"wall {w['ours']:.0f} vs {w['sdk']:.0f} ms; CPU {c['ours']:.0f} vs {c['sdk']:.0f} ms",
        "-",
        f"{w['ours'] / w['sdk']:.2f}x wall, {c['ours'] / c['sdk']:.2f}x CPU (target <= 1.0x)",
        "-",
        "-",
        "-",
    )
    t.notes.append(
        "start-up: both commands with their bytecode cached (one untimed run each first), as "
        "a wheel install has it"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--start-runs", type=int, default=7)
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--only", choices=["start-up", "live", "workers"], help="run these rows alone")
    a = ap.parse_args(argv)
    t = Table(
        "Production serving (alternating rounds, medians)",
        [
            "comparison",
            "throughput / latency",
            "p99 ms",
            "ratio",
            "server CPU us/req",
            "gen CPU",
            "errors",
        ],
    )
    if a.only == "start-up":
        start_up(t, a.start_runs)
        t.print()
        return 0
    if a.only == "live":
        with tempfile.TemporaryDirectory(prefix="atom-serving-") as data:
            live_read(t, a, f"{data}/live")
        t.print()
        return 0
    if a.only == "workers":
        from bench.scale_out import fresh_pg_database

        url, drop = fresh_pg_database()
        try:
            with tempfile.TemporaryDirectory(prefix="atom-serving-") as data:
                workers(t, url, a, f"{data}/w")
        finally:
            drop()
        t.print()
        return 0
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="atom-serving-") as data:
        host_vs_minimal(t, "SQLite", f"sqlite:///{data}/atom.sqlite3", a, f"{data}/s")
        if not a.skip_postgres:
            from bench.scale_out import fresh_pg_database

            url, drop = fresh_pg_database()
            try:
                host_vs_minimal(t, "PostgreSQL", url, a, f"{data}/p")
                workers(t, url, a, f"{data}/w")
            finally:
                drop()
        live_read(t, a, f"{data}/live")
    start_up(t, a.start_runs)
    t.notes.append(
        "host-only route: `atom-host serve --no-access-log` (uvicorn, uvloop, httptools); the "
        "load generator shares the machine's cores with the servers"
    )
    after = os.getloadavg()
    t.notes.append(
        "load average (1, 5, 15 min) before: "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + "; after: "
        + ", ".join(f"{x:.2f}" for x in after)
    )
    t.print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
