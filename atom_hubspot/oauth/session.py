"""Token sessions: a valid access token for a connection, refreshed ahead of expiry, once.

Single flight at two levels (Home Assistant's OAuth2Session shape):
- in one process, an asyncio lock per connection: N concurrent callers cause one refresh;
- across processes, the token row is locked for the refresh (PostgreSQL `SELECT … FOR UPDATE`,
  SQLite `BEGIN IMMEDIATE`), and it is re-read after the lock is taken, so a process that waited
  uses the token the other one stored instead of spending the refresh token again.

Token errors collapse into two outcomes: `ReconnectRequired` (the refresh token is dead; the
connection is marked and HubSpot is not asked again until the user reconnects) or
`Unavailable` (try later; counted, with a growing pause so callers cannot cause a retry storm).
Decrypted tokens stay in memory no longer than they are valid.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from atom_hubspot.errors import (
    DecryptionFailed,
    HubSpotError,
    NotConnected,
    ReconnectRequired,
    Unavailable,
)
from atom_hubspot.storage.db import Database
from atom_hubspot.storage.models import Connection, utcnow
from atom_hubspot.storage.repository import ConnectionRepository

log = logging.getLogger("atom_hubspot.oauth")

# A private-app token never expires; re-read it now and then so a disconnect elsewhere shows.
STATIC_TOKEN_CACHE_S = 300.0
# A refresh holds the token row's lock; keep it well under SQLite's busy timeout (30 s).
REFRESH_TIMEOUT_S = 20.0
# Pause after a failed refresh: 2**failures seconds, capped.
MAX_FAILURE_PAUSE_S = 300.0


class TokenEndpoint(Protocol):
    """What the session needs of the client's OAuthAPI."""

    async def refresh(self, refresh_token: str) -> Any: ...


@dataclass
class _Cached:
    token: str
    valid_until: datetime  # when this copy must be dropped (expiry minus margin, or a cap)


