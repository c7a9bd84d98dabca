"""Read path: `GET /api/hubspot/contacts/{id}?source=live` through the host vs a bare httpx
call to the sandbox vs the SDK's `basic_api.get_by_id`, all against the same standalone
sandbox.

    python -m bench.read_path [--seconds 6] [--concurrency 16] [--contacts 2000]

The host (bench/host_server.py: the stub host with the plugin, SQLite, a private-app
connection) calls the same sandbox over the same loopback as the bare and SDK calls; what it
adds is our whole stack: API-key auth, connection lookup in SQLite, token decryption,
governor (given the sandbox's unlimited budget), client, mapping, envelope. Each side runs
one sequential phase (latency) and one phase with
`--concurrency` requests in flight (throughput; SDK: that many threads).
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from bench import sandbox_server as sbx
from bench._harness import PYTHON, Table, child_server, free_port, percentile, sandbox_server
from bench.host_server import API_KEY as HOST_KEY


def bench_host(sandbox_url: str, port: int, data_dir: str):  # type: ignore[no-untyped-def]
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
            data_dir,
        ],
        port,
        timeout=120,
    )


def wait_ready(url: str, headers: dict[str, str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            r = httpx.get(url, headers=headers, timeout=10)
            if r.status_code == 200:
                return
            last = f"{r.status_code} {r.text[:200]}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.25)
    raise RuntimeError(f"{url} not ready: {last}")


def sequential(
    call: Callable[[int], None], ids: list[int], seconds: float
) -> tuple[list[float], float]:
    lat: list[float] = []
    it = itertools.cycle(ids)
    for rid in ids[:20]:  # warm connections and caches
        call(rid)
    t_end = time.perf_counter() + seconds
    t0 = time.perf_counter()
    while time.perf_counter() < t_end:
        s = time.perf_counter()
        call(next(it))
        lat.append(time.perf_counter() - s)
    return lat, len(lat) / (time.perf_counter() - t0)


def threaded(call: Callable[[int], None], ids: list[int], seconds: float, n: int) -> float:
    count = [0] * n
    t_end = time.perf_counter() + seconds

    def worker(k: int) -> None:
        for rid in itertools.cycle(ids[k::n] or ids):
            if time.perf_counter() >= t_end:
                return
            call(rid)
            count[k] += 1

    t0 = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        list(pool.map(worker, range(n)))
    return sum(count) / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--contacts", type=int, default=2000)
    a = ap.parse_args(argv)
    sport, hport = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sport}"
    host_url = f"http://127.0.0.1:{hport}"
    ids = list(range(1001, 1001 + a.contacts))
    host_h = {"Authorization": f"Bearer {HOST_KEY}"}
    bare_h = {"Authorization": f"Bearer {sbx.BENCH_TOKEN}"}
    t = Table(
        f"Read one contact by id ({a.seconds:g} s per phase)",
        [
            "path",
            "p50 ms",
            "p99 ms",
            "req/s sequential",
            f"req/s {a.concurrency} in flight",
            "errors",
            "p50 vs bare",
        ],
    )
    with (
        tempfile.TemporaryDirectory(prefix="atom-bench-") as data,
        sandbox_server(sport, rate_limit=None, contacts=a.contacts),
        bench_host(sandbox_url, hport, data),
    ):
        wait_ready(f"{host_url}/api/hubspot/contacts/{ids[0]}?source=live", host_h)
        # `source=live`: HubSpot is asked on every read (the default answers from the mirror
        # once the portal is synced; bench.mirror and bench.serving measure that).
        host_url_of = lambda rid: f"{host_url}/api/hubspot/contacts/{rid}?source=live"  # noqa: E731
        bare_url_of = lambda rid: f"{sandbox_url}/crm/objects/2026-03/contacts/{rid}"  # noqa: E731

        results = {}
        errors = {"host": 0, "bare": 0, "sdk": 0}
        for name, url_of, headers in (("host", host_url_of, host_h), ("bare", bare_url_of, bare_h)):
            with httpx.Client(headers=headers, timeout=30) as c:

                def call(rid: int, c: httpx.Client = c, url_of=url_of, name=name) -> None:
                    if c.get(url_of(rid)).status_code != 200:
                        errors[name] += 1

                lat, rps = sequential(call, ids, a.seconds)
            # Same driver for every side: one thread per in-flight request, each with its own
            # keep-alive client (the SDK can only be driven this way).
            tl = threading.local()

            def tcall(rid: int, url_of=url_of, headers=headers, name=name, tl=tl) -> None:
                c = getattr(tl, "c", None)
                if c is None:
                    c = tl.c = httpx.Client(headers=headers, timeout=30)
                if c.get(url_of(rid)).status_code != 200:
                    errors[name] += 1

            conc = threaded(tcall, ids, a.seconds, a.concurrency)
            results[name] = (lat, rps, conc)

        from hubspot.crm.contacts.exceptions import ApiException

        from bench.sdk_side import sdk_client

        local = threading.local()

        def sdk_call(rid: int) -> None:
            api = getattr(local, "api", None)
            if api is None:
                api = local.api = sdk_client(sandbox_url, sbx.BENCH_TOKEN).crm.contacts.basic_api
            try:
                api.get_by_id(str(rid))
            except ApiException:
                errors["sdk"] += 1

        lat, rps = sequential(sdk_call, ids, a.seconds)
        conc = threaded(sdk_call, ids, a.seconds, a.concurrency)
        results["sdk"] = (lat, rps, conc)

    bare_p50 = percentile(results["bare"][0], 50)
    labels = {
        "host": "GET /api/hubspot/contacts/{id}?source=live via atom-host",
        "bare": "bare httpx GET to the sandbox",
        "sdk": "SDK basic_api.get_by_id",
    }
    for name in ("host", "bare", "sdk"):
        lat, rps, conc = results[name]
        p50 = percentile(lat, 50)
        t.add(
            labels[name],
            p50 * 1000,
            percentile(lat, 99) * 1000,
            rps,
            conc,
            errors[name],
            f"{p50 / bare_p50:.2f}x",
        )
    t.notes.append("the driver, the host and the sandbox share the machine's cores")
    t.print()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
