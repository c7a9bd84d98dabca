"""OAuth 2.1 for `/mcp`: the host is both the authorization server and the resource server.

An MCP client that gets 401 from `/mcp` follows `WWW-Authenticate: Bearer resource_metadata=…`
to the protected resource metadata (RFC 9728), finds the host as its authorization server
(RFC 8414 metadata), registers itself (RFC 7591 dynamic registration), and sends the user to
`/authorize` with PKCE (S256 only) and the resource indicator (RFC 8707) naming this host's
`/mcp`. The user signs in to the host (the ordinary `/sign-in` session) and allows the client on
the host's consent page; the code the client gets back is exchanged at `/token` for an access
token bound to the audience (this `/mcp` URL) and to the signed-in ATOM principal, and a
refresh token (rotated on each use). Codes and tokens are stored as SHA-256 digests in the host's
database, so every worker knows them and the database holds none that could be presented.

The endpoints, the PKCE and redirect checks and the metadata documents are the MCP Python SDK's
(`mcp.server.auth`: `create_auth_routes`, `create_protected_resource_routes`); this module is
its `OAuthAuthorizationServerProvider` over the host's tables, and the check `/mcp` makes of a
bearer token (the consent page and the routes are in mcp_oauth_routes.py). API keys keep
working on `/mcp`: a bearer value is an API key first, else an access token.

https://modelcontextprotocol.io/specification/2026-07-28/basic/authorization
("MCP servers MUST validate that access tokens were issued specifically for them as the intended
audience"; clients "MUST include the resource parameter" in authorization and token requests.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, urlsplit

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    OAuthAuthorizationServerProvider,
    RefreshToken,
    RegistrationError,
    TokenError,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from atom_host_stub.contract import Principal
from atom_host_stub.host_db import (
    HostDatabase,
    HostDatabaseError,
    oauth_clients,
    oauth_codes,
    oauth_tokens,
)

log = logging.getLogger("atom_host_stub.mcp")

SCOPE = "mcp"
CONSENT_PATH = "/oauth/consent"
CODE_TTL_S = 300
CONSENT_TTL_S = 600
ACCESS_TTL_S = 3600
REFRESH_TTL_S = 30 * 86400
MAX_STATE_CHARS = 512
MAX_ID_CHARS = 64
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
ACCESS, REFRESH = "access", "refresh"


def digest(value: str) -> str:
    """How a code or token is stored and looked up: never the value itself."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def same_resource(a: str, b: str) -> bool:
    """RFC 8707 resource URIs compared as URLs: scheme and host without case, a trailing
    slash aside (as the SDK's bearer check does)."""
    pa, pb = urlsplit(a.strip()), urlsplit(b.strip())
    return (
        pa.scheme.lower() == pb.scheme.lower()
        and pa.netloc.lower() == pb.netloc.lower()
        and pa.path.rstrip("/") == pb.path.rstrip("/")
        and pa.query == pb.query
    )


def allowed_redirect(uri: str) -> bool:
    """OAuth 2.1 redirect URIs: https, or http to this machine's loopback (a desktop client's
    local listener); never a fragment."""
    parts = urlsplit(uri)
    if parts.fragment:
        return False
    if parts.scheme == "https":
        return bool(parts.hostname)
    return parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS


class HostAuthorizationCode(AuthorizationCode):
    tenant_id: str
    user_id: str


class HostRefreshToken(RefreshToken):
    tenant_id: str
    user_id: str
    grant_id: str


class HostAccessToken(AccessToken):
    tenant_id: str
    user_id: str
    grant_id: str

    @property
    def principal(self) -> Principal:
        return Principal(tenant_id=self.tenant_id, user_id=self.user_id)


def _token_fields(token: str, row: Any) -> dict[str, Any]:
    """What an access or refresh token's model holds, from its row in `oauth_tokens`."""
    return {
        "token": token,
        "client_id": row.client_id,
        "scopes": row.scopes.split(),
        "expires_at": int(row.expires_at),
        "resource": row.resource,
        "subject": f"{row.tenant_id}/{row.user_id}",
        "tenant_id": row.tenant_id,
        "user_id": row.user_id,
        "grant_id": row.grant_id,
    }


