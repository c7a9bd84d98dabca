"""Connection management: which HubSpot portals a principal has connected, and their clients.

A principal (tenant + user) may connect several portals; one is the default, and every route
accepts `portal_id` to choose another. Nothing here ever returns a token.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from atom_host_stub.contract import Principal
from atom_hubspot.errors import (
    EnvironmentMismatch,
    HubSpotError,
    InputError,
    NotConnected,
    ReconnectRequired,
)
from atom_hubspot.oauth.session import TokenSession, TokenStore
from atom_hubspot.settings import HubSpotSettings
from atom_hubspot.storage.crypto import TokenCipher
from atom_hubspot.storage.db import Database
from atom_hubspot.storage.models import Connection, Token, utcnow
from atom_hubspot.storage.repository import ConnectionRepository

if TYPE_CHECKING:
    from atom_hubspot.client import HubSpotClient, HubSpotHTTP
    from atom_hubspot.client.models import AccountDetails

log = logging.getLogger("atom_hubspot.oauth")


class ConnectionInfo(BaseModel):
    """A connection as callers see it: never a token."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant_id: str
    user_id: str
    portal_id: int = Field(examples=[1234567])
    hub_domain: str | None = Field(default=None, examples=["example.hubspot.com"])
    auth_kind: Literal["oauth", "private_app"]
    scopes: list[str] = Field(default_factory=list)
    status: Literal["connected", "reauth_required", "revoked"]
    environment: Literal["production", "qa"] = Field(
        default="production",
        description="The HubSpot environment (HUBSPOT_ENVIRONMENT) it was made in; it is used "
        "only while the host runs in it",
    )
    is_default: bool
    access_expires_at: datetime | None = None
    problem: str | None = Field(
        default=None, description="Why the connection cannot be used now, e.g. token_undecryptable"
    )
    created_at: datetime
    updated_at: datetime


class OAuthEndpoint(Protocol):
    """The client's OAuthAPI (token endpoint calls)."""

    async def exchange_code(
        self, code: str, redirect_uri: str, code_verifier: str | None = None
    ) -> Any: ...
    async def refresh(self, refresh_token: str) -> Any: ...
    async def introspect(self, token: str, token_type_hint: str = "access_token") -> Any: ...  # noqa: S107
    async def revoke(self, token: str, token_type_hint: str = "refresh_token") -> None: ...  # noqa: S107


class TokenProviderLike(Protocol):
    async def access_token(self) -> str: ...


ClientFactory = Callable[[TokenProviderLike, "int | None"], "HubSpotClient"]


class _Static:
    """A fixed bearer token (checking a private-app token, details after a code exchange)."""

    def __init__(self, token: str):
        self._token = token

    async def access_token(self) -> str:
        return self._token

    def __repr__(self) -> str:
        return "StaticToken(***)"


def _info(conn: Connection, tok: Token | None) -> ConnectionInfo:
    return ConnectionInfo(
        id=conn.id,
        tenant_id=conn.tenant_id,
        user_id=conn.user_id,
        portal_id=conn.portal_id,
        hub_domain=conn.hub_domain,
        auth_kind=conn.auth_kind,  # type: ignore[arg-type]  # str column; pydantic checks it
        scopes=list(conn.scopes or []),
        status=conn.status,  # type: ignore[arg-type]  # str column; pydantic checks it
        environment=conn.environment,  # type: ignore[arg-type]  # str column; pydantic checks it
        is_default=conn.is_default,
        access_expires_at=tok.expires_at if tok else None,
        problem=conn.problem,
        created_at=conn.created_at,
        updated_at=conn.updated_at,
    )


