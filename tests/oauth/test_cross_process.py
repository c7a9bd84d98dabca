"""Two OS processes with an expired token: exactly one refresh, both get the same token."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from atom_hubspot.oauth import ConnectionManager
from atom_hubspot.storage.db import Database, migrate
from tests.oauth.fakes import FakeHubSpot

ROOT = Path(__file__).resolve().parents[2]


def _old_clock() -> datetime:
    return datetime.now(UTC) - timedelta(hours=2)


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_two_processes_refresh_once(backend, request, tmp_path, settings, encryption_keys):
    url = (
        request.getfixturevalue("postgres_url")
        if backend == "postgresql"
        else f"sqlite:///{tmp_path / 'x.sqlite3'}"
    )
    migrate(url)
    db = Database(url)
    fake = FakeHubSpot()
    manager = ConnectionManager(
        settings, db, oauth_api=fake, client_factory=fake.client_factory, clock=_old_clock
    )
    info = await manager.store_oauth(
        tenant_id="t1",
        user_id="alice",
        portal_id=fake.portal_id,
        scopes=["oauth"],
        hub_domain=None,
        access_token="at-old",  # noqa: S106
        refresh_token="rt-shared",  # noqa: S106
        expires_in=1800,
        details={},
    )  # expired an hour and a half ago
    await db.dispose()
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(  # noqa: ASYNC220
            [
                sys.executable,
                "-m",
                "tests.oauth.refresh_worker",
                url,
                encryption_keys,
                info.id,
                "t1",
                "rt-shared",
                str(go),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("go.ready.*"))) < 2 and time.monotonic() < deadline:
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.02)  # both processes are up and waiting at the barrier  # noqa: ASYNC251
    go.write_text("go")
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        outs.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(o["refresh_calls"] for o in outs) == 1, outs
    assert outs[0]["token"] == outs[1]["token"] != "at-old"  # noqa: S105
