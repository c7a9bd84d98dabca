"""A small in-memory stand-in for HubSpot's token, introspection, revocation and account
endpoints, at the level of the client's OAuthAPI / HubSpotClient interfaces."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from pydantic import SecretStr

from atom_hubspot.client.models import AccountDetails
from atom_hubspot.errors import ReconnectRequired, Unavailable, ValidationFailed

PORTAL_ID = 4242


@dataclass
class FakeHubSpot:
    portal_id: int = PORTAL_ID
    expires_in: int = 1800
    refresh_delay_s: float = 0.0  # widen the race window in concurrency tests
    fail_refresh_with: Exception | None = None
    rotate_refresh_tokens: bool = True
    codes: dict[str, str] = field(default_factory=dict)  # code -> redirect_uri
    access_tokens: set[str] = field(default_factory=set)
    refresh_tokens: set[str] = field(default_factory=set)
    private_tokens: set[str] = field(default_factory=set)
    issued: list[str] = field(default_factory=list)  # every token string ever issued
    refresh_calls: int = 0
    revoked: list[str] = field(default_factory=list)
    verifiers: list[str | None] = field(default_factory=list)

    def new_code(self, redirect_uri: str) -> str:
        code = "code-" + secrets.token_hex(8)
        self.codes[code] = redirect_uri
        return code

    def _issue(self) -> SimpleNamespace:
        access = "at-" + secrets.token_hex(16)
        refresh = "rt-" + secrets.token_hex(16)
        self.access_tokens.add(access)
        self.refresh_tokens.add(refresh)
        self.issued += [access, refresh]
        return SimpleNamespace(
            access_token=SecretStr(access),
            refresh_token=SecretStr(refresh),
            expires_in=self.expires_in,
            hub_id=self.portal_id,
            user_id=77,
            scopes=None,
        )

    def private_token(self) -> str:
        tok = "pat-na1-" + secrets.token_hex(16)
        self.private_tokens.add(tok)
        self.issued.append(tok)
        return tok

    # --- OAuthAPI
    async def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None = None):
        if self.codes.pop(code, None) != redirect_uri:
            raise ValidationFailed("invalid code", status=400)
        self.verifiers.append(code_verifier)
        return self._issue()

    async def refresh(self, refresh_token: str):
        self.refresh_calls += 1
        if self.refresh_delay_s:
            await asyncio.sleep(self.refresh_delay_s)
        if self.fail_refresh_with is not None:
            raise self.fail_refresh_with
        if refresh_token not in self.refresh_tokens:
            raise ReconnectRequired("invalid_grant", status=400)
        out = self._issue()
        if self.rotate_refresh_tokens:
            self.refresh_tokens.discard(refresh_token)
        return out

    async def introspect(self, token: str, token_type_hint: str = "access_token"):  # noqa: S107
        return SimpleNamespace(
            active=token in self.access_tokens,
            hub_id=self.portal_id,
            hub_domain="demo.hubspot.com",
            user="owner@example.com",
            user_id=77,
            app_id=9,
            scopes=["oauth", "crm.objects.contacts.read"],
            expires_in=self.expires_in,
        )

    async def revoke(self, token: str, token_type_hint: str = "refresh_token") -> None:  # noqa: S107
        if token not in self.refresh_tokens:
            raise Unavailable("boom")
        self.refresh_tokens.discard(token)
        self.revoked.append(token)

    # --- HubSpotClient (only what the OAuth code reads)
    def client_factory(self, token_provider: Any, portal_id: int | None) -> Any:
        hub = self

        class _Account:
            async def details(self):
                tok = await token_provider.access_token()
                if tok not in hub.access_tokens and tok not in hub.private_tokens:
                    raise ReconnectRequired("401", status=401)
                return AccountDetails(
                    portal_id=hub.portal_id,
                    account_type="STANDARD",
                    time_zone="UTC",
                    company_currency="EUR",
                    ui_domain="app.hubspot.com",
                    data_hosting_location="na1",
                )

        return SimpleNamespace(account=_Account(), token=token_provider, portal_id=portal_id)
