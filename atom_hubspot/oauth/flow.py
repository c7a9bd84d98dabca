"""The OAuth authorization-code flow (the *implementation*; token upkeep is session.py).

start:    a random single-use state (only its SHA-256 is stored) bound to the principal,
          valid 10 minutes, PKCE unless HUBSPOT_USE_PKCE=false; the authorize URL asks for the
          enabled features' scopes as `scope` and the others as `optional_scope`.
complete: the browser must be signed in as the principal who started the flow (a session or
          an API key; a forwarded link opened in someone else's browser connects nothing), and
          the state must be that principal's, unexpired and unused; HubSpot's `error=` is
          refused; then the code is exchanged, the token introspected (hub id, hub domain,
          user, scopes), account details read, and all of it stored encrypted. Redirect
          targets come from configuration, never from the request.
https://developers.hubspot.com/docs/api/oauth-quickstart-guide
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from pydantic import BaseModel, Field

from atom_host_stub.contract import Principal
from atom_hubspot.errors import EnvironmentMismatch, HubSpotError, StorageError
from atom_hubspot.oauth.connections import ConnectionInfo, ConnectionManager, account_facts
from atom_hubspot.settings import HubSpotSettings
from atom_hubspot.storage.models import OAuthState
from atom_hubspot.storage.repository import ConnectionRepository, state_hash

log = logging.getLogger("atom_hubspot.oauth")

STATE_TTL_S = 600
CALLBACK_PATH = "/auth/hubspot/callback"


class OAuthStateInvalid(HubSpotError):
    """The callback's state is missing, unknown, expired or already used."""

    code = "oauth_state_invalid"
    http_status = 400


class OAuthSignInRequired(HubSpotError):
    """The callback reached a browser that is not signed in to ATOM."""

    code = "oauth_sign_in_required"
    http_status = 401


class OAuthStateForeign(HubSpotError):
    """The callback's state was issued to another user."""

    code = "oauth_state_foreign"
    http_status = 403


class OAuthDenied(HubSpotError):
    """The user (or HubSpot) declined the authorization."""

    code = "oauth_access_denied"
    http_status = 400


class OAuthCodeRejected(HubSpotError):
    """HubSpot did not exchange the authorization code (expired, used, wrong redirect URI)."""

    code = "oauth_code_rejected"
    http_status = 400


class AuthorizeStart(BaseModel):
    url: str = Field(description="HubSpot's authorize page; send the user's browser there")
    expires_at: datetime = Field(description="The link stops working after this (UTC)")
    scopes: list[str] = Field(default_factory=list)
    optional_scope_names: list[str] = Field(default_factory=list)


class CompletedConnection(ConnectionInfo):
    """The stored connection plus who approved it in HubSpot (from token introspection)."""

    hubspot_user: str | None = Field(default=None, description="E-mail of the approving user")
    hubspot_user_id: int | None = None


def _pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode()
    return verifier, challenge.rstrip("=")


