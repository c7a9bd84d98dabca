"""Memory: peak RSS while iterating N contacts — our `contacts.iter_all()` vs the SDK's
`crm.contacts.get_all()` — each in its own fresh process, against one standalone sandbox
holding N contacts.

    python -m bench.memory [--records 100000]   (default 20,000: scaled for a ~1-minute run)

Each child reports its RSS after imports and client set-up (baseline), its peak RSS while
iterating (sampled every 5 ms by a psutil thread), and the time. (The kernel's ru_maxrss is
not used: Linux carries it over from the parent across exec.)
Our governor is given the sandbox's (unlimited) budget here: this run measures memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import threading
import time
from typing import Any

from bench import sandbox_server as sbx
from bench._harness import PYTHON, ROOT, Table, free_port, sandbox_server

MB = 1024 * 1024


class PeakSampler:
    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self._stop.wait(0.005)

    def __enter__(self) -> PeakSampler:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def child_ours(url: str) -> dict[str, Any]:
    from atom_hubspot.client import HubSpotClient, HubSpotHTTP, StaticToken
    from bench.ours import bench_settings, make_governor

    async def run() -> dict[str, Any]:
        settings = bench_settings(url)
        http = HubSpotHTTP(settings, governor=make_governor(settings, 1_000_000, 10.0))
        client = HubSpotClient(http, StaticToken(sbx.BENCH_TOKEN), portal_id=sbx.PORTAL_ID)
        await client.contacts.list(limit=1)  # warm: connection, models, governor
        import psutil

        base = psutil.Process().memory_info().rss
        n = 0
        t0 = time.perf_counter()
        with PeakSampler() as s:
            async for obj in client.contacts.iter_all():
                n += len(obj.id) > 0
        elapsed = time.perf_counter() - t0
        await http.aclose()
        return {"base": base, "peak": s.peak, "n": n, "elapsed": elapsed}

    return asyncio.run(run())


def child_sdk(url: str) -> dict[str, Any]:
    import psutil

    from bench.sdk_side import sdk_client

    contacts = sdk_client(url, sbx.BENCH_TOKEN).crm.contacts
    contacts.basic_api.get_page(limit=1)  # warm
    base = psutil.Process().memory_info().rss
    t0 = time.perf_counter()
    with PeakSampler() as s:
        everything = contacts.get_all()
        n = sum(1 for c in everything if c.id)
    elapsed = time.perf_counter() - t0
    return {"base": base, "peak": s.peak, "n": n, "elapsed": elapsed}


def run_child(side: str, url: str) -> dict[str, Any]:
    out = subprocess.run(
        [PYTHON, "-m", "bench.memory", "--child", side, "--url", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--records",
        type=int,
        default=20_000,
        help="contacts to iterate (the issue asks for 100000: ~3 min here, "
        "most of it the SDK decoding; the default is scaled to stay near 1 min)",
    )
    ap.add_argument("--child", choices=["ours", "sdk"])
    ap.add_argument("--url")
    a = ap.parse_args(argv)
    if a.child:
        res = (child_ours if a.child == "ours" else child_sdk)(a.url)
        print(json.dumps(res))
        return 0
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    t = Table(
        f"Iterate {a.records:,} contacts (100 per page), each side in a fresh process",
        ["client", "records seen", "seconds", "RSS before MB", "peak RSS MB", "growth MB"],
    )
    growth = {}
    with sandbox_server(port, rate_limit=None, contacts=a.records):
        for side, name in (
            ("ours", "atom-hubspot contacts.iter_all()"),
            ("sdk", "SDK crm.contacts.get_all()"),
        ):
            r = run_child(side, url)
            growth[side] = (r["peak"] - r["base"]) / MB
            t.add(name, r["n"], r["elapsed"], r["base"] / MB, r["peak"] / MB, growth[side])
    if growth.get("ours", 0) > 0:
        t.notes.append(f"SDK growth / ours: {growth['sdk'] / growth['ours']:.1f}x")
    t.print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
