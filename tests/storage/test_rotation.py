"""Key rotation: everything re-encrypted, nothing lost, resumable, undecryptable rows untouched."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from atom_hubspot.cli import hubspot
from atom_hubspot.storage.crypto import TokenCipher, new_key_spec
from atom_hubspot.storage.db import Database, migrate
from atom_hubspot.storage.models import Connection, Token
from atom_hubspot.storage.repository import ConnectionRepository
from atom_hubspot.storage.rotation import pending_rotation, rotate_keys

N = 25


async def _invoke(args, env):
    # The command runs its own event loop, as it does from a shell.
    return await asyncio.to_thread(CliRunner().invoke, hubspot, args, env=env)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'r.sqlite3'}"
    return request.getfixturevalue("postgres_url")


async def _seed(db: Database, spec: str) -> dict[str, tuple[str, str]]:
    repo = ConnectionRepository(TokenCipher.from_spec(spec))
    plain: dict[str, tuple[str, str]] = {}
    for n in range(N):
        async with db.session("t1") as s:
            conn = await repo.upsert_connection(
                s,
                tenant_id="t1",
                user_id=f"u{n}",
                portal_id=1000 + n,
                auth_kind="oauth",
                scopes=["oauth"],
                hub_domain=None,
                access_token=f"access-{n}-x9",
                refresh_token=f"refresh-{n}-x9",
                expires_at=None,
                details={},
            )
            plain[conn.id] = (f"access-{n}-x9", f"refresh-{n}-x9")
    return plain


async def _read_all(db: Database, spec: str) -> dict[str, tuple[str, str | None]]:
    repo = ConnectionRepository(TokenCipher.from_spec(spec))
    async with db.session(None) as s:
        rows = list(await s.scalars(sa.select(Token)))
        out = {}
        for t in rows:
            p = repo.open_tokens(t)
            out[t.connection_id] = (p.access_token, p.refresh_token)
        return out


async def test_rotation_resumes_and_loses_nothing(url):
    migrate(url)
    old, new = new_key_spec("old"), new_key_spec("new")
    db = Database(url)
    try:
        plain = await _seed(db, old)
        ring = TokenCipher.from_spec(f"{new},{old}")
        assert await pending_rotation(db, "new") == N

        class Crash(Exception):
            pass

        batches = []

        def crash_after_two(n: int) -> None:
            batches.append(n)
            if len(batches) == 2:
                raise Crash  # the process dies after committing two batches

        with pytest.raises(Crash):
            await rotate_keys(
                db, ConnectionRepository(ring), batch_size=10, progress=crash_after_two
            )
        assert await pending_rotation(db, "new") == N - 20
        # Mid-way, the ring still reads every row (old and new keys mixed).
        assert await _read_all(db, f"{new},{old}") == plain

        result = await _invoke(
            ["rotate-keys", "--database-url", url, "--batch-size", "7"],
            env={"ATOM_HUBSPOT_ENCRYPTION_KEYS": f"{new},{old}"},
        )
        assert result.exit_code == 0, result.output
        assert "Re-encrypted 5 value(s)" in result.output
        assert await pending_rotation(db, "new") == 0
        # Only the new key is needed now, and every token is what it was.
        assert await _read_all(db, new) == plain
        again = await _invoke(
            ["rotate-keys", "--database-url", url],
            env={"ATOM_HUBSPOT_ENCRYPTION_KEYS": f"{new},{old}"},
        )
        assert again.exit_code == 0 and "Nothing to do" in again.output
    finally:
        await db.dispose()


async def test_undecryptable_rows_left_untouched_and_marked(url):
    migrate(url)
    lost, new = new_key_spec("lost"), new_key_spec("new")
    db = Database(url)
    try:
        await _seed(db, lost)
        async with db.session(None) as s:
            before = {t.connection_id: t.access_token for t in await s.scalars(sa.select(Token))}
        result = await _invoke(
            ["rotate-keys", "--database-url", url],
            env={"ATOM_HUBSPOT_ENCRYPTION_KEYS": new},
        )
        assert result.exit_code == 1
        assert "could not be decrypted" in result.output
        async with db.session(None) as s:
            after = {t.connection_id: t.access_token for t in await s.scalars(sa.select(Token))}
            problems = set(await s.scalars(sa.select(Connection.problem)))
        assert after == before  # nothing overwritten
        assert problems == {"token_undecryptable"}
        # The operator finds the lost key and runs the rotation again: the mark goes.
        fixed = await _invoke(
            ["rotate-keys", "--database-url", url],
            env={"ATOM_HUBSPOT_ENCRYPTION_KEYS": f"{new},{lost}"},
        )
        assert fixed.exit_code == 0, fixed.output
        async with db.session(None) as s:
            problems = set(await s.scalars(sa.select(Connection.problem)))
        assert problems == {None}
    finally:
        await db.dispose()


def test_generate_key_cli():
    result = CliRunner().invoke(hubspot, ["generate-key", "--key-id", "k7"])
    assert result.exit_code == 0
    spec = result.output.strip()
    assert spec.startswith("k7:")
    assert TokenCipher.from_spec(spec).primary_key_id == "k7"


def test_rotate_without_keys_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(
        hubspot,
        ["rotate-keys", "--database-url", f"sqlite:///{tmp_path}/x"],
        env={"ATOM_HUBSPOT_ENCRYPTION_KEYS": ""},
    )
    assert result.exit_code == 2 and "ATOM_HUBSPOT_ENCRYPTION_KEYS" in result.output


def test_schema_sql_cli_matches_file():
    from pathlib import Path

    result = CliRunner().invoke(hubspot, ["schema-sql"])
    root = Path(__file__).resolve().parents[2]
    assert result.output == (root / "migrations" / "hubspot_schema.sql").read_text()


async def test_connections_cli_lists_without_tokens(url):
    migrate(url)
    db = Database(url)
    spec = new_key_spec("k1")
    try:
        await _seed(db, spec)
    finally:
        await db.dispose()
    result = await _invoke(["connections", "--database-url", url], env={})
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == N + 1 and lines[1].startswith("t1\tu0\t1000\toauth\tconnected")
    assert "-x9" not in result.output and "v1." not in result.output
