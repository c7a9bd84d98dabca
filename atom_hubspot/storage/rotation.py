"""Key rotation: re-encrypt every stored token under the first key of the ring.

Batches, each its own transaction with the rows locked, keyset-ordered by id. A value is only
overwritten after it decrypted, and a run that stops (crash, Ctrl-C) leaves every row either
old-key or new-key, both readable with the ring: running again finishes the job.
Rows no key can decrypt are reported, marked and left untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from atom_hubspot.errors import DecryptionFailed
from atom_hubspot.storage.db import Database
from atom_hubspot.storage.models import Connection, OAuthState, Token
from atom_hubspot.storage.repository import ConnectionRepository

log = logging.getLogger("atom_hubspot.storage")


@dataclass
class RotationReport:
    rotated: int = 0
    already_current: int = 0
    failed: list[str] = field(default_factory=list)  # connection / state ids that did not decrypt

    @property
    def ok(self) -> bool:
        return not self.failed


async def pending_rotation(db: Database, primary_key_id: str) -> int:
    """How many token rows (and PKCE verifiers) are not yet under `primary_key_id`."""
    async with db.session(None, read_only=True) as s:
        tokens = await s.scalar(
            sa.select(sa.func.count()).select_from(Token).where(Token.key_id != primary_key_id)
        )
        states = await s.scalar(
            sa.select(sa.func.count())
            .select_from(OAuthState)
            .where(OAuthState.code_verifier.is_not(None), OAuthState.key_id != primary_key_id)
        )
    return int(tokens or 0) + int(states or 0)


async def rotate_keys(
    db: Database,
    repo: ConnectionRepository,
    *,
    batch_size: int = 100,
    progress: Callable[[int], None] | None = None,
) -> RotationReport:
    report = RotationReport()
    primary = repo.cipher.primary_key_id
    after = ""
    while True:
        async with db.session(None, write_lock=True) as s:
            q = (
                sa.select(Token)
                .where(Token.key_id != primary, Token.connection_id > after)
                .order_by(Token.connection_id)
                .limit(batch_size)
            )
            if db.dialect == "postgresql":
                q = q.with_for_update()
            rows = list(await s.scalars(q))
            if not rows:
                break
            readable: list[str] = []
            for tok in rows:
                try:
                    changed = repo.reencrypt_token_row(tok)
                except DecryptionFailed:
                    report.failed.append(tok.connection_id)
                    conn = await s.get(Connection, tok.connection_id)
                    if conn is not None:
                        conn.problem = "token_undecryptable"
                    log.error(
                        "token of connection %s does not decrypt; left as it is", tok.connection_id
                    )
                else:
                    report.rotated += int(changed)
                    report.already_current += int(not changed)
                    readable.append(tok.connection_id)
                after = tok.connection_id
            if readable:
                # Marked by an earlier run with a wrong key ring: readable now, so usable again.
                await s.execute(
                    sa.update(Connection)
                    .where(
                        Connection.id.in_(readable),
                        Connection.problem == "token_undecryptable",
                    )
                    .values(problem=None)
                )
        if progress:
            progress(len(rows))
    after = ""
    while True:
        async with db.session(None, write_lock=True) as s:
            states = list(
                await s.scalars(
                    sa.select(OAuthState)
                    .where(
                        OAuthState.code_verifier.is_not(None),
                        OAuthState.key_id != primary,
                        OAuthState.id > after,
                    )
                    .order_by(OAuthState.id)
                    .limit(batch_size)
                )
            )
            if not states:
                break
            for st in states:
                try:
                    report.rotated += int(repo.reencrypt_state_row(st))
                except DecryptionFailed:
                    report.failed.append(st.id)
                after = st.id
        if progress:
            progress(len(states))
    return report
