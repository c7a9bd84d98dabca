"""The two clients of the hostile-latency test, each in its own process so that neither the
attacker's work nor Bob's shares an interpreter (or its lock) with the server under test.

    python -m tests.api.hostile_clients bob    BASE_URL KEY OUT STOP_FILE
    python -m tests.api.hostile_clients attack BASE_URL KEY OUT

`bob` reads his contacts until STOP_FILE exists; `attack` sends each hostile request in turn,
TRIALS times over.
Both write what they did, with `time.monotonic()` stamps (one clock for every process on the
machine), as JSON to OUT.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

JSON = {"Content-Type": "application/json"}
# Each hostile request is sent this many times: work it does on the server's event loop
# delays Bob every time; a machine busy with other things does not, every time.
TRIALS = 3


def near_limit_body(limit: int = 256 * 1024) -> bytes:
    """The most keys that fit under the body limit: the worst a body can do and be read."""
    parts, size, n = [], 2, 0
    while True:
        item = f'"p{n}": {n}'
        if size + len(item) + 2 > limit - 16:
            break
        parts.append(item)
        size += len(item) + 2
        n += 1
    return ("{" + ", ".join(parts) + "}").encode()


def hostile_requests() -> list[tuple[str, str, str, dict[str, Any]]]:
    million = json.dumps({f"k{i}": i for i in range(1_000_000)}).encode()
    crm = "/api/hubspot"
    return [
        ("huge exponent", "POST", f"{crm}/companies",
         {"json": {"numberofemployees": "1e999999999"}}),
        ("huge exponent amount", "POST", f"{crm}/deals", {"json": {"amount": "9e999999999"}}),
        ("5000-digit integer", "POST", f"{crm}/companies",
         {"content": b'{"numberofemployees": ' + b"9" * 5000 + b"}", "headers": JSON}),
        ("million-key body", "POST", f"{crm}/contacts", {"content": million, "headers": JSON}),
        ("body at the size limit", "POST", f"{crm}/contacts",
         {"content": near_limit_body(), "headers": JSON}),
        ("deep nesting", "POST", f"{crm}/contacts",
         {"content": b"[" * 500_000 + b"]" * 500_000, "headers": JSON}),
        ("centuries of buckets", "GET", f"{crm}/analytics/contacts",
         {"params": {"created_from": "1900-01-01", "created_to": "9999-12-30"}}),
        ("extreme offset", "GET", f"{crm}/deals",
         {"params": {"close_date_to": "9999-12-31T23:59:59-23:59"}}),
    ]  # fmt: skip


def bob(base: str, key: str, stop: Path) -> list[tuple[float, float]]:
    timings: list[tuple[float, float]] = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as c:
        while not stop.exists():
            t0 = time.monotonic()
            r = c.get("/api/hubspot/contacts", params={"limit": 5}, timeout=60)
            timings.append((t0, time.monotonic()))
            if r.status_code != 200:
                raise SystemExit(f"Bob got {r.status_code}: {r.text[:200]}")
    return timings


def attack(base: str, key: str) -> list[tuple[str, int, float, float]]:
    requests = hostile_requests()  # built before the first one is sent
    sent: list[tuple[str, int, float, float]] = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as c:
        time.sleep(1.0)  # Bob's baseline first
        for _trial in range(TRIALS):
            for name, method, path, kwargs in requests:
                t0 = time.monotonic()
                try:
                    status = c.request(method, path, timeout=60, **kwargs).status_code
                except httpx.HTTPError:  # e.g. the server closed while a body was sent
                    status = -1
                sent.append((name, status, t0, time.monotonic()))
                time.sleep(0.2)  # Bob's timings settle between attacks
    return sent


def main(argv: list[str]) -> None:
    role, base, key, out = argv[:4]
    result: Any = bob(base, key, Path(argv[4])) if role == "bob" else attack(base, key)
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
