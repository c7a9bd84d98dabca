"""Reads and writes of connections, tokens and OAuth states, inside a caller's transaction.

Tokens enter and leave this module only through `seal_tokens` / `open_tokens`: what is written
is ciphertext bound (AAD) to tenant, connection, portal and column.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from atom_hubspot.storage.crypto import TokenCipher, token_aad
from atom_hubspot.storage.db import Database, rows_changed
from atom_hubspot.storage.models import (
    Connection,
    OAuthState,
    PortalDetails,
    ScheduledSend,
    SyncCursor,
    Token,
    utcnow,
)


@dataclass(frozen=True)
class PlainTokens:
    """Decrypted tokens; never logged (repr hides them)."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime | None

    def __repr__(self) -> str:
        return f"PlainTokens(expires_at={self.expires_at!r}, access=***, refresh=***)"


def state_hash(state: str) -> str:
    """Only this hash of an OAuth state is stored (a database reader cannot replay it)."""
    return hashlib.sha256(state.encode()).hexdigest()


@functools.cache
def _find_with_expiry(by_portal: bool) -> sa.Select[Any]:
    q = sa.select(*Connection.__table__.c, Token.expires_at.label("access_expires_at"))
    q = q.outerjoin(Token, Token.connection_id == Connection.id)
    q = q.where(
        Connection.tenant_id == sa.bindparam("tenant_id"),
        Connection.user_id == sa.bindparam("user_id"),
    )
    if by_portal:
        q = q.where(Connection.portal_id == sa.bindparam("portal_id"))
    # The host's environment first: the default is chosen among its connections, and a row of
    # the other environment comes back only when there is none, so the caller can say so.
    elsewhere = sa.case((Connection.environment == sa.bindparam("environment"), 0), else_=1)
    return q.order_by(elsewhere, Connection.is_default.desc(), Connection.created_at).limit(1)


