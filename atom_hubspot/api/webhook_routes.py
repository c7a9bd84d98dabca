"""`POST /webhooks/hubspot`: HubSpot's change events, authenticated by HubSpot's signature.

No API key: HubSpot cannot send one. The body is read with a bound, then `feed/receiver.py`
verifies the signature on the raw bytes and stores the delivery before it is answered.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response

from atom_host_stub.contract import HostContext
from atom_hubspot.api.deps import runtime_of
from atom_hubspot.feed.receiver import DeliveryRefused

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
        # Declared for the API description; the receiver reads them from the raw headers.
        x_hubspot_signature_v3: Annotated[str | None, Header()] = None,
        x_hubspot_request_timestamp: Annotated[str | None, Header()] = None,
    ) -> Response:
        body = await _read_bounded(request, MAX_DELIVERY_BYTES)
        if body is None:
            return _refuse(413, "body_too_large", f"At most {MAX_DELIVERY_BYTES} bytes.")
        runtime = runtime_of(context)
        uri = signed_uri(request, runtime.settings.webhook_url)
        try:
            await runtime.webhooks().take(
                body, method=request.method, uri=uri, headers=request.headers
            )
        except DeliveryRefused as exc:
            return _refuse(exc.status, exc.code, exc.message)
        return Response(status_code=204)

    return router
