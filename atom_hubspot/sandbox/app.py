"""The sandbox ASGI application: authentication, limits, injected faults and dispatch."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import Counter, deque
from typing import Any

from starlette.datastructures import QueryParams, State
from starlette.responses import HTMLResponse, JSONResponse, Response

from atom_hubspot.sandbox import (
    admin,
    api_crm,
    api_email_publish,
    api_email_stats,
    api_lists,
    api_marketing,
    api_oauth,
    api_properties,
    journal,
    webhooks,
)
from atom_hubspot.sandbox.config import (
    DEMO_HUB_DOMAIN,
    DEMO_PORTAL_ID,
    DEMO_USER_EMAIL,
    FaultConfig,
    PortalConfig,
    SandboxConfig,
)
from atom_hubspot.sandbox.errors import ApiError, OAuthError, SimulatedReset, SimulatedTimeout
from atom_hubspot.sandbox.limits import LimitConfig, RateLimiter
from atom_hubspot.sandbox.routing import Call, Route, Router
from atom_hubspot.sandbox.state import Portal
from atom_hubspot.sandbox.tokens import TokenGrant, random_uuid

# Every scope the sandbox knows; private-app tokens get all of them unless told otherwise.
ALL_SCOPES = [
    "oauth",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.schemas.contacts.read",
    "crm.schemas.contacts.write",
    "crm.schemas.companies.read",
    "crm.schemas.companies.write",
    "crm.schemas.deals.read",
    "crm.schemas.deals.write",
    "crm.lists.read",
    "crm.lists.write",
    "marketing.campaigns.read",
    "marketing.campaigns.write",
    "content",
    "marketing-email",
    "transactional-email",
]
_SEEDED: dict[tuple[object, ...], Portal] = {}
TIER_ORDER = {"free": 0, "starter": 1, "professional": 2, "enterprise": 3}

# The endpoint tables the sandbox serves, matched in this order. A new endpoint module
# defines `routes = Router()` and is added here.
ROUTE_TABLES: tuple[Router, ...] = (
    admin.routes,
    api_crm.routes,
    api_lists.routes,
    api_marketing.routes,
    api_email_publish.routes,
    api_email_stats.routes,
    api_oauth.routes,
    api_properties.routes,
    webhooks.routes,
    journal.routes,
)


class Sandbox:
    """All state of one sandbox: portals, tokens, limits, faults and the call record."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock = config.clock
        self.router = Router.joined(*ROUTE_TABLES)
        self.offset = 0.0
        self.limits = RateLimiter(
            LimitConfig(
                requests_per_10s=config.requests_per_10s,
                window_s=config.window_s,
                private_app_requests_per_10s=config.private_app_requests_per_10s,
                search_per_s=config.search_per_s,
                search_window_s=config.search_window_s,
                daily_limit=config.daily_limit,
                retry_after=config.retry_after,
            )
        )
        self.set_faults(config.faults)
        self.portals: dict[int, Portal] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, TokenGrant] = {}
        self.access_tokens: dict[str, TokenGrant] = {}
        self.private_tokens: dict[str, TokenGrant] = {}
        # Client-credentials (app) tokens: token -> (scopes, expires at).
        self.app_tokens: dict[str, tuple[list[str], float]] = {}
        self.calls: Counter[str] = Counter()
        self.log: deque[dict[str, Any]] = deque(maxlen=5000)
        self.faults_injected: Counter[str] = Counter()
        self.reset_data()
        from atom_hubspot.sandbox.webhooks import WebhookDispatcher

        self.webhooks = WebhookDispatcher(self)
        for token, portal_id in config.private_app_tokens.items():
            self.add_private_app_token(portal_id, token)

    # ------------------------------------------------------------------ time

    def now(self) -> float:
        return float(self.clock.now()) + self.offset

    # ------------------------------------------------------------------ state

    def portal_configs(self) -> list[PortalConfig]:
        if self.config.portals is not None:
            return self.config.portals
        return [
            PortalConfig(
                portal_id=DEMO_PORTAL_ID, hub_domain=DEMO_HUB_DOMAIN, seed=self.config.seed
            )
        ]

    def reset_data(self) -> None:
        """Back to the initial portals and seed data; tokens stay valid."""
        self.portals = {}
        for pc in self.portal_configs():
            self.add_portal(pc)
        self.limits.reset()

    def add_portal(self, pc: PortalConfig) -> Portal:
        from atom_hubspot.sandbox.seed import seed_portal

        portal = Portal(
            portal_id=pc.portal_id,
            hub_domain=pc.hub_domain or f"portal-{pc.portal_id}.hubspot.sandbox",
            account_type=pc.account_type,
            time_zone=pc.time_zone,
            company_currency=pc.company_currency,
            data_hosting_location=pc.data_hosting_location,
            ui_domain=pc.ui_domain,
            marketing_tier=pc.marketing_tier,
            transactional_addon=pc.transactional_addon,
            user_email=DEMO_USER_EMAIL
            if pc.portal_id == DEMO_PORTAL_ID
            else f"owner@portal-{pc.portal_id}.example",
            extra_properties={k: set(v) for k, v in self.config.extra_properties.items()},
        )
        portal.seed_default_pipeline(self.now())
        if pc.seed:
            # Seeding is deterministic, so a seeded portal is built once per (seed, day) and
            # copied afterwards: tests create many sandboxes. (Seed dates are relative to the
            # day; times clamped to "now" at build time stay in the past for later copies.)
            key = (
                self.config.seed_value,
                int(self.now() // 86_400),
                repr(pc),
                repr(sorted(self.config.extra_properties.items())),
            )
            template = _SEEDED.get(key)
            if template is None:
                seed_portal(
                    portal,
                    random.Random(self.config.seed_value + pc.portal_id),  # noqa: S311
                    self.now(),
                )
                _SEEDED.clear()
                _SEEDED[key] = template = portal
            portal = template.clone()
        self.portals[pc.portal_id] = portal
        return portal

    def portal(self, portal_id: int) -> Portal:
        p = self.portals.get(portal_id)
        if p is None:
            raise ApiError(
                404, f"Portal {portal_id} does not exist in the sandbox", "OBJECT_NOT_FOUND"
            )
        return p

    # ------------------------------------------------------------------ tokens

    def new_token(self, prefix: str) -> str:
        return prefix + random_uuid().hex

    def add_private_app_token(
        self, portal_id: int, token: str | None = None, scopes: list[str] | None = None
    ) -> str:
        token = token or "pat-na1-" + str(random_uuid())
        self.private_tokens[token] = TokenGrant(
            portal_id,
            list(scopes or ALL_SCOPES),
            7000001,
            f"owner@portal-{portal_id}",
            "private_app",
        )
        return token

    def bearer(self, headers: dict[str, str]) -> TokenGrant:
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )
        grant = self.private_tokens.get(token) or self.access_tokens.get(token)
        if grant is None:
            raise ApiError(
                401,
                "Authentication credentials not found. The token is not valid "
                "or not known to this sandbox.",
                "INVALID_AUTHENTICATION",
            )
        if grant.expires_at is not None and grant.expires_at <= self.now():
            ago = int(self.now() - grant.expires_at)
            raise ApiError(
                401,
                f"The OAuth token used to make this call expired {ago} second(s) ago.",
                "EXPIRED_AUTHENTICATION",
                context={"expiredTimestamp": [str(grant.expires_at)]},
            )
        if grant.portal_id not in self.portals:
            raise ApiError(401, "The portal of this token does not exist", "INVALID_AUTHENTICATION")
        return grant

    # ------------------------------------------------------------------ faults

    def set_faults(self, faults: FaultConfig) -> None:
        self.faults = faults.model_copy(deep=True)
        self._fault_rng = random.Random(faults.seed)  # noqa: S311 - repeatable faults

    def draw_fault(self, method: str, path: str) -> str | None:
        f = self.faults
        if f.paths is not None and not any(p in path for p in f.paths):
            return None
        if f.methods is not None and method.upper() not in [m.upper() for m in f.methods]:
            return None
        if f.script:
            return f.script.pop(0)
        r = self._fault_rng.random()
        for kind, rate in (
            ("5xx", f.error_rate_5xx),
            ("timeout", f.timeout_rate),
            ("reset", f.reset_rate),
            ("lost_answer", f.lost_answer_rate),
        ):
            if kind == "lost_answer" and method == "GET":
                continue
            if r < rate:
                return kind
            r -= rate
        return None

    def latency_s(self) -> float:
        f = self.faults
        if not f.latency_ms and not f.latency_jitter_ms:
            return 0.0
        return (f.latency_ms + self._fault_rng.random() * f.latency_jitter_ms) / 1000.0

    def sends(self, portal_id: int | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for p in self.portals.values():
            if portal_id is None or p.portal_id == portal_id:
                out += p.sends
        return sorted(out, key=lambda s: s["requestedAt"])


class SandboxApp:
    """ASGI callable; `app.state.sandbox` is the Sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
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
            route, params, version = sb.router.match(method, path, sb.config.api_versions)
            entry["route"] = route.name
            call = Call(sb, method, path, params, query, body, headers, root, version, cid)
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
        if route.scopes and not any(s in grant.scopes for s in route.scopes):
            raise ApiError(
                403,
                "This app hasn't been granted all required scopes to make this call. "
                "Read more about required scopes here: https://developers.hubspot.com/scopes.",
                "MISSING_SCOPES",
                errors=[
                    {
                        "message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": list(route.scopes)},
                    }
                ],
            )
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
