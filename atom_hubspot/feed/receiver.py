"""Taking one webhook delivery from HubSpot.

The v3 signature (HMAC-SHA256 with the app's client secret over method, the URI as HubSpot
called it, the raw body and the timestamp) is checked on the raw bytes before anything is parsed;
a forged, stale or replayed delivery is refused and stores nothing. A good delivery is stored in
the inbox before it is answered, so HubSpot is never told "received" about an event that could
still be lost; the change feed applies it to the mirror afterwards.
https://developers.hubspot.com/docs/api-reference/webhooks-webhooks-v3/guide
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from atom_hubspot.feed.events import DeliveryMalformed, parse_delivery
from atom_hubspot.feed.signature import SignatureRejected, verify
from atom_hubspot.storage.feed import Accepted, FeedInbox, Replayed

if TYPE_CHECKING:
    from atom_hubspot.feed.runner import ChangeFeed
    from atom_hubspot.settings import HubSpotSettings
    from atom_hubspot.storage.db import Database

log = logging.getLogger("atom_hubspot.feed")


@dataclass
class DeliveryRefused(Exception):
    """Why a delivery was not taken: the HTTP status, a stable code and a message for HubSpot's
    delivery log (never the secret or the expected signature)."""

    status: int
    code: str
    message: str


class WebhookReceiver:
    def __init__(
        self,
        settings: HubSpotSettings,
        db: Database,
        feed: ChangeFeed | None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.inbox = FeedInbox(db)
        self.feed = feed
        self.clock = clock

    async def take(
        self, body: bytes, *, method: str, uri: str, headers: Mapping[str, str]
    ) -> Accepted:
        """Verify, parse and store one delivery; DeliveryRefused says why one was not taken."""
        settings = self.settings
        if settings.feed_mode == "polling":
            raise DeliveryRefused(
                503,
                "feed_off",
                "HUBSPOT_FEED_MODE=polling: webhooks are not taken; set push to take them.",
            )
        # HubSpot signs with the secret of the app the portal installed: the one in force.
        secret = settings.app.secret
        if not secret:
            raise DeliveryRefused(
                503, "not_configured", f"{settings.app.client_secret_key} is not set."
            )
        try:
            verified = verify(
                secret=secret,
                method=method,
                uri=uri,
                body=body,
                headers={k.lower(): v for k, v in headers.items()},
                now_ms=int(self.clock() * 1000),
                allow_v1=settings.webhook_allow_v1,
            )
        except SignatureRejected as exc:
            log.warning("webhook delivery refused: %s", exc.reason.value)
            await self.inbox.record_signature_failure(exc.reason.value)
            raise DeliveryRefused(
                401, exc.reason.value, "The delivery's signature did not verify."
            ) from None
        try:
            events = parse_delivery(body)
        except DeliveryMalformed as exc:
            raise DeliveryRefused(400, "invalid_delivery", str(exc)) from None
        try:
            accepted = await self.inbox.accept(verified.digest, events, source="webhook")
        except Replayed:
            log.warning("webhook delivery refused: replayed")
            await self.inbox.record_signature_failure("replayed")
            raise DeliveryRefused(401, "replayed", "This delivery was received before.") from None
        log.info(
            "webhook delivery: %d events, %d new, %d duplicate, %d for unknown portals",
            len(events),
            accepted.stored,
            accepted.duplicates,
            accepted.unknown_portal,
        )
        if self.feed is not None and accepted.stored:
            self.feed.wake()
        return accepted
