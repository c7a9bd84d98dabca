"""One answer envelope for every route, success and error alike.

Success: `{"ok": true, "data": ..., "meta": {...}}`.
Error:   `{"ok": false, "error": {"code", "message", "correlation_id"?, "errors"?, "details"?}}`.
Routers built with `envelope_router()` turn the plugin's errors and FastAPI's request validation
errors into that shape, so no handler needs a try/except and nothing a caller or HubSpot did
becomes a 500.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

# One envelope for the whole host: the models live in the contract, shared with every plugin.
from atom_host_stub.contract import (
    JSON_BODY_SCOPE_KEY,
    CRMError,
    Envelope,
    ErrorBody,
    ErrorEnvelope,
)
from atom_hubspot.api import lean
from atom_hubspot.errors import HubSpotError, RateLimited

log = logging.getLogger("atom_hubspot.api")

__all__ = ["Envelope", "ErrorBody", "ErrorEnvelope", "envelope_router", "error_response", "ok"]


def ok(data: object, **meta: object) -> dict[str, Any]:
    return {"ok": True, "data": data, "meta": meta}


def retry_after_s(err: RateLimited, now: datetime | None = None) -> int:
    """Seconds a caller should wait: HubSpot's Retry-After when it sent one (it does not
    promise to), else by policy — the rest of a 10 s or 1 s window, or until the next day."""
    if err.retry_after_s is not None:
        return max(1, math.ceil(err.retry_after_s))
    if err.policy == "DAILY":
        now = now or datetime.now(UTC)
        tomorrow = datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=UTC)
        return max(1, math.ceil((tomorrow - now).total_seconds()))
    if err.policy == "SECONDLY":
        return 1
    return 10


def error_response(err: HubSpotError) -> JSONResponse:
    headers: dict[str, str] = {}
    if isinstance(err, RateLimited):
        headers["Retry-After"] = str(retry_after_s(err))
    return JSONResponse(
        {"ok": False, "error": err.to_dict()}, status_code=err.http_status, headers=headers
    )


def validation_response(exc: RequestValidationError) -> JSONResponse:
    fields: list[dict[str, str]] = []
    seen: set[str] = set()
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path", "header")]
        name = ".".join(loc)[:200] or "body"
        if name in seen:  # one line per field, however many rules it broke
            continue
        seen.add(name)
        fields.append({"field": name, "message": str(e.get("msg", "invalid"))[:300]})
    names = ", ".join(f["field"] for f in fields)
    body = {
        "ok": False,
        "error": {
            "code": "invalid_input",
            "message": f"Invalid input in: {names}. Fix these fields and send again.",
            "errors": fields,
        },
    }
    return JSONResponse(body, status_code=422)


def _host_handles(request: Request, exc: Exception) -> bool:
    """Whether the app has its own handler for this exception (other than the generic 500)."""
    handlers = getattr(request.app, "exception_handlers", {}) or {}
    return any(
        cls in handlers for cls in type(exc).__mro__ if cls not in (Exception, BaseException)
    )


class EnvelopeRoute(APIRoute):
    """An APIRoute whose handler maps plugin errors and validation errors to the envelope."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        shorter = lean.lean_handler(self)

        async def route(request: Request) -> Response:
            if JSON_BODY_SCOPE_KEY in request.scope:
                # The host parsed the body already (strictly): Starlette's Request keeps a
                # parsed body in `_json`, so FastAPI takes it from there instead of parsing
                # the same bytes a second time on the event loop.
                request._json = request.scope[JSON_BODY_SCOPE_KEY]
            try:
                if shorter is not None and lean.enabled:
                    response = await shorter(request)
                    if response is not None:
                        return response
                return await handler(request)
            except HubSpotError as err:
                log.info(
                    "request failed: %s %s -> %s (correlationId=%s)",
                    request.method,
                    self.path,
                    err.code,
                    err.correlation_id,
                )
                return error_response(err)
            except RequestValidationError as exc:
                return validation_response(exc)
            except StarletteHTTPException as exc:
                if exc.status_code == 400:
                    # FastAPI's own answer to a body it cannot parse (not JSON, bad encoding).
                    return JSONResponse(
                        {
                            "ok": False,
                            "error": {
                                "code": "invalid_input",
                                "message": "Invalid input in: body. Send a JSON object "
                                "(Content-Type: application/json, UTF-8).",
                                "errors": [{"field": "body", "message": "not valid JSON"}],
                            },
                        },
                        status_code=422,
                    )
                raise  # the host's own answers (e.g. 401 for a missing API key) stay as they are
            except CRMError as err:
                # A contract-level error raised outside the HubSpot hierarchy.
                return JSONResponse(
                    {"ok": False, "error": {"code": err.code, "message": err.message}},
                    status_code=err.http_status,
                )
            except Exception as exc:
                if _host_handles(request, exc):
                    raise  # e.g. the host's own Unauthorized from its principal dependency
                log.error("unexpected %s in %s %s", type(exc).__name__, request.method, self.path)
                return JSONResponse(
                    {
                        "ok": False,
                        "error": {
                            "code": "internal_error",
                            "message": "An unexpected error occurred.",
                        },
                    },
                    status_code=500,
                )

        return route


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorEnvelope, "description": desc}
    for code, desc in {
        401: "Not connected to HubSpot, or the connection needs the user to reconnect",
        403: "Missing OAuth scopes, or the portal needs a HubSpot tier or add-on",
        404: "Not found in the chosen portal",
        409: "Conflict with an existing record (its id in details.existing_id)",
        422: "Invalid input (fields named) or rejected by HubSpot's validation",
        429: "HubSpot rate limit reached; see Retry-After",
        502: "HubSpot answered in a way the plugin could not use",
        503: "HubSpot or local storage unavailable; try again later",
        504: "A create or send may have reached HubSpot but no answer came; check before retrying",
    }.items()
}
ERROR_RESPONSES[429]["headers"] = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer"},
    }
}


def envelope_router(**kwargs: Any) -> APIRouter:
    """An APIRouter whose routes answer in the envelope and document the error answers."""
    kwargs.setdefault("route_class", EnvelopeRoute)
    kwargs.setdefault("responses", ERROR_RESPONSES)
    return APIRouter(**kwargs)