class HostOAuthProvider(
    OAuthAuthorizationServerProvider[HostAuthorizationCode, HostRefreshToken, HostAccessToken]
):
    """The SDK's `OAuthAuthorizationServerProvider` over the host's tables (the identity
    assertion grant stays the SDK's default: refused)."""

    def __init__(
        self,
        db: HostDatabase,
        secret: bytes,
        public_url: str,
        principals: Iterable[Principal],
        *,
        mcp_path: str = "/mcp",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.issuer = public_url.rstrip("/")
        self.resource = self.issuer + mcp_path
        self.principals = frozenset(principals)
        self.clock = clock
        self._request_key = hmac.new(secret, b"atom mcp-oauth consent", hashlib.sha256).digest()
        sealing = hmac.new(secret, b"atom mcp-oauth client secret", hashlib.sha256).digest()
        self._sealer = Fernet(base64.urlsafe_b64encode(sealing))

    # ----------------------------------------------------------------- clients

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        if not client_id or len(client_id) > MAX_ID_CHARS:
            return None
        engine = await self.db.ready()
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(oauth_clients.c.info, oauth_clients.c.secret_sealed).where(
                        oauth_clients.c.client_id == client_id
                    )
                )
            ).first()
        if row is None:
            return None
        info = OAuthClientInformationFull.model_validate_json(row[0])
        if row[1]:
            try:
                info.client_secret = self._sealer.decrypt(row[1].encode()).decode()
            except InvalidToken:
                log.warning("an MCP client's secret cannot be unsealed (the host secret changed)")
                return None
        return info

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        uris = [str(u) for u in client_info.redirect_uris or []]
        if not uris or not all(allowed_redirect(u) for u in uris):
            raise RegistrationError(
                "invalid_redirect_uri",
                "redirect_uris must be https URLs, or http URLs on localhost/127.0.0.1, "
                "without a fragment",
            )
        client_id = str(client_info.client_id)
        secret = client_info.client_secret
        public = client_info.model_copy(update={"client_secret": None})
        engine = await self.db.ready()
        async with engine.begin() as conn:
            await conn.execute(
                oauth_clients.insert().values(
                    client_id=client_id,
                    info=public.model_dump_json(),
                    secret_sealed=self._sealer.encrypt(secret.encode()).decode()
                    if secret
                    else None,
                    created_at=int(self.clock()),
                )
            )

    # ----------------------------------------------------------------- authorize → consent

    async def authorize(
        self, client: OAuthClientInformationFull, params: AuthorizationParams
    ) -> str:
        """Where the browser goes next: the host's consent page, carrying the request signed
        (nothing is stored until the user allows it)."""
        if params.resource is not None and not same_resource(params.resource, self.resource):
            raise AuthorizeError(
                "invalid_target", f"This server issues tokens for {self.resource} only."
            )
        if params.state is not None and len(params.state) > MAX_STATE_CHARS:
            raise AuthorizeError("invalid_request", f"state is over {MAX_STATE_CHARS} characters.")
        scopes = params.scopes or [SCOPE]
        if set(scopes) - {SCOPE}:
            raise AuthorizeError("invalid_scope", f"The only scope is {SCOPE!r}.")
        pending = {
            "c": client.client_id,
            "r": str(params.redirect_uri),
            "x": params.redirect_uri_provided_explicitly,
            "p": params.code_challenge,
            "s": params.state,
            "sc": scopes,
            "e": int(self.clock()) + CONSENT_TTL_S,
        }
        return f"{self.issuer}{CONSENT_PATH}?request={quote(self.seal_request(pending))}"

    def seal_request(self, pending: dict[str, Any]) -> str:
        raw = base64.urlsafe_b64encode(json.dumps(pending, separators=(",", ":")).encode())
        body = raw.decode().rstrip("=")
        mac = hmac.new(self._request_key, body.encode(), hashlib.sha256).digest()
        return f"{body}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"

    def open_request(self, sealed: str) -> dict[str, Any] | None:
        """The pending authorization a consent form carries, or None when it was not made
        here, was altered, or is older than CONSENT_TTL_S."""
        raw, dot, mac = sealed.partition(".")
        if not dot or len(sealed) > 8192:
            return None
        expected = hmac.new(self._request_key, raw.encode(), hashlib.sha256).digest()
        given = base64.urlsafe_b64encode(expected).decode().rstrip("=")
        if not hmac.compare_digest(given, mac):
            return None
        try:
            pending = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        except ValueError:
            return None
        if not isinstance(pending, dict) or int(pending.get("e", 0)) < self.clock():
            return None
        return pending

    async def grant_code(self, pending: dict[str, Any], principal: Principal) -> str:
        """The user allowed it: a single-use code for `principal`, stored as its digest."""
        code = secrets.token_urlsafe(32)
        request = {k: pending[k] for k in ("r", "x", "p", "sc")}
        engine = await self.db.ready()
        async with engine.begin() as conn:
            await conn.execute(
                oauth_codes.insert().values(
                    digest=digest(code),
                    client_id=str(pending["c"]),
                    tenant_id=principal.tenant_id,
                    user_id=principal.user_id,
                    request=json.dumps(request),
                    expires_at=int(self.clock()) + CODE_TTL_S,
                )
            )
        return code

    # ----------------------------------------------------------------- codes → tokens

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> HostAuthorizationCode | None:
        engine = await self.db.ready()
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(oauth_codes).where(
                        oauth_codes.c.digest == digest(authorization_code),
                        oauth_codes.c.client_id == client.client_id,
                    )
                )
            ).first()
        if row is None:
            return None
        request = json.loads(row.request)
        return HostAuthorizationCode(
            code=authorization_code,
            scopes=list(request["sc"]),
            expires_at=float(row.expires_at),
            client_id=row.client_id,
            code_challenge=request["p"],
            redirect_uri=request["r"],
            redirect_uri_provided_explicitly=bool(request["x"]),
            resource=self.resource,
            subject=f"{row.tenant_id}/{row.user_id}",
            tenant_id=row.tenant_id,
            user_id=row.user_id,
        )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: HostAuthorizationCode
    ) -> OAuthToken:
        if not await self._use_once(oauth_codes, authorization_code.code):
            raise TokenError("invalid_grant", "authorization code was already used")
        principal = Principal(
            tenant_id=authorization_code.tenant_id, user_id=authorization_code.user_id
        )
        return await self._issue(
            client.client_id or "", principal, authorization_code.scopes, uuid.uuid4().hex
        )

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> HostRefreshToken | None:
        row = await self._token_row(refresh_token, REFRESH)
        if row is None or row.client_id != client.client_id:
            return None
        return HostRefreshToken(**_token_fields(refresh_token, row))

    async def exchange_refresh_token(
        self,
        client: OAuthClientInformationFull,
        refresh_token: HostRefreshToken,
        scopes: list[str],
    ) -> OAuthToken:
        if not await self._use_once(oauth_tokens, refresh_token.token):
            raise TokenError("invalid_grant", "refresh token was already used")
        principal = Principal(tenant_id=refresh_token.tenant_id, user_id=refresh_token.user_id)
        if principal not in self.principals:
            raise TokenError("invalid_grant", "the user's API key is no longer configured")
        return await self._issue(client.client_id or "", principal, scopes, refresh_token.grant_id)

    async def _use_once(self, table: sa.Table, secret: str) -> bool:
        """Single use: whoever deletes the row holding `secret`'s digest gets to use it; a second
        use (a replayed code or refresh token, on any worker) finds none."""
        engine = await self.db.ready()
        async with engine.begin() as conn:
            used = await conn.execute(
                table.delete().where(table.c.digest == digest(secret)).returning(table.c.digest)
            )
            return used.first() is not None

    async def _issue(
        self, client_id: str, principal: Principal, scopes: list[str], grant_id: str
    ) -> OAuthToken:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = int(self.clock())
        common = {
            "grant_id": grant_id,
            "client_id": client_id,
            "tenant_id": principal.tenant_id,
            "user_id": principal.user_id,
            "scopes": " ".join(scopes),
            "resource": self.resource,
        }
        engine = await self.db.ready()
        async with engine.begin() as conn:
            await conn.execute(
                oauth_tokens.insert(),
                [
                    {
                        **common,
                        "digest": digest(access),
                        "kind": ACCESS,
                        "expires_at": now + ACCESS_TTL_S,
                    },
                    {
                        **common,
                        "digest": digest(refresh),
                        "kind": REFRESH,
                        "expires_at": now + REFRESH_TTL_S,
                    },
                ],
            )
            await conn.execute(oauth_tokens.delete().where(oauth_tokens.c.expires_at < now))
            await conn.execute(oauth_codes.delete().where(oauth_codes.c.expires_at < now))
        return OAuthToken(
            access_token=access,
            token_type="Bearer",  # noqa: S106 - the token type, not a secret
            expires_in=ACCESS_TTL_S,
            refresh_token=refresh,
            scope=" ".join(scopes),
        )

    # ----------------------------------------------------------------- the resource server

    async def _token_row(self, token: str, kind: str) -> Any:
        if not token or len(token) > 4096:
            return None
        engine = await self.db.ready()
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(oauth_tokens).where(
                        oauth_tokens.c.digest == digest(token), oauth_tokens.c.kind == kind
                    )
                )
            ).first()
        if row is None or row.expires_at < self.clock():
            return None
        return row

    async def load_access_token(self, token: str) -> HostAccessToken | None:
        """The access token, whatever its audience (`principal_for_token` checks that)."""
        row = await self._token_row(token, ACCESS)
        if row is None:
            return None
        return HostAccessToken(**_token_fields(token, row))

    async def principal_for_token(self, token: str) -> Principal | None:
        """The principal of a live access token issued for this `/mcp` (its audience), whose
        user's API key is still configured; None otherwise; HostDatabaseError when the
        tokens cannot be read."""
        try:
            found = await self.load_access_token(token)
        except (OSError, sa.exc.SQLAlchemyError) as exc:
            log.warning("MCP token store unavailable: %s", type(exc).__name__)
            raise HostDatabaseError("The host's token store is unavailable.") from None
        if found is None:
            return None
        if not same_resource(found.resource or "", self.resource):
            log.info("refused an MCP access token issued for another resource")
            return None
        if SCOPE not in found.scopes or found.principal not in self.principals:
            return None
        return found.principal

    async def revoke_token(self, token: HostAccessToken | HostRefreshToken) -> None:
        """Ends the whole authorization: its access and refresh tokens."""
        engine = await self.db.ready()
        async with engine.begin() as conn:
            await conn.execute(
                oauth_tokens.delete().where(oauth_tokens.c.grant_id == token.grant_id)
            )

    def resource_metadata_url(self) -> str:
        from mcp.server.auth.routes import build_resource_metadata_url
        from pydantic import AnyHttpUrl

        return str(build_resource_metadata_url(AnyHttpUrl(self.resource)))
