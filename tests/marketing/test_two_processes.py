"""Two host processes on one database perform every scheduled send exactly once (SQLite and
PostgreSQL), and only the one holding the scheduler's lease performs them. Each process has
its own sandbox, so a send performed twice would show up as the same address in both
processes' records."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.marketing.conftest import ALICE, host_env, running_host
from tests.marketing.send_worker import sandbox_for

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "pat-na1-11111111-2222-4333-8444-555555555555"  # noqa: S105 - a sandbox fake
N = 16


@pytest.mark.slow
@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
async def test_two_host_processes_send_each_once(
    db: str,
    request: pytest.FixtureRequest,
    hubspot_env: dict[str, str],
    tmp_path: Path,
) -> None:
    if db == "sqlite":
        url = request.getfixturevalue("marketing_db_url")
    else:
        url = request.getfixturevalue("marketing_pg_url")
    env = host_env(hubspot_env, url, HUBSPOT_SCHEDULER_INTERVAL="0.02")
    send_at = datetime.now(UTC) + timedelta(hours=1)
    async with running_host(env, sandbox_for(TOKEN), connect=False) as host:
        await host.runtime.connections.save_private_app_token(ALICE, TOKEN)
        await host.runtime.scheduler.aclose()  # this host only stores the sends
        email_id = next(int(i) for i, e in sorted(host.demo.emails.items()) if e["isPublished"])
        for n in range(N):
            r = await host.alice.post(
                "/api/hubspot/send-email",
                json={
                    "email_id": email_id,
                    "emails": [f"p{n}@example.com"],
                    "send_at": send_at.isoformat(),
                },
            )
            assert r.status_code == 202, r.text

    results = await asyncio.to_thread(_race, env, tmp_path, send_at)
    sends = Counter(to for r in results for to in r["sends"])
    assert sends == {f"p{n}@example.com": 1 for n in range(N)}
    # One scheduler: the lease holder performed every send, the other process none.
    assert sorted(len(r["sends"]) for r in results) == [0, N]
    assert [r["running"] for r in results].count(True) == 1


def _race(env: dict[str, str], tmp_path: Path, send_at: datetime) -> list[dict[str, Any]]:
    """Start two host processes, let them race for the due sends, return what each sent."""
    go = tmp_path / "go"
    procs, outs, readies = [], [], []
    for i in range(2):
        out, ready = tmp_path / f"out{i}.json", tmp_path / f"ready{i}"
        cfg = tmp_path / f"cfg{i}.json"
        cfg.write_text(
            json.dumps(
                {
                    "env": env,
                    "token": TOKEN,
                    "go": str(go),
                    "out": str(out),
                    "ready": str(ready),
                    "send_at": send_at.isoformat(),
                }
            )
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.marketing.send_worker", str(cfg)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        )
        outs.append(out)
        readies.append(ready)
    try:
        deadline = time.monotonic() + 120
        while not all(r.exists() for r in readies):
            assert all(p.poll() is None for p in procs), [
                p.communicate()[0][-2000:] for p in procs if p.poll() is not None
            ]
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.05)
        go.touch()  # both hosts' runners now see all N sends due at once
        for p in procs:
            output = p.communicate(timeout=120)[0]
            assert p.returncode == 0, output.decode(errors="replace")[-3000:]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return [json.loads(o.read_text()) for o in outs]
