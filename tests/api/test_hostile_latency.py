"""A hostile request must not hold up another tenant's: while each hostile request (see
`hostile_clients.py`) is being handled, Bob (another tenant) keeps reading his contacts, and
none of his requests may take more than 100 ms longer than his own requests take when nothing
hostile is running.

The host and the plugin share one event loop, so any work a request does without yielding
(expanding a number, parsing a huge body, building millions of buckets) delays everyone: this
is what the bound catches. The server runs for real on the test's event loop; each client is
its own process. The comparison is against a fixed bound over a measured baseline, not a
ratio of two small timings.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
from pathlib import Path

import pytest
import uvicorn

from tests.api.conftest import KEYS, Stack

DELAY_BOUND_S = 0.100
ROOT = Path(__file__).resolve().parents[2]


async def _client(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.api.hostile_clients", *args, cwd=ROOT
    )


@pytest.mark.slow
async def test_a_hostile_request_cannot_delay_another_tenants_by_more_than_100_ms(
    stack: Stack, tmp_path: Path
) -> None:
    config = uvicorn.Config(stack.app, host="127.0.0.1", port=0, lifespan="off", log_level="error")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    stop = tmp_path / "stop"
    try:
        bob = await _client("bob", base, KEYS["bob"], str(tmp_path / "bob.json"), str(stop))
        attacker = await _client("attack", base, KEYS["alice"], str(tmp_path / "attack.json"))
        assert await attacker.wait() == 0
        stop.touch()
        assert await bob.wait() == 0
    finally:
        stop.touch()
        server.should_exit = True
        await serving
    bob_timings = json.loads((tmp_path / "bob.json").read_text())
    attacks = json.loads((tmp_path / "attack.json").read_text())

    first_attack = attacks[0][2]
    quiet = [end - start for start, end in bob_timings if end < first_attack]
    assert len(quiet) >= 5, "Bob made too few requests before the attack to have a baseline"
    baseline = statistics.median(quiet)
    delays: dict[str, list[float]] = {}
    for name, status, start, end in attacks:
        assert status in (413, 422), (name, status)
        during = [e - s for s, e in bob_timings if s < end and e > start]  # overlapping it
        delays.setdefault(name, []).append(max(during, default=baseline) - baseline)
    # The least delay over the trials: blocking the loop shows in every trial, a burst of
    # load from elsewhere on the machine in some.
    report = {name: min(ds) for name, ds in delays.items()}
    print(
        f"baseline {baseline * 1000:.1f} ms; Bob delayed by (least of the trials): "
        + "; ".join(f"{n} +{d * 1000:.0f} ms" for n, d in report.items())
    )
    slow = {n: round(d * 1000) for n, d in report.items() if d > DELAY_BOUND_S}
    assert not slow, f"delayed another tenant (ms over {baseline * 1000:.1f} ms): {slow}"
