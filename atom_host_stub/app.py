"""The host's web app: plugin routes, `GET /api/integrations`, the `GET /` status dashboard.

Importing this module needs the `api` extra (FastAPI, Jinja2); nothing else in the host does.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jinja2
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi_offline import FastAPIOffline

from atom_host_stub.auth import ApiKeyAuthenticator, CrossSiteRefused, Unauthorized
from atom_host_stub.config import STRICT_VARIABLE, TRUE_VALUES, read_environment
from atom_host_stub.contract import Principal
from atom_host_stub.crm_routes import PREFIX as CRM_PREFIX
from atom_host_stub.crm_routes import build_crm_router
from atom_host_stub.guard import RequestGuard, under
from atom_host_stub.host import (
    MCP_PATH,
    Host,
    MountRegistration,
    RouteRegistration,
    host_version,
)
from atom_host_stub.mcp_server import McpSlot
from atom_host_stub.mcp_server import available as mcp_available
from atom_host_stub.route_index import RouteIndex
from atom_host_stub.services import ServiceUnavailable
from atom_host_stub.sessions import (
    REVOKED_DIR,
    RevocationRecords,
    SessionAuthority,
    load_or_create_secret,
)
from atom_host_stub.sign_in import build_sign_in_router
from atom_host_stub.status import (
    IntegrationsReport,
    IntegrationState,
    for_caller,
    integration_state,
)

TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
DASHBOARD_REFRESH_S = 10
DOCS_ASSETS_URL = "/_docs-assets"  # Swagger UI and ReDoc files for /docs and /redoc
# The dashboard lists what needs a person's attention first.
ATTENTION_ORDER = {
    IntegrationState.FAILED: 0,
    IntegrationState.MISCONFIGURED: 1,
    IntegrationState.DEGRADED: 2,
    IntegrationState.NOT_CONNECTED: 3,
    IntegrationState.OK: 4,
    IntegrationState.DISABLED: 5,
}


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    # The same envelope the plugins answer with, so clients handle one error shape.
    return JSONResponse(
        {"ok": False, "error": {"code": code, "message": message}}, status, headers=headers
    )


def create_app(
    host: Host | None = None,
    *,
    env: Mapping[str, str] | None = None,
    demo: bool = False,
    strict: bool = False,
    serving_process: bool = False,
) -> FastAPI:
    """Build the app; plugins start in its lifespan (validate_config → startup → demo setup
    → routes), and shut down when it ends. A misconfigured plugin is left out with its
    reason shown; `strict` makes the lifespan raise StartupRefused instead."""
    host = host or Host.from_env(env, demo=demo)
    host.context.demo = host.context.demo or demo
    settings = host.settings
    sessions = SessionAuthority(
        load_or_create_secret(settings.data_dir, settings.session_secret),
        settings.api_keys,
        RevocationRecords(settings.data_dir / REVOKED_DIR),
        max_age_s=settings.session_max_age_s,
    )
    authenticator = ApiKeyAuthenticator(
        settings.api_keys, sessions, public_host=urlsplit(settings.public_url).netloc
    )
    require_principal, optional_principal = authenticator.dependencies()
    host.context.principal_dependency = require_principal
    host.context.optional_principal_dependency = optional_principal

    serving = {"ready": False}
    secret = load_or_create_secret(settings.data_dir, settings.session_secret)
    mcp = McpSlot()
    if mcp_available():
        # Served once plugins have registered their tools (in the lifespan, below).
        from starlette.routing import Route

        app_routes: list[Any] = [
            Route(MCP_PATH, mcp, methods=["GET", "POST", "DELETE"]),
            *mcp.auth_routes(host, authenticator, secret),  # OAuth for /mcp
        ]
    else:
        app_routes = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await host.start(strict=strict)
            if host.context.demo:
                await host.demo_setup(lambda m: _mount(app, m))
            await host.register_routes(lambda r: _include(app, r))
            async with AsyncExitStack() as stack:
                if mcp_available():
                    await stack.enter_async_context(mcp.serve(host, authenticator, secret))
                if serving_process:
                    settle_heap()
                serving["ready"] = True
                yield
        finally:
            serving["ready"] = False
            await host.stop()

    # /docs and /redoc load Swagger UI and ReDoc from files shipped in the fastapi-offline
    # package, not from a CDN: the API docs work offline and behind strict firewalls.
    app = FastAPIOffline(
        title="ATOM host",
        version=host_version(),
        lifespan=lifespan,
        static_url=DOCS_ASSETS_URL,
    )
    app.state.host = host
    app.router.routes.extend(app_routes)
    app.router.middleware_stack = RouteIndex(app.router)

    async def authenticate(scope: Any, receive: Any) -> None:
        dependency = host.context.principal_dependency
        assert dependency is not None
        await dependency(Request(scope, receive))

    authenticated = _AuthenticatedRoutes(host)
    app.add_middleware(
        RequestGuard,
        max_body_bytes=host.settings.max_body_bytes,
        authenticated=authenticated,
        unavailable=lambda path: _unavailable(host, path),
        authenticate=authenticate,
    )

    _document_host_answers(app, host.settings.max_body_bytes)

    @app.exception_handler(Unauthorized)
    async def _unauthorized(request: Request, exc: Unauthorized) -> Response:
        if _browser_navigation(request):
            # A person following a link (the dashboard's "Connect"): sign in, then come back.
            back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(
                "/sign-in?" + urlencode({"next": back}),
                status_code=303,
                headers={"Cache-Control": "no-store"},
            )
        return _error(401, "unauthorized", exc.message, {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(CrossSiteRefused)
    async def _cross_site(request: Request, exc: CrossSiteRefused) -> JSONResponse:
        return _error(403, "cross_site_refused", exc.message)

    @app.exception_handler(ServiceUnavailable)
    async def _no_service(request: Request, exc: ServiceUnavailable) -> JSONResponse:
        return _error(503, "service_unavailable", str(exc))

    app.include_router(build_sign_in_router(authenticator, settings, TEMPLATES))
    # The CRM whichever plugin provides it: the swap is visible over HTTP too.
    crm_router = build_crm_router(service_dependency("crm"))
    app.include_router(crm_router, prefix=CRM_PREFIX, tags=["CRM"])
    authenticated.host_routes.append((CRM_PREFIX, crm_router))  # every one needs a caller

    # For load balancers: cheap, public, and independent of HubSpot (a HubSpot outage must not
    # take every worker out of rotation); /api/integrations has the integrations' own health.
    @app.get("/_host/live", tags=["host"], summary="Liveness: the process answers")
    async def live() -> dict[str, bool]:
        return {"ok": True}

    @app.get(
        "/_host/ready",
        tags=["host"],
        summary="Readiness: plugins started and routes mounted (503 while starting or stopping)",
        responses={503: {"description": "Starting or shutting down"}},
    )
    async def ready() -> JSONResponse:
        if not serving["ready"]:
            return _error(503, "not_ready", "The host is starting or shutting down.")
        return JSONResponse({"ok": True})

    @app.get("/api/integrations", response_model=IntegrationsReport, tags=["host"])
    async def integrations(
        caller: Principal | None = Depends(optional_principal),  # noqa: B008
    ) -> IntegrationsReport:
        """Every integration's status, config issues, health, features and routes. Without an
        API key: status and messages only. With one: health details too (timings, and the
        caller's own tenant's connections), never another tenant's."""
        return for_caller(await host.report(), caller)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard(
        caller: Principal | None = Depends(optional_principal),  # noqa: B008
    ) -> HTMLResponse:
        # Anyone sees the status; a signed-in browser sees its own tenant's accounts too.
        report = for_caller(await host.report(), caller)
        html = TEMPLATES.get_template("dashboard.html").render(
            report=report,
            integrations=sorted(report.integrations, key=lambda i: ATTENTION_ORDER[i.status]),
            refresh_s=DASHBOARD_REFRESH_S,
        )
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    return app


