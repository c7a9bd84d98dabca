"""Bulk write: upsert N contacts into a rate-limited sandbox, ours vs HubSpot's SDK.

    python -m bench.bulk_write [--records 20000] [--rate-limit 110] [--window 10]

Both sides write to the same standalone sandbox (real HTTP on loopback) enforcing a rolling
limit of `--rate-limit` requests per `--window` seconds (HubSpot: 110 per 10 s for a public
app). The bound is limit × 100 records per window (100 inputs per batch call). Ours:
`client.contacts.batch_upsert` (chunks of 100, the governor paces calls). SDK: its
`batch_api.upsert` in chunks of 100 with the README's urllib3 Retry on 429/5xx; urllib3 does
not repeat POSTs, so each 429 reaches the caller, who here waits 1 s and sends the chunk again
(without that loop those records would be lost). The sandbox's own state is checked after each
side: every email present exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import httpx

from bench import sandbox_server as sbx
from bench._harness import Table, free_port, ratio, sandbox_server


def rows(prefix: str, n: int) -> list[dict[str, str]]:
    return [
        {
            "email": f"{prefix}{i:06d}@bench.example",
            "firstname": f"F{i}",
            "lastname": f"L{i}",
            "lifecyclestage": "lead",
        }
        for i in range(n)
    ]


async def run_ours(
    base_url: str, data: list[dict[str, str]], rate_limit: int, window_s: float
) -> dict[str, Any]:
    from atom_hubspot.client import HubSpotClient, HubSpotHTTP, StaticToken
    from atom_hubspot.errors import RateLimited
    from bench.ours import bench_settings, make_governor

    settings = bench_settings(base_url)
    http = HubSpotHTTP(settings, governor=make_governor(settings, rate_limit, window_s))
    client = HubSpotClient(http, StaticToken(sbx.BENCH_TOKEN), portal_id=sbx.PORTAL_ID)
    rate_limited = 0
    errors: list[str] = []
    inputs = [(r["email"], r) for r in data]
    t0 = time.perf_counter()
    try:
        result = await client.contacts.batch_upsert(inputs)
        for e in result.errors:
            errors.append(e.code or e.category or e.message)
            if (e.code or "") == "rate_limited" or (e.category or "") == "RATE_LIMITS":
                rate_limited += 1
    except RateLimited as exc:
        rate_limited += 1
        errors.append(exc.code)
    finally:
        elapsed = time.perf_counter() - t0
        await http.aclose()
    return {"elapsed": elapsed, "errors": errors, "rate_limited_surfaced": rate_limited}


def run_sdk(base_url: str, data: list[dict[str, str]]) -> dict[str, Any]:
    from hubspot.crm.contacts.exceptions import ApiException

    from bench.sdk_side import sdk_client, sdk_upsert_inputs

    api = sdk_client(base_url, sbx.BENCH_TOKEN, retry="both").crm.contacts.batch_api
    surfaced: dict[int, int] = {}
    t0 = time.perf_counter()
    for i in range(0, len(data), 100):
        chunk = sdk_upsert_inputs(data[i : i + 100])
        while True:
            try:
                api.upsert(batch_input_simple_public_object_batch_input_upsert=chunk)
                break
            except ApiException as exc:
                surfaced[exc.status] = surfaced.get(exc.status, 0) + 1
                if exc.status not in (429, 500, 502, 503, 504):
                    raise
                time.sleep(1.0)  # the caller's loop; the SDK does not re-send POSTs
    return {"elapsed": time.perf_counter() - t0, "surfaced": surfaced}


def best_seconds(calls: int, limit: int, window_s: float) -> float:
    """The earliest a rolling window lets the last of `calls` calls go out (service time 0)."""
    return ((calls - 1) // limit) * window_s


def run_scenario(
    t: Table, label: str, records: int, limit: int, window_s: float, skip_sdk: bool
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    bound = limit * 100 / window_s
    calls_needed = -(-records // 100)
    best = records / max(best_seconds(calls_needed, limit, window_s), window_s)
    rates: dict[str, float] = {}
    with (
        sandbox_server(port, rate_limit=limit, window_s=window_s),
        httpx.Client(base_url=base, timeout=60) as admin,
    ):
        sides = [("ours", "atom-hubspot batch_upsert")]
        if not skip_sdk:
            sides.append(("sdk", "hubspot-api-client upsert"))
        for side, name in sides:
            admin.post("/_sandbox/limits/reset")  # both sides start with an empty window
            data = rows(side, records)
            before = sbx.calls(admin)
            if side == "ours":
                res = asyncio.run(run_ours(base, data, limit, window_s))
                surfaced = f"{res['rate_limited_surfaced']} rate-limit, {len(res['errors'])} total"
            else:
                res = run_sdk(base, data)
                surfaced = ", ".join(f"{n}x {s}" for s, n in sorted(res["surfaced"].items()))
                surfaced = (
                    f"{surfaced or '0'} (= {sum(res['surfaced'].values()) * 100:,} "
                    "records lost without a caller loop)"
                )
            check = sbx.check_contacts(admin, side, records)
            got_429 = sbx.calls(admin)["rate_limited"] - before["rate_limited"]
            rate = records / res["elapsed"]
            rates[side] = rate
            t.add(
                label,
                name,
                res["elapsed"],
                rate,
                f"{rate / bound:.0%}",
                f"{rate / best:.0%}",
                check["stored"],
                check["lost"],
                check["duplicated"],
                got_429,
                surfaced,
            )
    if "sdk" in rates:
        t.notes.append(f"{label}: ours / SDK records/s = {ratio(rates['ours'], rates['sdk'])}")


SCENARIOS = {
    "hubspot": ("110 / 10 s (HubSpot)", 110, 10.0),
    "scaled": ("11 / 1 s (scaled window, same bound)", 11, 1.0),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    ap.add_argument("--rate-limit", type=int, help="custom limit (with --window)")
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--skip-sdk", action="store_true")
    a = ap.parse_args(argv)
    if a.rate_limit:
        chosen = [(f"{a.rate_limit} / {a.window:g} s", a.rate_limit, a.window)]
    else:
        chosen = list(SCENARIOS.values()) if a.scenario == "all" else [SCENARIOS[a.scenario]]
    t = Table(
        f"Bulk upsert of {a.records:,} contacts by email into the sandbox (chunks of 100)",
        [
            "limit",
            "client",
            "seconds",
            "records/s",
            "of bound",
            "of best",
            "stored",
            "lost",
            "dup",
            "429s answered",
            "errors surfaced to caller",
        ],
    )
    for label, limit, window_s in chosen:
        run_scenario(t, label, a.records, limit, window_s, a.skip_sdk)
    t.notes.append(
        "bound = limit x 100 records per window (steady state); best = the fastest "
        "a rolling window allows for this many calls (the first window starts "
        "empty, so a short job can pass the steady bound)"
    )
    t.notes.append(
        "SDK: README's Retry(total=5, backoff_factor=0.3, status_forcelist=(429, 500,"
        " 502, 504)); urllib3 does not repeat POST, so the caller re-sends the chunk "
        "after 1 s"
    )
    t.print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
