"""The Webhooks Journal (2026-03): a portal's change events, pulled by offset.

Calls carry the app's client-credentials token (`AppToken`) and are outside the per-account
limits (HubSpot exempts journal reads from the daily and ten-secondly limits). `next` answers
None once there is nothing newer; an offset the journal no longer has (it keeps about three
days) raises NotFound, after which the caller must re-sync the gap by modification date.
https://developers.hubspot.com/docs/api-reference/latest/webhooks-journal/journal-entries/guide
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from atom_hubspot.client.http import Call, HubSpotHTTP
from atom_hubspot.client.oauth import OAuthAPI
from atom_hubspot.errors import HubSpotError, NotFound, Unavailable

JOURNAL_SCOPES = ["developer.webhooks_journal.read"]
SUBSCRIPTION_SCOPES = ["developer.webhooks_journal.subscriptions.read"]
# Ask for a new app token this long before the old one expires.
TOKEN_MARGIN_S = 60.0


class JournalRef(BaseModel):
    """A JournalFetchResponse: where one journal entry's events are."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    current_offset: str = Field(alias="currentOffset", min_length=1, max_length=128)
    url: str = Field(min_length=1, max_length=4096)
    expires_at: str | None = Field(default=None, alias="expiresAt")


class JournalFile(BaseModel):
    """The file behind a JournalRef's url. Field names are provisional: parse leniently."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    offset: str | None = None
    published_at: str | None = Field(default=None, alias="publishedAt")
    journal_events: list[dict[str, Any]] = Field(default_factory=list, alias="journalEvents")


class AppToken:
    """The app's client-credentials token, asked for again shortly before it expires."""

    def __init__(self, oauth: OAuthAPI, scopes: list[str], clock: Any = time.monotonic) -> None:
        self.oauth = oauth
        self.scopes = scopes
        self.clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def access_token(self) -> str:
        async with self._lock:
            if self._token is None or self.clock() >= self._expires - TOKEN_MARGIN_S:
                answer = await self.oauth.client_credentials(self.scopes)
                self._token = answer.access_token.get_secret_value()
                self._expires = self.clock() + answer.expires_in
            return self._token

    def __repr__(self) -> str:
        return "AppToken(**********)"


class JournalAPI:
    def __init__(self, http: HubSpotHTTP, token: AppToken) -> None:
        self.http = http
        self.token = token

    async def _ref(self, route: Any, portal_id: int) -> JournalRef | None:
        body = await self.http.json(
            Call(
                method="GET",
                route=route,
                token=self.token,
                params={"installPortalId": portal_id},
            )
        )
        if not body:
            return None  # 204: nothing newer yet
        return JournalRef.model_validate(body)

    async def earliest(self, portal_id: int) -> JournalRef | None:
        return await self._ref(self.http.paths.journal_earliest(local=True), portal_id)

    async def latest(self, portal_id: int) -> JournalRef | None:
        return await self._ref(self.http.paths.journal_latest(local=True), portal_id)

    async def next(self, offset: str, portal_id: int) -> JournalRef | None:
        """The entry after `offset`; None when caught up; NotFound when `offset` expired."""
        return await self._ref(self.http.paths.journal_next(offset, local=True), portal_id)

    async def fetch(self, ref: JournalRef) -> JournalFile:
        """The entry's events (the url is HubSpot's own link to the file, no bearer)."""
        try:
            answer = await self.http.wire.fetch(ref.url)
        except httpx.HTTPError as exc:  # the next poll tries again
            raise Unavailable(f"journal file unavailable: {type(exc).__name__}") from None
        if answer.status_code == 404:
            raise NotFound("the journal file has expired")
        if answer.status_code >= 300:
            raise HubSpotError(
                f"journal file answered {answer.status_code}", status=answer.status_code
            )
        return JournalFile.model_validate(answer.json())


async def journal_subscriptions(http: HubSpotHTTP, token: AppToken) -> list[dict[str, Any]]:
    """The app's Webhooks Journal subscriptions (needs
    `developer.webhooks_journal.subscriptions.read` on the app token)."""
    body = await http.json(
        Call(method="GET", route=http.paths.journal_subscriptions(), token=token)
    )
    results = body.get("results") if isinstance(body, dict) else None
    return [r for r in results or [] if isinstance(r, dict)]