class ConnectionRepository:
    """Connection, token and detail rows; every method runs in the given session."""

    def __init__(self, cipher: TokenCipher):
        self.cipher = cipher

    # ---------------------------------------------------------------- tokens

    def _aad(self, tok: Token, column: str) -> bytes:
        return token_aad(tok.tenant_id, tok.connection_id, tok.portal_id, column)

    def seal_tokens(
        self, tok: Token, access: str, refresh: str | None, expires_at: datetime | None
    ) -> None:
        tok.access_token = self.cipher.encrypt(access, self._aad(tok, "access_token"))
        tok.refresh_token = (
            self.cipher.encrypt(refresh, self._aad(tok, "refresh_token")) if refresh else None
        )
        tok.key_id = self.cipher.primary_key_id
        tok.expires_at = expires_at

    def open_tokens(self, tok: Token) -> PlainTokens:
        """Decrypt; raises DecryptionFailed (nothing is changed)."""
        access = self.cipher.decrypt(tok.access_token, self._aad(tok, "access_token"))
        refresh = (
            self.cipher.decrypt(tok.refresh_token, self._aad(tok, "refresh_token"))
            if tok.refresh_token
            else None
        )
        return PlainTokens(access, refresh, tok.expires_at)

    def reencrypt_token_row(self, tok: Token) -> bool:
        """Put the row under the primary key; False when it already was."""
        if tok.key_id == self.cipher.primary_key_id and all(
            TokenCipher.key_id_of(v) == self.cipher.primary_key_id
            for v in (tok.access_token, tok.refresh_token)
            if v
        ):
            return False
        new_access = self.cipher.reencrypt(tok.access_token, self._aad(tok, "access_token"))
        new_refresh = (
            self.cipher.reencrypt(tok.refresh_token, self._aad(tok, "refresh_token"))
            if tok.refresh_token
            else None
        )
        # Both decrypted fine: only now is anything overwritten.
        tok.access_token, tok.refresh_token = new_access, new_refresh
        tok.key_id = self.cipher.primary_key_id
        return True

    def seal_verifier(self, st: OAuthState, verifier: str) -> None:
        st.code_verifier = self.cipher.encrypt(
            verifier, token_aad(st.tenant_id, st.id, 0, "code_verifier")
        )
        st.key_id = self.cipher.primary_key_id

    def open_verifier(self, st: OAuthState) -> str | None:
        if not st.code_verifier:
            return None
        return self.cipher.decrypt(
            st.code_verifier, token_aad(st.tenant_id, st.id, 0, "code_verifier")
        )

    def reencrypt_state_row(self, st: OAuthState) -> bool:
        if not st.code_verifier or st.key_id == self.cipher.primary_key_id:
            return False
        st.code_verifier = self.cipher.reencrypt(
            st.code_verifier, token_aad(st.tenant_id, st.id, 0, "code_verifier")
        )
        st.key_id = self.cipher.primary_key_id
        return True

    # ---------------------------------------------------------------- connections

    @staticmethod
    async def list_for(
        s: AsyncSession, tenant_id: str, user_id: str, environment: str | None = None
    ) -> list[Connection]:
        """The principal's connections (made in `environment` only, when given)."""
        q = sa.select(Connection).where(
            Connection.tenant_id == tenant_id, Connection.user_id == user_id
        )
        if environment is not None:
            q = q.where(Connection.environment == environment)
        rows = await s.scalars(
            q.order_by(Connection.is_default.desc(), Connection.created_at, Connection.portal_id)
        )
        return list(rows)

    @staticmethod
    async def find(
        s: AsyncSession,
        tenant_id: str,
        user_id: str,
        portal_id: int | None,
        environment: str | None = None,
    ) -> Connection | None:
        """The connection for `portal_id` (whatever its environment: the caller checks), or the
        default (else the oldest) when None — among `environment`'s connections when given."""
        q = sa.select(Connection).where(
            Connection.tenant_id == tenant_id, Connection.user_id == user_id
        )
        if portal_id is not None:
            q = q.where(Connection.portal_id == portal_id)
        elif environment is not None:
            q = q.where(Connection.environment == environment)
        q = q.order_by(Connection.is_default.desc(), Connection.created_at).limit(1)
        return (await s.scalars(q)).first()

    @staticmethod
    def find_with_expiry(
        tenant_id: str, user_id: str, portal_id: int | None, environment: str = "production"
    ) -> tuple[sa.Select[Any], dict[str, Any]]:
        """`find` as one Core query and its parameters, for `Database.first`: the connection's
        columns plus its access token's expiry (the token row joined on its primary key).
        Ciphertext is never selected: the decrypted token lives in the TokenStore's cache.
        The statement is built once per shape; only the parameters change per request.
        Connections made in `environment` come first; the row's `environment` tells the caller
        whether the one found may be used."""
        params: dict[str, Any] = {
            "tenant_id": tenant_id,
            "user_id": user_id,
            "environment": environment,
        }
        if portal_id is not None:
            params["portal_id"] = portal_id
        return _find_with_expiry(portal_id is not None), params

    @staticmethod
    async def get(s: AsyncSession, connection_id: str) -> Connection | None:
        return await s.get(Connection, connection_id)

    @staticmethod
    async def token_for_update(s: AsyncSession, connection_id: str, dialect: str) -> Token | None:
        """The token row, locked against other processes until the transaction ends
        (PostgreSQL: SELECT … FOR UPDATE; SQLite: the session already holds BEGIN IMMEDIATE)."""
        q = sa.select(Token).where(Token.connection_id == connection_id)
        if dialect == "postgresql":
            q = q.with_for_update()
        q = q.execution_options(populate_existing=True)
        return (await s.scalars(q)).first()

    async def upsert_connection(
        self,
        s: AsyncSession,
        *,
        tenant_id: str,
        user_id: str,
        portal_id: int,
        auth_kind: str,
        scopes: list[str],
        hub_domain: str | None,
        access_token: str,
        refresh_token: str | None,
        expires_at: datetime | None,
        details: dict[str, Any],
        environment: str = "production",
    ) -> Connection:
        """Create or replace the principal's connection to `portal_id` with fresh tokens, made
        in `environment` (a connection made in the other one becomes this environment's: the
        default is per environment)."""
        conn = await self.find(s, tenant_id, user_id, portal_id)
        others = [
            c
            for c in await self.list_for(s, tenant_id, user_id, environment)
            if conn is None or c.id != conn.id
        ]
        if conn is None:
            conn = Connection(
                tenant_id=tenant_id,
                user_id=user_id,
                portal_id=portal_id,
                auth_kind=auth_kind,
                environment=environment,
                is_default=not any(c.is_default for c in others),
            )
            s.add(conn)
            await s.flush()
        elif conn.environment != environment:
            conn.environment = environment
            conn.is_default = not any(c.is_default for c in others)
        conn.auth_kind = auth_kind
        conn.scopes = sorted(set(scopes))
        conn.hub_domain = hub_domain
        conn.status = "connected"
        conn.problem = None
        conn.updated_at = utcnow()
        tok = await s.get(Token, conn.id)
        if tok is None:
            tok = Token(connection_id=conn.id, tenant_id=tenant_id, portal_id=portal_id)
            s.add(tok)
        self.seal_tokens(tok, access_token, refresh_token, expires_at)
        tok.refreshed_at = utcnow()
        tok.failure_count = 0
        tok.last_failure_at = None
        tok.last_failure_code = None
        det = await s.get(PortalDetails, conn.id)
        if det is None:
            det = PortalDetails(connection_id=conn.id, tenant_id=tenant_id, portal_id=portal_id)
            s.add(det)
        for key in (
            "hub_domain",
            "hubspot_user",
            "hubspot_user_id",
            "app_id",
            "account_type",
            "time_zone",
            "company_currency",
            "ui_domain",
            "data_hosting_location",
        ):
            setattr(det, key, details.get(key))
        det.raw = {k: v for k, v in details.items() if isinstance(v, str | int | float | bool)}
        await s.flush()
        return conn

    @staticmethod
    async def delete_connection(s: AsyncSession, conn: Connection) -> None:
        """Delete a connection with its tokens, details and cursors; promote a new default."""
        for model in (Token, PortalDetails, SyncCursor):
            await s.execute(sa.delete(model).where(model.connection_id == conn.id))
        await s.execute(
            sa.update(ScheduledSend)
            .where(ScheduledSend.connection_id == conn.id, ScheduledSend.status == "pending")
            .values(status="cancelled", error="HubSpot was disconnected", updated_at=utcnow())
        )
        was_default = conn.is_default
        await s.delete(conn)
        await s.flush()
        if was_default:
            nxt = await ConnectionRepository.find(
                s, conn.tenant_id, conn.user_id, None, conn.environment
            )
            if nxt is not None:
                nxt.is_default = True

    @staticmethod
    async def set_default(s: AsyncSession, conn: Connection) -> None:
        await s.execute(
            sa.update(Connection)
            .where(
                Connection.tenant_id == conn.tenant_id,
                Connection.user_id == conn.user_id,
                Connection.environment == conn.environment,
                Connection.id != conn.id,
            )
            .values(is_default=False)
        )
        conn.is_default = True

    # ---------------------------------------------------------------- OAuth states

    @staticmethod
    async def state_by_hash(s: AsyncSession, hashed: str) -> OAuthState | None:
        return (
            await s.scalars(sa.select(OAuthState).where(OAuthState.state_hash == hashed))
        ).first()

    @staticmethod
    async def consume_state(s: AsyncSession, st: OAuthState, now: datetime) -> bool:
        """Mark the state used; False when another request consumed it first."""
        res = await s.execute(
            sa.update(OAuthState)
            .where(OAuthState.id == st.id, OAuthState.consumed_at.is_(None))
            .values(consumed_at=now)
        )
        return rows_changed(res) == 1

    @staticmethod
    async def purge_states(s: AsyncSession, before: datetime) -> int:
        res = await s.execute(sa.delete(OAuthState).where(OAuthState.expires_at < before))
        return rows_changed(res)


