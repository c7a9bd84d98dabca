"""OAuth token endpoint calls: client credentials travel in the form body, no bearer.

Date style: token, introspect and revoke are form POSTs. Legacy v1 (sunset 2027-02-16):
token is a form POST, introspection a GET of the access or refresh token's own resource, and
revocation a DELETE of the refresh token's resource (see `Paths`).
https://developers.hubspot.com/docs/api-reference/auth-oauth-v1/guide
These calls are outside the per-account API limits, so they skip the governor. Tokens,
codes and the client secret are redacted from every error and never logged.
"""

from __future__ import annotations

from typing import Any

from atom_hubspot.client.http import Call, HubSpotHTTP
from atom_hubspot.client.models import TokenInfo, TokenResponse
from atom_hubspot.errors import HubSpotError, InputError, NotFound, ReconnectRequired


class OAuthAPI:
    def __init__(self, http: HubSpotHTTP, client_id: str, client_secret: str) -> None:
        self.http = http
        self.client_id = client_id
        self._client_secret = client_secret

    def _form(self, **fields: str | None) -> dict[str, str]:
        form = {"client_id": self.client_id, "client_secret": self._client_secret}
        form.update({k: v for k, v in fields.items() if v is not None})
        return form

    async def _post_form(
        self, route: Any, form: dict[str, str], *, repeatable: bool, secrets: tuple[str, ...]
    ) -> Any:
        return await self.http.json(
            Call(
                method="POST",
                route=route,
                data=form,
                repeatable=repeatable,
                secrets=(self._client_secret, *secrets),
            )
        )

    async def exchange_code(
        self, code: str, redirect_uri: str, code_verifier: str | None = None
    ) -> TokenResponse:
        """Authorization code → tokens. The code is single-use: never re-sent once it may
        have reached HubSpot (OutcomeUnknown then; the user connects again)."""
        body = await self._post_form(
            self.http.paths.oauth_token(),
            self._form(
                grant_type="authorization_code",
                redirect_uri=redirect_uri,
                code=code,
                code_verifier=code_verifier,
            ),
            repeatable=False,
            secrets=(code, *((code_verifier,) if code_verifier else ())),
        )
        return TokenResponse.model_validate(body)

    async def refresh(self, refresh_token: str) -> TokenResponse:
        """New access token. A dead refresh token (invalid_grant / BAD_REFRESH_TOKEN) raises
        ReconnectRequired: only the user reconnecting helps. Store the refresh token the
        answer returns (rotation is not documented either way)."""
        body = await self._post_form(
            self.http.paths.oauth_token(),
            self._form(grant_type="refresh_token", refresh_token=refresh_token),
            repeatable=True,
            secrets=(refresh_token,),
        )
        return TokenResponse.model_validate(body)

    async def client_credentials(self, scopes: list[str]) -> TokenResponse:
        """An app-level token (no portal, no user) for the app's own APIs, such as the
        Webhooks Journal (`developer.webhooks_journal.read`). No refresh token: ask again.
        https://developers.hubspot.com/docs/api-reference/latest/webhooks-journal/guide"""
        body = await self._post_form(
            self.http.paths.oauth_token(),
            self._form(grant_type="client_credentials", scope=" ".join(scopes)),
            repeatable=True,
            secrets=(),
        )
        return TokenResponse.model_validate(body)

    async def introspect(self, token: str, token_type_hint: str = "access_token") -> TokenInfo:  # noqa: S107
        """Who a token belongs to (hub_id, hub_domain, user, scopes…); `active=False` when
        HubSpot no longer knows it."""
        paths = self.http.paths
        if not paths.is_legacy("oauth"):
            body = await self._post_form(
                paths.oauth_introspect(),
                self._form(token=token, token_type_hint=token_type_hint),
                repeatable=True,
                secrets=(token,),
            )
            return TokenInfo.model_validate(body)
        route = (
            paths.oauth_refresh_token(token)
            if token_type_hint == "refresh_token"  # noqa: S105 - a hint name
            else paths.oauth_access_token_info(token)
        )
        try:
            body = await self.http.json(
                Call(method="GET", route=route, secrets=(token, self._client_secret))
            )
        except (NotFound, ReconnectRequired):
            return TokenInfo(active=False)
        except HubSpotError as exc:
            if exc.status == 400:
                return TokenInfo(active=False)
            raise
        data = dict(body) if isinstance(body, dict) else {}
        data.setdefault("active", True)
        return TokenInfo.model_validate(data)

    async def revoke(self, token: str, token_type_hint: str = "refresh_token") -> None:  # noqa: S107
        """Revoke a refresh token (issued access tokens stay valid until they expire; the app
        stays installed). Revoking twice is harmless, so it is retried when safe."""
        paths = self.http.paths
        if not paths.is_legacy("oauth"):
            await self._post_form(
                paths.oauth_revoke(),
                self._form(token=token, token_type_hint=token_type_hint),
                repeatable=True,
                secrets=(token,),
            )
            return
        if token_type_hint != "refresh_token":  # noqa: S105 - a hint name
            raise InputError(
                "the v1 OAuth API revokes refresh tokens only", field="token_type_hint"
            )
        await self.http.json(
            Call(
                method="DELETE",
                route=paths.oauth_refresh_token(token),
                secrets=(token, self._client_secret),
            )
        )
