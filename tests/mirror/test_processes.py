"""Across processes on PostgreSQL: one syncer per portal, a killed one resumes from its cursor
with nothing lost or written twice, and another process takes over when the holder dies."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from atom_hubspot.storage.db import Database, migrate
from atom_hubspot.storage.mirror import MirrorStore
from tests.mirror.conftest import PORTAL
from tests.mirror.sync_worker import sandbox_app

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def start(tmp_path: Path, name: str, url: str, **cfg: Any) -> subprocess.Popen[str]:
    path = tmp_path / f"{name}.json"
    path.write_text(
        json.dumps({"database_url": url, "holder": name, "go": str(tmp_path / "go"), **cfg})
    )
    return subprocess.Popen(
        [sys.executable, "-m", "tests.mirror.sync_worker", str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def report_of(out: str) -> dict[str, Any]:
    last = [json.loads(line) for line in out.splitlines() if line.startswith("{")][-1]
    return dict(last["report"])


def expected_ids() -> list[int]:
    portal = sandbox_app(0).state.sandbox.portals[PORTAL]
    return sorted(i for i, r in portal.records["contacts"].items() if not r.archived)


async def mirrored(url: str) -> tuple[list[int], Any]:
    db = Database(url)
    try:
        async with db.session(None, read_only=True) as s:
            ids = list(
                await s.scalars(
                    sa.text(
                        "select record_id from hubspot_mirror_records where object_type = "
                        "'contacts' and not archived order by record_id"
                    )
                )
            )
        return ids, await MirrorStore(db).sync_state(PORTAL, "contacts")
    finally:
        await db.dispose()


async def test_two_processes_one_syncer(postgres_url: str, tmp_path: Path) -> None:
    migrate(postgres_url)
    workers = [start(tmp_path, n, postgres_url, latency_ms=20) for n in ("one", "two")]
    (tmp_path / "go").touch()
    outs = [w.communicate(timeout=120) for w in workers]
    reports = [report_of(out) for out, _err in outs]
    ran = [r for r in reports if not r["skipped"]]
    skipped = [r for r in reports if r["skipped"]]
    assert len(ran) == 1 and len(skipped) == 1, outs
    assert "another process" in skipped[0]["skipped"]
    ids, state = await mirrored(postgres_url)
    assert ids == expected_ids() and state.status == "current"


async def test_killed_syncer_resumes_and_another_takes_over(
    postgres_url: str, tmp_path: Path
) -> None:
    migrate(postgres_url)
    first = start(tmp_path, "first", postgres_url, latency_ms=30, ttl_s=3.0)
    (tmp_path / "go").touch()
    assert first.stdout is not None
    pages = 0
    while pages < 8:  # let it store a few pages, then kill it hard mid-run
        line = first.stdout.readline()
        assert line, first.stderr.read() if first.stderr else "worker ended early"
        pages += line.startswith('{"page"')
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    ids_then, state_then = await mirrored(postgres_url)
    assert state_then.status == "running" and 0 < len(ids_then) < len(expected_ids())
    stored_after = state_then.cursor["after"]

    # Another process: refused while the dead holder's lease lasts, then takes over.
    started = time.monotonic()
    while True:
        second = start(tmp_path, "second", postgres_url, latency_ms=0, ttl_s=3.0)
        out, _err = second.communicate(timeout=120)
        report = report_of(out)
        if not report["skipped"]:
            break
        assert time.monotonic() - started < 10, "no takeover within the lease's ttl"
        await asyncio.sleep(0.5)
    assert time.monotonic() - started < 10
    ids, state = await mirrored(postgres_url)
    # Every record once: nothing lost, and the run continued from the stored cursor — the
    # pages before it were not read (nor counted) again.
    assert ids == expected_ids()
    assert state.status == "current" and state.processed == len(expected_ids())
    first_page = json.loads(next(x for x in out.splitlines() if x.startswith('{"page"')))
    assert first_page["processed"] == len(ids_then) + min(100, len(ids) - len(ids_then))
    assert stored_after is not None