class OAuthFlow:
    """Builds authorize URLs and completes callbacks into stored connections."""

    def __init__(
        self,
        settings: HubSpotSettings,
        connections: ConnectionManager,
        *,
        public_url: str = "http://127.0.0.1:8000",
        state_ttl_s: int = STATE_TTL_S,
        clock: Callable[[], datetime] | None = None,
    ):
        self.settings = settings
        self.connections = connections
        self.db = connections.db
        self.repo: ConnectionRepository = connections.repo
        self.app = settings.app
        self.redirect_uri = self.app.callback_url(public_url, CALLBACK_PATH)
        self.return_url = settings.return_url
        self.state_ttl = timedelta(seconds=state_ttl_s)
        self.clock = clock or connections.clock

    async def start(self, principal: Principal, *, use_pkce: bool | None = None) -> AuthorizeStart:
        """The authorize URL for `principal`; PKCE follows HUBSPOT_USE_PKCE unless asked."""
        if use_pkce is None:
            use_pkce = self.settings.use_pkce
        if not self.app.client_id:
            raise StorageError(
                f"{self.app.client_id_key} is not set, so no one can connect HubSpot yet.",
            )
        state = secrets.token_urlsafe(32)
        now = self.clock()
        expires_at = now + self.state_ttl
        challenge: str | None = None
        async with self.db.session(principal.tenant_id) as s:
            await self.repo.purge_states(s, now - timedelta(days=1))
            row = OAuthState(
                state_hash=state_hash(state),
                tenant_id=principal.tenant_id,
                user_id=principal.user_id,
                redirect_uri=self.redirect_uri,
                return_to=self.return_url,
                environment=self.app.environment.value,
                created_at=now,
                expires_at=expires_at,
            )
            s.add(row)
            await s.flush()
            if use_pkce:
                # HubSpot accepts code_verifier at the token endpoint (its OAuth token
                # reference); code_challenge on the authorize page is undocumented, so the
                # setting can turn PKCE off should HubSpot ever refuse it.
                verifier, challenge = _pkce_pair()
                self.repo.seal_verifier(row, verifier)
        params: dict[str, str] = {
            "client_id": self.app.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(self.settings.scopes),
            "state": state,
        }
        if self.settings.optional_scope_names:
            params["optional_scope"] = " ".join(self.settings.optional_scope_names)
        if challenge:
            params["code_challenge"] = challenge
            params["code_challenge_method"] = "S256"
        url = f"{self.app.authorize_url}?{urlencode(params, quote_via=quote)}"
        return AuthorizeStart(
            url=url,
            expires_at=expires_at,
            scopes=list(self.settings.scopes),
            optional_scope_names=list(self.settings.optional_scope_names),
        )

    async def _take_state(
        self, state: str | None, principal: Principal
    ) -> tuple[OAuthState, str | None]:
        """Validate and consume the state (single use); its row and PKCE verifier.

        Read in the caller's tenant: another tenant's state is invisible (row-level security
        on PostgreSQL, and the explicit check below on SQLite), so it reads as unknown."""
        if not state:
            raise OAuthStateInvalid(
                "The callback has no state: start connecting HubSpot again.", reason="missing"
            )
        now = self.clock()
        async with self.db.session(principal.tenant_id) as s:
            row = await self.repo.state_by_hash(s, state_hash(state))
            if row is None or row.tenant_id != principal.tenant_id:
                raise OAuthStateInvalid(
                    "This connect link was not started from your ATOM account (or it is not one "
                    "we issued), so nothing was connected. Start connecting HubSpot from your "
                    "own account.",
                    reason="unknown",
                )
            if row.user_id != principal.user_id:
                log.warning("OAuth callback with another user's state refused (state %s)", row.id)
                raise OAuthStateForeign(
                    "This connect link was started by another ATOM user, so nothing was "
                    "connected. To connect your own HubSpot portal, start connecting from your "
                    "own account.",
                )
            here = self.app.environment.value
            if row.environment != here:
                # Its code belongs to the other environment's app: exchanging it here would
                # send that code with this app's credentials.
                raise EnvironmentMismatch(
                    f"This connect link was started while the host ran in {row.environment}; "
                    f"it runs in {here} now, so nothing was connected. Start connecting "
                    "HubSpot again.",
                    connection_environment=row.environment,
                    host_environment=here,
                )
            if row.consumed_at is not None:
                raise OAuthStateInvalid(
                    "This connect link was already used: start connecting HubSpot again.",
                    reason="used",
                )
            if row.expires_at <= now:
                raise OAuthStateInvalid(
                    "This connect link expired (links last 10 minutes): start connecting "
                    "HubSpot again.",
                    reason="expired",
                )
            if not await self.repo.consume_state(s, row, now):
                raise OAuthStateInvalid(
                    "This connect link was already used: start connecting HubSpot again.",
                    reason="used",
                )
            verifier = self.repo.open_verifier(row)
            return row, verifier

    async def complete(
        self,
        *,
        code: str | None,
        state: str | None,
        error: str | None,
        principal: Principal | None,
    ) -> CompletedConnection:
        """Store the connection HubSpot's redirect names, for `principal` only: the browser's
        signed-in principal (or API key), who must be the one who started the flow."""
        if principal is None:
            # Without knowing whose browser this is, completing would connect the portal to
            # whoever started the flow: the forwarded-link hijack. The state stays unused, so
            # signing in and opening the same link again still works while the code is fresh.
            raise OAuthSignInRequired(
                "This browser is not signed in to ATOM, so nothing was connected. Sign in with "
                "your API key and open this link again, or start connecting HubSpot again."
            )
        row, verifier = await self._take_state(state, principal)
        if error:
            label = "declined" if error == "access_denied" else f"refused ({error[:64]})"
            raise OAuthDenied(
                f"The HubSpot authorization was {label}; nothing was connected.",
                reason=error[:64],
            )
        if not code:
            raise OAuthStateInvalid(
                "The callback has no authorization code: start connecting HubSpot again.",
                reason="missing_code",
            )
        api = self.connections.oauth_api
        try:
            tokens = await api.exchange_code(code, row.redirect_uri, verifier)
        except HubSpotError as exc:
            if exc.http_status >= 500:
                raise
            raise OAuthCodeRejected(
                "HubSpot did not accept the authorization code (it may have expired or been "
                "used); start connecting HubSpot again.",
                correlation_id=exc.correlation_id,
            ) from None
        access = tokens.access_token.get_secret_value()
        refresh = tokens.refresh_token.get_secret_value() if tokens.refresh_token else None
        info = await api.introspect(access, "access_token")
        portal_id = info.hub_id or tokens.hub_id
        if not portal_id:
            raise OAuthCodeRejected("HubSpot did not say which portal was connected; try again.")
        details: dict[str, Any] = {
            "hub_domain": info.hub_domain,
            "hubspot_user": info.user,
            "hubspot_user_id": info.user_id or tokens.user_id,
            "app_id": info.app_id,
        }
        try:
            account = await self.connections.make_client(
                self.connections.static_token(access), int(portal_id)
            ).account.details()
            details.update(account_facts(account))
        except HubSpotError as exc:
            # Details are for display; the connection works without them.
            log.info("account details for portal %s unavailable: %s", portal_id, exc.code)
        conn = await self.connections.store_oauth(
            tenant_id=row.tenant_id,
            user_id=row.user_id,
            portal_id=int(portal_id),
            scopes=list(info.scopes or tokens.scopes or []),
            hub_domain=info.hub_domain,
            access_token=access,
            refresh_token=refresh,
            expires_in=int(tokens.expires_in),
            details={k: v for k, v in details.items() if v is not None},
        )
        log.info(
            "connected portal %s for tenant %s (connection %s)",
            conn.portal_id,
            conn.tenant_id,
            conn.id,
        )
        return CompletedConnection(
            **conn.model_dump(),
            hubspot_user=info.user,
            hubspot_user_id=details.get("hubspot_user_id"),
        )
