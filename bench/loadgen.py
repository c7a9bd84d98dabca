"""A small closed-loop HTTP/1.1 load generator: N keep-alive connections, each sending the
next request as soon as the previous answer is read.

    python -m bench.loadgen http://127.0.0.1:8800/path --clients 50 --seconds 10 \
        [--header 'Authorization: Bearer …'] [--processes 1]

It writes pre-built request bytes to raw asyncio streams and reads answers by Content-Length,
so it costs far less CPU per request than an HTTP client library: on a 2-core machine the
server under test, not the generator, is what gets measured. `--processes` splits the
clients over several generator processes. Prints one JSON line: requests, errors (non-2xx or
broken connections), req/s, p50/p99/max latency in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import time
from typing import Any
from urllib.parse import urlsplit

from bench._harness import percentile


def _request(url: str, headers: list[str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", *headers, "", ""]
    return host, port, "\r\n".join(lines).encode()


async def _client(
    host: str, port: int, request: bytes, t_end: float, lat: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < t_end:
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
                    break
            if length:
                await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            if not 200 <= status < 300:
                errors[0] += 1
    except (OSError, asyncio.IncompleteReadError, ValueError):
        errors[0] += 1
    finally:
        writer.close()


async def _run(
    url: str, headers: list[str], clients: int, seconds: float, start_at: float
) -> dict[str, Any]:
    host, port, request = _request(url, headers)
    lat: list[float] = []
    errors = [0]
    await asyncio.sleep(max(0.0, start_at - time.time()))
    t_end = time.perf_counter() + seconds
    t0 = time.perf_counter()
    await asyncio.gather(
        *(_client(host, port, request, t_end, lat, errors) for _ in range(clients))
    )
    return {"lat": lat, "errors": errors[0], "elapsed": time.perf_counter() - t0}


def _worker(args: tuple[str, list[str], int, float, float]) -> dict[str, Any]:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(_run(*args))


def run(
    url: str,
    *,
    clients: int = 50,
    seconds: float = 10.0,
    headers: list[str] | None = None,
    processes: int = 1,
) -> dict[str, float]:
    """Load `url` and return requests, errors, rps, p50_ms, p99_ms, max_ms."""
    headers = headers or []
    start_at = time.time() + 0.5
    shares = [
        clients // processes + (1 if i < clients % processes else 0) for i in range(processes)
    ]
    jobs = [(url, headers, n, seconds, start_at) for n in shares if n]
    if len(jobs) == 1:
        results = [_worker(jobs[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
            results = pool.map(_worker, jobs)
    lat = [x for r in results for x in r["lat"]]
    elapsed = max(r["elapsed"] for r in results)
    return {
        "requests": len(lat),
        "errors": sum(r["errors"] for r in results),
        "rps": len(lat) / elapsed if elapsed else 0.0,
        "p50_ms": percentile(lat, 50) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "max_ms": max(lat, default=float("nan")) * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("url")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--processes", type=int, default=1)
    a = ap.parse_args(argv)
    out = run(a.url, clients=a.clients, seconds=a.seconds, headers=a.header, processes=a.processes)
    print(json.dumps({k: round(v, 2) for k, v in out.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