MAX_OVERVIEW_CONNECTIONS = 200


@dataclass(frozen=True)
class ConnectionOverview:
    """Connections by tenant and status, and the most recently updated connected one."""

    counts: dict[str, dict[str, int]]  # tenant -> status -> how many
    sample: Connection | None
    # (tenant, portal id, hub domain, status) of every connection, newest first per portal.
    portals: list[tuple[str, int, str | None, str]] = field(default_factory=list)
    # The environment each of `portals` was made in, in the same order.
    environments: list[str] = field(default_factory=list)


async def connection_overview(db: Database, environment: str | None = None) -> ConnectionOverview:
    """What the plugin's health check reads: spans tenants on purpose (an operator's view); a
    pure read, so it takes no SQLite write lock. With `environment`, the counts and the sample
    are that environment's connections (the ones in use); `portals` lists every one."""
    in_use = Connection.environment == environment if environment is not None else sa.true()
    async with db.session(read_only=True) as s:
        rows = (
            await s.execute(
                sa.select(Connection.tenant_id, Connection.status, sa.func.count())
                .where(in_use)
                .group_by(Connection.tenant_id, Connection.status)
            )
        ).all()
        sample = (
            await s.execute(
                sa.select(Connection)
                .where(Connection.status == "connected", in_use)
                .order_by(Connection.updated_at.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        portals = (
            await s.execute(
                sa.select(
                    Connection.tenant_id,
                    Connection.portal_id,
                    Connection.hub_domain,
                    Connection.status,
                    Connection.environment,
                )
                .order_by(Connection.portal_id, Connection.updated_at.desc())
                .limit(MAX_OVERVIEW_CONNECTIONS)
            )
        ).all()
    counts: dict[str, dict[str, int]] = {}
    for tenant, st, n in rows:
        counts.setdefault(str(tenant), {})[str(st)] = int(n)
    return ConnectionOverview(
        counts,
        sample,
        [(str(t), int(p), d, str(st)) for t, p, d, st, _e in portals],
        [str(e) for *_rest, e in portals],
    )