class TokenStore:
    """Per-process home of the token cache and the per-connection locks."""

    def __init__(
        self,
        db: Database,
        repo: ConnectionRepository,
        oauth_api: TokenEndpoint,
        *,
        margin_s: float = 300.0,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.db = db
        self.repo = repo
        self.oauth_api = oauth_api
        self.margin = timedelta(seconds=margin_s)
        self.clock = clock
        self._cache: dict[str, _Cached] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.refresh_count = 0  # refreshes this process asked HubSpot for (diagnostics, tests)

    def session(self, connection_id: str, tenant_id: str) -> TokenSession:
        return TokenSession(self, connection_id, tenant_id)

    def forget(self, connection_id: str) -> None:
        self._cache.pop(connection_id, None)

    def _lock(self, connection_id: str) -> asyncio.Lock:
        lock = self._locks.get(connection_id)
        if lock is None:
            lock = self._locks[connection_id] = asyncio.Lock()
        return lock

    def _cached(self, connection_id: str) -> str | None:
        entry = self._cache.get(connection_id)
        if entry is None:
            return None
        if entry.valid_until <= self.clock():
            self._cache.pop(connection_id, None)
            return None
        return entry.token

    def _remember(self, connection_id: str, token: str, expires_at: datetime | None) -> None:
        now = self.clock()
        until = (
            now + timedelta(seconds=STATIC_TOKEN_CACHE_S)
            if expires_at is None
            else expires_at - self.margin
        )
        if until > now:
            self._cache[connection_id] = _Cached(token, until)
        else:
            self._cache.pop(connection_id, None)

    def _fresh(self, expires_at: datetime | None) -> bool:
        return expires_at is None or expires_at - self.margin > self.clock()

    async def access_token(self, connection_id: str, tenant_id: str, *, force: bool = False) -> str:
        if not force and (tok := self._cached(connection_id)) is not None:
            return tok
        seen = self._cache.get(connection_id)
        async with self._lock(connection_id):
            current = self._cache.get(connection_id)
            if force and current is not None and current is not seen:
                return current.token  # another caller refreshed while we waited
            if not force and (tok := self._cached(connection_id)) is not None:
                return tok
            return await self._refresh_locked(connection_id, tenant_id, force=force)

    async def _refresh_locked(self, connection_id: str, tenant_id: str, *, force: bool) -> str:
        error: HubSpotError | None = None
        result: str | None = None
        async with self.db.session(tenant_id, write_lock=True) as s:
            # Locked (other processes wait here) and re-read: what is stored now is the truth.
            tok = await self.repo.token_for_update(s, connection_id, self.db.dialect)
            conn = await s.get(Connection, connection_id, populate_existing=True)
            if tok is None or conn is None:
                self.forget(connection_id)
                raise NotConnected(
                    "This HubSpot connection no longer exists; connect HubSpot again."
                )
            if conn.status != "connected":
                self.forget(connection_id)
                raise ReconnectRequired(
                    f"The HubSpot connection to portal {conn.portal_id} needs the user to "
                    "reconnect HubSpot.",
                    portal_id=conn.portal_id,
                )
            try:
                plain = self.repo.open_tokens(tok)
            except DecryptionFailed as exc:
                conn.problem = "token_undecryptable"
                error = exc
                log.error(
                    "stored token of connection %s does not decrypt (%s); nothing overwritten",
                    connection_id,
                    exc.details.get("key_id"),
                )
            else:
                if conn.problem == "token_undecryptable":
                    conn.problem = None
                now = self.clock()
                if plain.refresh_token is None or (not force and self._fresh(plain.expires_at)):
                    # Another process refreshed while we waited, or a static token.
                    self._remember(connection_id, plain.access_token, plain.expires_at)
                    result = plain.access_token
                elif (
                    not force
                    and self._pausing(tok, now)
                    and (plain.expires_at is None or plain.expires_at > now)
                ):
                    result = plain.access_token  # still valid; the refresh waits out its pause
                elif not force and self._pausing(tok, now):
                    error = Unavailable(
                        "HubSpot could not refresh the access token recently; try again shortly.",
                        retry_after_s=self._pause_s(tok.failure_count),
                    )
                else:
                    result, error = await self._refresh(conn, tok, plain)
        if error is not None:
            raise error
        assert result is not None
        return result

    def _pause_s(self, failures: int) -> float:
        return min(MAX_FAILURE_PAUSE_S, float(2 ** min(failures, 16)))

    def _pausing(self, tok: Any, now: datetime) -> bool:
        return bool(
            tok.failure_count
            and tok.last_failure_at is not None
            and tok.last_failure_code != "invalid_grant"
            and now < tok.last_failure_at + timedelta(seconds=self._pause_s(tok.failure_count))
        )

    async def _refresh(
        self, conn: Connection, tok: Any, plain: Any
    ) -> tuple[str | None, HubSpotError | None]:
        now = self.clock()
        self.refresh_count += 1
        try:
            # Bounded, because the token row (SQLite: the database's write lock) is held
            # meanwhile and other writers only wait SQLITE_BUSY_TIMEOUT_S.
            async with asyncio.timeout(REFRESH_TIMEOUT_S):
                resp = await self.oauth_api.refresh(plain.refresh_token)
        except TimeoutError:
            tok.failure_count += 1
            tok.last_failure_at = now
            tok.last_failure_code = "refresh_timeout"
            log.warning("token refresh for connection %s timed out; will retry later", conn.id)
            if plain.expires_at is not None and plain.expires_at > now:
                return plain.access_token, None
            return None, Unavailable(
                "HubSpot did not answer the token refresh in time; try again shortly.",
                retry_after_s=self._pause_s(tok.failure_count),
            )
        except ReconnectRequired as exc:
            conn.status = "reauth_required"
            tok.failure_count += 1
            tok.last_failure_at = now
            tok.last_failure_code = "invalid_grant"
            self.forget(conn.id)
            log.warning(
                "HubSpot refused the refresh token of connection %s (portal %s): reconnect needed",
                conn.id,
                conn.portal_id,
            )
            return None, ReconnectRequired(
                f"HubSpot no longer accepts this connection to portal {conn.portal_id}: "
                "reconnect HubSpot.",
                correlation_id=exc.correlation_id,
                portal_id=conn.portal_id,
            )
        except HubSpotError as exc:
            tok.failure_count += 1
            tok.last_failure_at = now
            tok.last_failure_code = exc.code
            log.warning(
                "token refresh for connection %s failed (%s, failure %d); will retry later",
                conn.id,
                exc.code,
                tok.failure_count,
            )
            if plain.expires_at is not None and plain.expires_at > now:
                return plain.access_token, None
            return None, Unavailable(
                "HubSpot could not refresh the access token; try again shortly.",
                correlation_id=exc.correlation_id,
                retry_after_s=self._pause_s(tok.failure_count),
            )
        access = resp.access_token.get_secret_value()
        # HubSpot does not document refresh-token rotation: keep whichever one it returns.
        refresh = (
            resp.refresh_token.get_secret_value() if resp.refresh_token else plain.refresh_token
        )
        expires_at = now + timedelta(seconds=int(resp.expires_in))
        self.repo.seal_tokens(tok, access, refresh, expires_at)
        tok.refreshed_at = now
        tok.failure_count = 0
        tok.last_failure_at = None
        tok.last_failure_code = None
        tok.updated_at = now
        self._remember(conn.id, access, expires_at)
        log.info("refreshed the access token of connection %s (portal %s)", conn.id, conn.portal_id)
        return access, None


class TokenSession:
    """The client's TokenProvider for one connection."""

    def __init__(self, store: TokenStore, connection_id: str, tenant_id: str):
        self.store = store
        self.connection_id = connection_id
        self.tenant_id = tenant_id

    async def access_token(self) -> str:
        return await self.store.access_token(self.connection_id, self.tenant_id)

    async def refresh(self) -> str:
        """Refresh now, whatever the expiry (manual refresh)."""
        return await self.store.access_token(self.connection_id, self.tenant_id, force=True)

    def __repr__(self) -> str:
        return f"TokenSession(connection_id={self.connection_id!r})"
