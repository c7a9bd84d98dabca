"""The sandbox ASGI application: authentication, limits, injected faults and dispatch."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from starlette.datastructures import QueryParams, State
from starlette.responses import HTMLResponse, JSONResponse, Response

from atom_hubspot.sandbox import (
    admin,
    api_associations,
    api_automation,
    api_crm,
    api_email_publish,
    api_email_stats,
    api_lists,
    api_marketing,
    api_oauth,
    api_pipelines,
    api_properties,
    journal,
    webhooks,
)
from atom_hubspot.sandbox.config import SandboxConfig
from atom_hubspot.sandbox.core import TIER_ORDER, Sandbox
from atom_hubspot.sandbox.errors import ApiError, OAuthError, SimulatedReset, SimulatedTimeout
from atom_hubspot.sandbox.routing import Call, Route, Router, require_scopes

# The endpoint tables the sandbox serves, matched in this order. A new endpoint module
# defines `routes = Router()` and is added here.
ROUTE_TABLES: tuple[Router, ...] = (
    admin.routes,
    api_crm.routes,
    api_associations.routes,
    api_pipelines.routes,
    api_lists.routes,
    api_marketing.routes,
    api_email_publish.routes,
    api_email_stats.routes,
    api_oauth.routes,
    api_properties.routes,
    api_automation.routes,
    webhooks.routes,
    journal.routes,
)


class SandboxApp:
    """ASGI callable; `app.state.sandbox` is the Sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.router = Router.joined(*ROUTE_TABLES)
        self.state = State()
        self.state.sandbox = sandbox

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        root = scope.get("root_path", "") or ""
        path = scope["path"]
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        method = scope["method"].upper()
        response = await self.handle(
            method,
            path,
            QueryParams(scope.get("query_string", b"")),
            body,
            headers,
            root,
            scope,
            send,
        )
        if response is not None:
            await response(scope, receive, send)
        self.sandbox.webhooks.kick()

    async def handle(
        self,
        method: str,
        path: str,
        query: QueryParams,
        body: bytes,
        headers: dict[str, str],
        root: str,
        scope: dict[str, Any],
        send: Any,
    ) -> Response | None:
        sb = self.sandbox
        cid = str(uuid.uuid4())
        entry: dict[str, Any] = {
            "t": sb.now(),
            "method": method,
            "path": path,
            "route": None,
            "portal_id": None,
            "status": None,
            "fault": None,
        }
        sb.log.append(entry)
        route: Route | None = None
        call: Call | None = None
        extra_headers: dict[str, str] = {}
        try:
            route, params, version = self.router.match(method, path, sb.config.api_versions)
            entry["route"] = route.name
            call = Call(
                sb, self.router, method, path, params, query, body, headers, root, version, cid
            )
            if route.kind in ("page", "admin"):
                resp = await route.handler(call)
                entry["status"] = resp.status_code
                return resp
            sb.calls[route.name] += 1
            if route.kind == "api":
                grant = sb.bearer(headers)
                call.grant = grant
                call.portal = sb.portal(grant.portal_id)
                entry["portal_id"] = grant.portal_id
                extra_headers = sb.limits.check(
                    grant.portal_id,
                    sb.now(),
                    search=route.search,
                    private_app=grant.kind == "private_app",
                )
            fault = sb.draw_fault(method, path)
            entry["fault"] = fault
            if fault:
                sb.faults_injected[fault] += 1
            if fault == "429":
                raise ApiError(
                    429,
                    "You have reached your ten_secondly_rolling limit.",
                    "RATE_LIMITS",
                    extra={"errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"},
                )
            if fault in ("5xx", "500", "502", "503", "504"):
                resp = self._server_error(fault, cid)
                entry["status"] = resp.status_code
                return resp
            if fault in ("timeout", "reset"):
                entry["status"] = fault
                return await self._drop(fault, scope, send)
            delay = sb.latency_s()
            if delay:
                await sb.clock.sleep(delay)
            if route.kind == "api":
                self._check_access(route, call)
            resp = await route.handler(call)
            if fault == "lost_answer":
                # The write happened; the answer never reaches the client.
                entry["status"] = f"lost:{resp.status_code}"
                return await self._drop(sb.faults.lost_answer_as, scope, send)
        except ApiError as exc:
            resp = JSONResponse(exc.body(cid), status_code=exc.http_status)
            resp.headers.update(exc.headers)
            if exc.http_status == 429 and route is not None and route.search:
                extra_headers = {}
        except OAuthError as exc:
            resp = JSONResponse(exc.body(cid), status_code=exc.http_status)
        entry["status"] = resp.status_code
        if route is None or route.kind in ("api", "oauth"):
            # Every API answer carries it, unrouted 404s and 405s too.
            resp.headers["X-HubSpot-Correlation-Id"] = cid
            if call is not None:
                resp.headers.update(call.response_headers)
            if route is not None and not route.search:
                resp.headers.update(extra_headers)
        return resp

    def _check_access(self, route: Route, call: Call) -> None:
        grant = call.grant
        assert grant is not None
        if route.scopes:
            require_scopes(call, *route.scopes)
        portal = call.require_portal()
        need = {"campaigns": "professional", "single_send": "enterprise"}.get(route.tier or "")
        if need and TIER_ORDER[portal.marketing_tier] < TIER_ORDER[need]:
            raise ApiError(
                403,
                f"This endpoint requires Marketing Hub {need.capitalize()}; this account "
                f"has Marketing Hub {portal.marketing_tier.capitalize()}.",
                "FORBIDDEN",
                sub_category="PortalTierRequirement",
                context={"requiredTier": [f"MARKETING_{need.upper()}"]},
            )
        if route.tier == "publish" and not (
            portal.marketing_tier == "enterprise" or portal.transactional_addon
        ):
            raise ApiError(
                403,
                "Publishing emails requires Marketing Hub Enterprise or the transactional email "
                f"add-on; this account has Marketing Hub {portal.marketing_tier.capitalize()}.",
                "FORBIDDEN",
                sub_category="PortalTierRequirement",
                context={"requiredTier": ["MARKETING_ENTERPRISE", "TRANSACTIONAL_EMAIL_ADDON"]},
            )
        if (
            route.tier == "flows"
            and max(TIER_ORDER[portal.marketing_tier], TIER_ORDER[portal.sales_tier])
            < TIER_ORDER["professional"]
        ):
            # HubSpot answers a portal without workflows with a bare 403 naming no tier.
            raise ApiError(
                403,
                "This portal does not have access to workflows.",
                "FORBIDDEN",
                sub_category="PortalTierRequirement",
            )
        if route.tier == "sequences" and TIER_ORDER[portal.sales_tier] < TIER_ORDER["professional"]:
            raise ApiError(
                403,
                "The user does not have a Sales Hub or Service Hub Professional seat.",
                "FORBIDDEN",
                sub_category="PortalTierRequirement",
            )
        if route.tier == "transactional" and not portal.transactional_addon:
            raise ApiError(
                403,
                "This account does not have the transactional email add-on.",
                "FORBIDDEN",
                sub_category="PortalTierRequirement",
                context={"requiredTier": ["TRANSACTIONAL_EMAIL_ADDON"]},
            )

    def _server_error(self, fault: str, cid: str) -> Response:
        code = (
            int(fault) if fault.isdigit() else self.sandbox._fault_rng.choice([500, 502, 503, 504])
        )
        if code in (502, 504):  # the edge answers these, in HTML
            return HTMLResponse(
                f"<html><body><h1>{code}</h1>The server did not answer in time.</body></html>",
                status_code=code,
            )
        msg = "internal error" if code == 500 else "Service temporarily unavailable"
        return JSONResponse(
            {
                "status": "error",
                "message": msg,
                "correlationId": cid,
                "category": "INTERNAL_ERROR" if code == 500 else "SERVICE_UNAVAILABLE",
            },
            status_code=code,
        )

    async def _drop(self, kind: str, scope: dict[str, Any], send: Any) -> Response | None:
        sb = self.sandbox
        if sb.config.fault_style == "raise":
            if kind == "timeout":
                raise SimulatedTimeout("The read operation timed out (sandbox fault)")
            raise SimulatedReset("Connection reset by peer (sandbox fault)")
        if kind == "timeout":
            await asyncio.sleep(sb.faults.hang_s)
            return JSONResponse(
                {"status": "error", "message": "gateway timeout", "category": "INTERNAL_ERROR"},
                status_code=504,
            )
        # Start an answer and stop halfway: the server closes the connection.
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"status":', "more_body": True})
        return None


def create_sandbox_app(config: SandboxConfig | None = None) -> SandboxApp:
    """Build the sandbox; `app.state.sandbox` gives tests its state and admin operations."""
    return SandboxApp(Sandbox(config or SandboxConfig()))


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))
