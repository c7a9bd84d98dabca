"""No plaintext token at rest (SQLite file bytes, pg_dump) or in logs."""

from __future__ import annotations

import logging
import shutil
import subprocess

import pytest

from atom_hubspot.oauth import ConnectionManager, OAuthFlow
from atom_hubspot.storage.db import Database, migrate
from tests.oauth.conftest import ALICE, BOB
from tests.oauth.fakes import FakeHubSpot
from tests.oauth.helpers import connect


async def _exercise(settings, url: str, clock) -> FakeHubSpot:
    """Connect (OAuth with PKCE and a private-app token), refresh, disconnect one."""
    fake = FakeHubSpot()
    migrate(url)
    db = Database(url)
    try:
        manager = ConnectionManager(
            settings, db, oauth_api=fake, client_factory=fake.client_factory, clock=clock
        )
        flow = OAuthFlow(settings, manager, clock=clock)
        await connect(flow, fake, ALICE, use_pkce=True)
        await flow.start(BOB, use_pkce=True)  # a pending state with a verifier
        clock.advance(3600)
        client, _ = await manager.client_for(ALICE)
        await client.token.access_token()
        await manager.refresh(ALICE)
        fake.portal_id = 5151
        await manager.save_private_app_token(BOB, fake.private_token())
        fake.portal_id = 6161
        await connect(flow, fake, BOB)
        await manager.disconnect(BOB, 6161)
    finally:
        await db.dispose()
    assert len(fake.issued) >= 9
    return fake


def _assert_absent(blob: bytes, fake: FakeHubSpot, where: str) -> None:
    for token in fake.issued:
        assert token.encode() not in blob, f"a plaintext token is in {where}"


async def test_sqlite_file_has_no_plaintext_token(settings, tmp_path, clock, caplog):
    caplog.set_level(logging.DEBUG)
    url = f"sqlite:///{tmp_path / 'db' / 'atom.sqlite3'}"
    fake = await _exercise(settings, url, clock)
    files = list((tmp_path / "db").iterdir())
    assert any(f.name == "atom.sqlite3" for f in files)
    blob = b"".join(f.read_bytes() for f in files)  # the database and its WAL
    assert b"hubspot_tokens" in blob and b"v1.k1." in blob  # the scan sees real content
    _assert_absent(blob, fake, "the SQLite files")
    _assert_absent(caplog.text.encode(), fake, "the logs")
    assert "refreshed the access token" in caplog.text


async def test_pg_dump_has_no_plaintext_token(settings, postgres_url, clock, caplog):
    if not shutil.which("pg_dump"):
        pytest.skip("pg_dump is not installed")
    caplog.set_level(logging.DEBUG)
    fake = await _exercise(settings, postgres_url, clock)
    pg_dump = shutil.which("pg_dump") or "pg_dump"
    dump = subprocess.run(  # noqa: ASYNC221 - a fixed command line, in a test
        [pg_dump, "--data-only", postgres_url], capture_output=True, check=True, timeout=60
    ).stdout
    assert b"v1.k1." in dump and b"owner@example.com" in dump
    _assert_absent(dump, fake, "pg_dump")
    _assert_absent(caplog.text.encode(), fake, "the logs")