def settle_heap() -> None:
    """Leave what start-up built (plugins, routes, models, schemas: hundreds of thousands of
    objects that live as long as the process) out of the garbage collector's scans. Frozen
    objects are still freed when their last reference goes, but a reference cycle among them
    is never collected, so this is for a process that serves one app until it exits.

    Without this every full collection walks all of it: about 150 ms each on a 2-core machine
    while serving, a stall every few hundred requests that shows in p99 and in CPU per
    request. `gc.freeze()` is the standard library's answer for a long-lived heap built once."""
    gc.collect()
    gc.freeze()


def _browser_navigation(request: Request) -> bool:
    """A browser opening a page (no API key, asks for HTML first), not an API client."""
    accept = request.headers.get("accept", "")
    return (
        request.method == "GET"
        and "authorization" not in request.headers
        and accept.split(",")[0].strip().startswith("text/html")
    )


def app_from_environment() -> FastAPI:
    """The app of one `serve --workers N` worker: its own host, built from the environment."""
    env = read_environment()
    strict = env.get(STRICT_VARIABLE, "") in TRUE_VALUES
    return create_app(Host.from_env(env), strict=strict, serving_process=True)


def _document_host_answers(app: FastAPI, max_body_bytes: int) -> None:
    """Add to the OpenAPI what the host answers for any route: 413 for a body over the limit."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                if isinstance(operation, dict) and "requestBody" in operation:
                    operation.setdefault("responses", {}).setdefault(
                        "413",
                        {
                            "description": f"The body is over {max_body_bytes} bytes "
                            "(ATOM_MAX_BODY_BYTES); nothing was read",
                            "content": {"application/json": {"schema": _ERROR_SCHEMA}},
                        },
                    )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


_ERROR_SCHEMA = {
    "type": "object",
    "required": ["ok", "error"],
    "properties": {
        "ok": {"type": "boolean", "enum": [False]},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}


class _AuthenticatedRoutes:
    """`(method, path) -> bool`: whether a plugin route depends on the host's principal
    dependency (needs a key or a session). Read off the registered routers' routes, again
    whenever routes were added."""

    def __init__(self, host: Host) -> None:
        self.host = host
        # The host's own routers whose every route needs a caller: (prefix, router).
        self.host_routes: list[tuple[str, Any]] = []
        self._seen = -1
        self._routes: list[tuple[str, Any, frozenset[str]]] = []

    def __call__(self, method: str, path: str) -> bool:
        if self._seen != len(self.host.routes):
            self._routes = [
                (r.prefix, route.path_regex, frozenset(route.methods or ()))
                for r in self.host.routes
                for route in getattr(r.router, "routes", [])
                if hasattr(route, "path_regex")
                and _depends_on(getattr(route, "dependant", None), self._principal())
            ] + [
                (prefix, route.path_regex, frozenset(route.methods or ()))
                for prefix, router in self.host_routes
                for route in router.routes
                if hasattr(route, "path_regex")
            ]
            self._seen = len(self.host.routes)
        return any(
            under(path, prefix) and method in methods and regex.match(path[len(prefix) :])
            for prefix, regex, methods in self._routes
        )

    def _principal(self) -> Any:
        return self.host.context.principal_dependency


def _depends_on(dependant: Any, call: Any) -> bool:
    if dependant is None or call is None:
        return False
    return any(
        d.call is call or _depends_on(d, call) for d in getattr(dependant, "dependencies", [])
    )


def _unavailable(host: Host, path: str) -> tuple[str, str] | None:
    """(plugin, reason) when `path` belongs to a plugin that failed (at start-up or later) or
    is left out for a configuration error: its routes answer 503 saying so, not 404."""
    records = host.plugins.records.values()
    if all(_serving(record) for record in records):
        return None  # on every request: the common case costs one look at each plugin
    for record in records:
        declared = record.manifest.route_prefixes if record.manifest else []
        if not any(under(path, p) for p in [*declared, *record.route_prefixes]):
            continue
        if _serving(record):
            return None
        _state, reason = integration_state(record, [])
        return record.name, host.redact(reason)
    return None


def _serving(record: Any) -> bool:
    """Whether a plugin's routes answer as usual: it runs, or is switched off on purpose."""
    return bool(record.disabled_reason or (record.active and not record.has_config_errors))


def _include(app: FastAPI, registration: RouteRegistration) -> None:
    tags: list[str | Enum] = list(registration.tags)
    app.include_router(registration.router, prefix=registration.prefix, tags=tags)


def _mount(app: FastAPI, registration: MountRegistration) -> None:
    if not registration.path.startswith("/") or registration.path == "/":
        raise ValueError(f"mount path {registration.path!r} must be a sub-path such as /sandbox")
    app.mount(registration.path, registration.app)


def service_dependency(capability: str) -> Callable[..., Any]:
    """A FastAPI dependency giving the selected provider's `capability` service for the
    authenticated caller — what a product route uses instead of naming HubSpot."""

    async def principal(request: Request) -> Principal:
        host: Host = request.app.state.host
        dependency = host.context.principal_dependency
        assert dependency is not None
        result: Principal = await dependency(request)
        return result

    async def service(request: Request, caller: Principal = Depends(principal)) -> Any:  # noqa: B008
        host: Host = request.app.state.host
        return await host.services.get_service(capability, caller)

    return service
