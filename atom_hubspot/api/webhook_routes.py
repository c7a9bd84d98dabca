"""`POST /webhooks/hubspot`: HubSpot's change events, authenticated by HubSpot's signature.

No API key: HubSpot cannot send one. The v3 signature (HMAC-SHA256 with the app's client secret
over method, the URI as HubSpot called it, the raw body and the timestamp) is checked on the raw
bytes before anything is parsed; a forged, stale or replayed delivery gets 401 and stores
nothing. A good delivery is stored in the inbox before it is answered, so HubSpot is never told
"received" about an event that could still be lost; the mirror is updated after the answer.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response

from atom_host_stub.contract import HostContext
from atom_hubspot.api.deps import runtime_of
from atom_hubspot.feed.events import DeliveryMalformed, parse_delivery
from atom_hubspot.feed.signature import SignatureRejected, verify
from atom_hubspot.storage.feed import FeedInbox, Replayed

log = logging.getLogger("atom_hubspot.feed")

# 100 events of a few hundred bytes each: 256 KiB leaves room and bounds what a caller can make
# us hash before the signature is known to be good.
MAX_DELIVERY_BYTES = 256 * 1024


def _refuse(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"ok": False, "error": {"code": code, "message": message}},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


async def _read_bounded(request: Request, limit: int) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def signed_uri(request: Request, configured: str | None) -> str:
    """The URI HubSpot signed: the target URL configured in the app when set (a proxy in front
    changes scheme, host or path), else the URL this request arrived on."""
    return configured or str(request.url)


def build_router(context: HostContext) -> APIRouter:
    router = APIRouter()

    @router.post(
        "",
        status_code=204,
        summary="Receive HubSpot webhook events (authenticated by HubSpot's v3 signature)",
        responses={
            401: {"description": "Signature missing, wrong, stale, or a replayed delivery"},
            400: {"description": "Signed, but not an array of HubSpot events"},
            413: {"description": f"Body larger than {MAX_DELIVERY_BYTES} bytes"},
        },
    )
    async def receive(
        request: Request,
        x_hubspot_signature_v3: Annotated[str | None, Header()] = None,
        x_hubspot_request_timestamp: Annotated[str | None, Header()] = None,
    ) -> Response:
        runtime = runtime_of(context)
        inbox = FeedInbox(runtime.db)
        body = await _read_bounded(request, MAX_DELIVERY_BYTES)
        if body is None:
            return _refuse(413, "body_too_large", f"At most {MAX_DELIVERY_BYTES} bytes.")
        settings = runtime.settings
        if settings.feed_mode == "polling":
            return _refuse(
                503,
                "feed_off",
                "HUBSPOT_FEED_MODE=polling: webhooks are not taken; set push to take them.",
            )
        # HubSpot signs with the secret of the app the portal installed: the one in force.
        secret = settings.app.secret
        if not secret:
            return _refuse(503, "not_configured", f"{settings.app.client_secret_key} is not set.")
        try:
            verified = verify(
                secret=secret,
                method=request.method,
                uri=signed_uri(request, settings.webhook_url),
                body=body,
                headers={k.lower(): v for k, v in request.headers.items()},
                now_ms=int(time.time() * 1000),
                allow_v1=settings.webhook_allow_v1,
            )
        except SignatureRejected as exc:
            log.warning("webhook delivery refused: %s", exc.reason.value)
            await inbox.record_signature_failure(exc.reason.value)
            return _refuse(401, exc.reason.value, "The delivery's signature did not verify.")
        try:
            events = parse_delivery(body)
        except DeliveryMalformed as exc:
            return _refuse(400, "invalid_delivery", str(exc))
        try:
            accepted = await inbox.accept(verified.digest, events, source="webhook")
        except Replayed:
            log.warning("webhook delivery refused: replayed")
            await inbox.record_signature_failure("replayed")
            return _refuse(401, "replayed", "This delivery was received before.")
        log.info(
            "webhook delivery: %d events, %d new, %d duplicate, %d for unknown portals",
            len(events),
            accepted.stored,
            accepted.duplicates,
            accepted.unknown_portal,
        )
        if runtime.feed is not None and accepted.stored:
            runtime.feed.wake()
        return Response(status_code=204)

    return router