def _info_of_row(row: Any) -> ConnectionInfo:
    """`_info` from a `ConnectionRepository.find_with_expiry` row."""
    return ConnectionInfo(
        id=row["id"],
        tenant_id=row["tenant_id"],
        user_id=row["user_id"],
        portal_id=row["portal_id"],
        hub_domain=row["hub_domain"],
        auth_kind=row["auth_kind"],
        scopes=list(row["scopes"] or []),
        status=row["status"],
        environment=row["environment"],
        is_default=row["is_default"],
        access_expires_at=row["access_expires_at"],
        problem=row["problem"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class ConnectionManager:
    """Lists, resolves, refreshes and removes a principal's HubSpot connections."""

    def __init__(
        self,
        settings: HubSpotSettings,
        db: Database,
        http: HubSpotHTTP | None = None,
        *,
        oauth_api: OAuthEndpoint | None = None,
        client_factory: ClientFactory | None = None,
        cipher: TokenCipher | None = None,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.settings = settings
        # Connections made under the other environment belong to another HubSpot app: they are
        # not listed, refreshed or called here.
        self.environment: str = settings.environment.value
        self.db = db
        self.http = http
        self.cipher = cipher or TokenCipher.from_settings(settings)
        self.repo = ConnectionRepository(self.cipher)
        self.clock = clock
        if oauth_api is None:
            if http is None:
                raise ValueError("ConnectionManager needs `http` or an `oauth_api`")
            from atom_hubspot.client import OAuthAPI

            oauth_api = OAuthAPI(http, settings.app.client_id, settings.app.secret)
        self.oauth_api: OAuthEndpoint = oauth_api
        self._client_factory = client_factory
        self.tokens = TokenStore(
            db, self.repo, oauth_api, margin_s=settings.token_refresh_margin_s, clock=clock
        )

    # ---------------------------------------------------------------- clients

    def make_client(self, token: TokenProviderLike, portal_id: int | None) -> HubSpotClient:
        if self._client_factory is not None:
            return self._client_factory(token, portal_id)
        if self.http is None:
            raise ValueError("ConnectionManager needs `http` or a `client_factory`")
        from atom_hubspot.client import HubSpotClient

        return HubSpotClient(self.http, token, portal_id=portal_id)

    def static_token(self, token: str) -> TokenProviderLike:
        try:
            from atom_hubspot.client import StaticToken

            return StaticToken(token)
        except ImportError:
            return _Static(token)

    # ---------------------------------------------------------------- queries

    async def list(self, principal: Principal) -> list[ConnectionInfo]:
        """The principal's connections made in the environment the host runs in."""
        async with self.db.session(principal.tenant_id, read_only=True) as s:
            conns = await self.repo.list_for(
                s, principal.tenant_id, principal.user_id, self.environment
            )
            return [_info(c, await s.get(Token, c.id)) for c in conns]

    def _refuse_elsewhere(self, made_in: str, portal_id: int) -> None:
        """EnvironmentMismatch when a connection made in `made_in` is addressed here."""
        if made_in == self.environment:
            return
        raise EnvironmentMismatch(
            f"The HubSpot connection to portal {portal_id} was made in the {made_in} "
            f"environment, and this host runs in {self.environment} "
            f"(HUBSPOT_ENVIRONMENT): it is not used here. Connect HubSpot again in "
            f"{self.environment} (POST /auth/hubspot), or use a host that runs in {made_in}.",
            connection_environment=made_in,
            host_environment=self.environment,
            portal_id=portal_id,
        )

    async def resolve(self, principal: Principal, portal_id: int | None = None) -> ConnectionInfo:
        """The connection to use (the default when `portal_id` is None), usable or an error.

        Runs on every request, so it is one indexed statement (connection and token expiry
        joined; SQLite: no BEGIN/COMMIT) and nothing is cached: a disconnect, a reconnect
        demand or a new default, made by this process or another, shows on the next request.
        """
        stmt, params = self.repo.find_with_expiry(
            principal.tenant_id, principal.user_id, portal_id, self.environment
        )
        row = await self.db.first(stmt, params, principal.tenant_id)
        info = _info_of_row(row._mapping) if row is not None else None
        if info is None:
            where = f" to portal {portal_id}" if portal_id is not None else ""
            raise NotConnected(
                f"No HubSpot connection{where} for this user: connect HubSpot first "
                "(POST /auth/hubspot).",
                portal_id=portal_id,
            )
        self._refuse_elsewhere(info.environment, info.portal_id)
        if info.status != "connected":
            raise ReconnectRequired(
                f"The HubSpot connection to portal {info.portal_id} needs the user to reconnect "
                "HubSpot (POST /auth/hubspot).",
                portal_id=info.portal_id,
            )
        return info

    def token_session(self, info: ConnectionInfo) -> TokenSession:
        return self.tokens.session(info.id, info.tenant_id)

    async def client_for(
        self, principal: Principal, portal_id: int | None = None
    ) -> tuple[HubSpotClient, ConnectionInfo]:
        info = await self.resolve(principal, portal_id)
        return self.make_client(self.token_session(info), info.portal_id), info

    # ---------------------------------------------------------------- changes

    async def refresh(self, principal: Principal, portal_id: int | None = None) -> ConnectionInfo:
        """Refresh the access token now (manual refresh); private-app tokens have none."""
        info = await self.resolve(principal, portal_id)
        if info.auth_kind == "oauth":
            await self.token_session(info).refresh()
        return await self.resolve(principal, info.portal_id)

    async def set_default(self, principal: Principal, portal_id: int) -> ConnectionInfo:
        async with self.db.session(principal.tenant_id) as s:
            conn = await self.repo.find(s, principal.tenant_id, principal.user_id, portal_id)
            if conn is None:
                raise NotConnected(f"No HubSpot connection to portal {portal_id} for this user.")
            self._refuse_elsewhere(conn.environment, conn.portal_id)
            await self.repo.set_default(s, conn)
            await s.flush()
            return _info(conn, await s.get(Token, conn.id))

    async def disconnect(
        self, principal: Principal, portal_id: int | None = None
    ) -> dict[str, Any]:
        """Revoke at HubSpot (best effort), then delete the local tokens and details."""
        async with self.db.session(principal.tenant_id) as s:
            conn = await self.repo.find(
                s, principal.tenant_id, principal.user_id, portal_id, self.environment
            )
            if conn is None and portal_id is None:
                # None here: one made elsewhere, if any, is named by the 409 below.
                conn = await self.repo.find(s, principal.tenant_id, principal.user_id, None)
            if conn is None:
                raise NotConnected("No HubSpot connection to disconnect.", portal_id=portal_id)
            # Revoking would call HubSpot with this environment's app for the other's token.
            self._refuse_elsewhere(conn.environment, conn.portal_id)
            tok = await s.get(Token, conn.id)
            conn_id, portal, kind = conn.id, conn.portal_id, conn.auth_kind
            refresh: str | None = None
            undecryptable = False
            if tok is not None and kind == "oauth":
                try:
                    refresh = self.repo.open_tokens(tok).refresh_token
                except HubSpotError:
                    undecryptable = True
        revocation: str
        message: str
        if kind == "private_app":
            revocation = "not_applicable"
            message = (
                "Private-app tokens are revoked in HubSpot's settings; the local copy is deleted."
            )
        elif undecryptable or refresh is None:
            revocation = "skipped"
            message = "The stored token could not be read, so it was not revoked at HubSpot."
        else:
            try:
                await self.oauth_api.revoke(refresh, "refresh_token")
                revocation = "revoked"
                message = "Revoked at HubSpot; issued access tokens stay valid until they expire."
            except HubSpotError as exc:
                revocation = "failed"
                message = (
                    f"HubSpot did not confirm the revocation ({exc.code}); the local tokens were "
                    "deleted anyway. The app can also be uninstalled in HubSpot."
                )
                log.warning("revocation for connection %s failed: %s", conn_id, exc.code)
        async with self.db.session(principal.tenant_id) as s:
            conn2 = await self.repo.get(s, conn_id)
            if conn2 is not None:
                await self.repo.delete_connection(s, conn2)
        self.tokens.forget(conn_id)
        await self._purge_mirror_if_orphaned(portal)
        log.info(
            "disconnected connection %s (portal %s): revocation %s", conn_id, portal, revocation
        )
        return {
            "portal_id": portal,
            "revocation": revocation,
            "revoked": revocation == "revoked",
            "local_deleted": True,
            "message": message,
        }

    async def _purge_mirror_if_orphaned(self, portal_id: int) -> None:
        """The last connection to a portal is gone: so is the portal's mirror (nobody may read
        it any more, and nothing would keep it current)."""
        import sqlalchemy as sa

        from atom_hubspot.storage.mirror import MirrorStore

        async with self.db.session(None, read_only=True) as s:
            left = await s.scalar(
                sa.select(sa.func.count())
                .select_from(Connection)
                .where(Connection.portal_id == portal_id)
            )
        if not left:
            await MirrorStore(self.db).purge_portal(portal_id)
            log.info("portal %s: last connection gone, its mirror purged", portal_id)

    async def save_private_app_token(self, principal: Principal, token: str) -> ConnectionInfo:
        """Check a private-app / service-key token against HubSpot, then store it encrypted."""
        token = token.strip()
        if not token or len(token) > 4096 or any(c.isspace() for c in token):
            raise InputError("The token is empty or malformed.", field="token")
        client = self.make_client(self.static_token(token), None)
        try:
            account = await client.account.details()
        except (ReconnectRequired, NotConnected) as exc:
            raise InputError(
                "HubSpot did not accept this token; copy it again from the private app's Auth tab.",
                field="token",
                correlation_id=exc.correlation_id,
            ) from None
        details = account_facts(account)
        async with self.db.session(principal.tenant_id) as s:
            conn = await self.repo.upsert_connection(
                s,
                tenant_id=principal.tenant_id,
                user_id=principal.user_id,
                portal_id=int(account.portal_id),
                auth_kind="private_app",
                scopes=[],
                hub_domain=details.get("ui_domain"),
                access_token=token,
                refresh_token=None,
                expires_at=None,
                details=details,
                environment=self.environment,
            )
            info = _info(conn, await s.get(Token, conn.id))
        self.tokens.forget(info.id)
        log.info("saved a private-app connection %s (portal %s)", info.id, info.portal_id)
        return info

    async def store_oauth(
        self,
        *,
        tenant_id: str,
        user_id: str,
        portal_id: int,
        scopes: builtins.list[str],
        hub_domain: str | None,
        access_token: str,
        refresh_token: str | None,
        expires_in: int,
        details: dict[str, Any],
    ) -> ConnectionInfo:
        async with self.db.session(tenant_id) as s:
            conn = await self.repo.upsert_connection(
                s,
                tenant_id=tenant_id,
                user_id=user_id,
                portal_id=portal_id,
                auth_kind="oauth",
                scopes=scopes,
                hub_domain=hub_domain,
                access_token=access_token,
                refresh_token=refresh_token,
                expires_at=self.clock() + timedelta(seconds=int(expires_in)),
                details=details,
                environment=self.environment,
            )
            info = _info(conn, await s.get(Token, conn.id))
        self.tokens.forget(info.id)
        return info


def account_facts(account: AccountDetails) -> dict[str, Any]:
    """What a connection keeps of the portal's account details (the fields HubSpot sent)."""
    facts = account.model_dump(
        include={"account_type", "time_zone", "company_currency", "ui_domain"}
        | {"data_hosting_location", "portal_id"},
        exclude_none=True,
    )
    return facts
