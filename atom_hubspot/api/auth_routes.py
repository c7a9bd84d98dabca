"""Connect, check, refresh and disconnect HubSpot: `/auth/hubspot…` and `/api/hubspot/auth/…`.

No answer ever contains a token. The callback is a browser redirect from HubSpot: it completes
only for the principal the browser is signed in as (the host's session cookie, or an API key),
and only when that principal started the flow — a forwarded link opened in someone else's
browser connects nothing. Where the browser goes afterwards comes from configuration
(HUBSPOT_RETURN_URL), never from the request.
"""

import html
import logging
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, SecretStr, field_validator

from atom_host_stub.contract import HostContext, Principal
from atom_hubspot.api.deps import PortalQuery, principal_dependency
from atom_hubspot.api.envelope import Envelope, envelope_router, error_response, ok
from atom_hubspot.errors import HubSpotError
from atom_hubspot.oauth.connections import ConnectionInfo
from atom_hubspot.oauth.flow import AuthorizeStart, CompletedConnection, OAuthSignInRequired
from atom_hubspot.runtime import runtime_of

log = logging.getLogger("atom_hubspot.api")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache", "Referrer-Policy": "no-referrer"}
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


class StartRequest(BaseModel):
    use_pkce: bool | None = Field(
        default=None,
        description="Send a PKCE challenge and code_verifier (default: HUBSPOT_USE_PKCE, on). "
        "HubSpot accepts code_verifier at the code exchange.",
    )


class AuthStatus(BaseModel):
    connected: bool = Field(description="True when at least one portal is connected and usable")
    default_portal_id: int | None = Field(default=None, examples=[1234567])
    connections: list[ConnectionInfo]


class DisconnectResult(BaseModel):
    portal_id: int = Field(examples=[1234567])
    revocation: Literal["revoked", "failed", "skipped", "not_applicable"] = Field(
        description="What HubSpot said to revoking the refresh token (best effort)"
    )
    revoked: bool
    local_deleted: bool = Field(description="Local tokens and details were deleted")
    message: str


class SaveTokenRequest(BaseModel):
    token: SecretStr = Field(
        description="A private-app (or service-key) access token; checked against HubSpot, "
        "stored encrypted, never returned.",
        examples=["pat-na1-…"],
    )

    @field_validator("token")
    @classmethod
    def _bearer_token_shape(cls, v: SecretStr) -> SecretStr:
        # It goes into an Authorization header: printable ASCII, no spaces (RFC 6750 b64token).
        # The message never repeats the value.
        raw = v.get_secret_value()
        if not 8 <= len(raw) <= 2048 or not all("!" <= ch <= "~" for ch in raw):
            raise ValueError(
                "must be the token as HubSpot shows it: 8 to 2048 printable ASCII characters, "
                "no spaces"
            )
        return v


class DefaultRequest(BaseModel):
    portal_id: int = Field(ge=1, examples=[1234567])


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept.split(",")[0]


def _page(title: str, body: str, status: int, link: tuple[str, str] | None = None) -> HTMLResponse:
    action = (
        f"<p><a href='{html.escape(link[0], quote=True)}'>{html.escape(link[1])}</a></p>"
        if link
        else ""
    )
    doc = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        "<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;"
        "padding:0 1rem;color:#213343}h1{font-size:1.4rem}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(body)}</p>{action}</body></html>"
    )
    headers = {**NO_STORE, "Content-Security-Policy": PAGE_CSP}
    return HTMLResponse(doc, status_code=status, headers=headers)


def _connected_text(info: CompletedConnection) -> str:
    portal = f"HubSpot portal {info.portal_id}"
    if info.hub_domain:
        portal += f" ({info.hub_domain})"
    approver = info.hubspot_user or (
        f"HubSpot user {info.hubspot_user_id}" if info.hubspot_user_id else "a HubSpot user"
    )
    return (
        f"{portal} is connected to ATOM user {info.user_id} (tenant {info.tenant_id}), "
        f"approved in HubSpot by {approver}. You can close this window."
    )


def _no_principal() -> None:
    return None


def _refused(request: Request, err: HubSpotError) -> Response:
    """The callback's answer when nothing was connected: a page for a browser, else JSON."""
    log.info("OAuth callback refused: %s", err.code)
    if _wants_html(request):
        link = None
        if isinstance(err, OAuthSignInRequired):
            # After signing in, the browser comes back to this very callback.
            back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            link = ("/sign-in?" + urlencode({"next": back}), "Sign in to ATOM")
        return _page("HubSpot was not connected", err.message, err.http_status, link)
    resp = error_response(err)
    resp.headers.update(NO_STORE)
    return resp


def _connected(request: Request, info: CompletedConnection, return_url: str | None) -> Response:
    """The callback's answer once connected: HUBSPOT_RETURN_URL, a page, or JSON."""
    if return_url:
        return RedirectResponse(return_url, status_code=302, headers=NO_STORE)
    if _wants_html(request):
        return _page("HubSpot connected", _connected_text(info), 200)
    return JSONResponse(ok(info.model_dump(mode="json")), headers=NO_STORE)


def build_routers(context: HostContext) -> tuple[APIRouter, APIRouter]:
    """(router for prefix "/auth/hubspot", router for prefix "/api/hubspot/auth")."""
    principal_dep = principal_dependency(context)
    optional_dep = context.optional_principal_dependency or _no_principal
    CurrentPrincipal = Annotated[Principal, Depends(principal_dep)]
    MaybePrincipal = Annotated[Principal | None, Depends(optional_dep)]

    browser = envelope_router()
    api = envelope_router()

    # ------------------------------------------------------------ connect

    @browser.post(
        "",
        response_model=Envelope[AuthorizeStart],
        summary="Start connecting HubSpot (authorize URL as JSON)",
        description="Returns HubSpot's authorize URL for the caller; open it in a browser. "
        "The link is single-use and expires in 10 minutes.",
    )
    async def start_json(
        principal: CurrentPrincipal,
        body: Annotated[StartRequest | None, Body()] = None,
    ) -> Any:
        runtime = runtime_of(context)
        start = await runtime.oauth.start(principal, use_pkce=body.use_pkce if body else None)
        return JSONResponse(ok(start.model_dump(mode="json")), headers=NO_STORE)

    @browser.get(
        "",
        response_class=RedirectResponse,
        status_code=302,
        summary="Start connecting HubSpot (browser redirect)",
        responses={302: {"description": "Redirect to HubSpot's authorize page"}},
    )
    async def start_redirect(
        principal: CurrentPrincipal,
        pkce: Annotated[
            bool | None, Query(description="PKCE on or off (default: HUBSPOT_USE_PKCE, on)")
        ] = None,
    ) -> Response:
        runtime = runtime_of(context)
        start = await runtime.oauth.start(principal, use_pkce=pkce)
        return RedirectResponse(start.url, status_code=302, headers=NO_STORE)

    @browser.get(
        "/callback",
        summary="HubSpot's redirect back after the user approves or declines",
        description="Browser-facing. The browser must be signed in (host session, or an API "
        "key) as the user who started connecting; the state must be theirs, unexpired and "
        "unused. Exchanges the code and stores the connection encrypted; then redirects to "
        "HUBSPOT_RETURN_URL or shows a page naming the portal and the HubSpot user who "
        "approved. Refusals store nothing and say what to do.",
        response_model=None,
        responses={
            200: {"description": "Connected (page, or JSON for API clients)"},
            302: {"description": "Connected; redirect to HUBSPOT_RETURN_URL"},
            400: {"description": "Unknown, expired or used state; access denied; bad code"},
            401: {"description": "This browser is not signed in to ATOM"},
            403: {"description": "The state belongs to another user"},
        },
    )
    async def callback(
        request: Request,
        principal: MaybePrincipal,
        code: Annotated[str | None, Query(max_length=2048)] = None,
        state: Annotated[str | None, Query(max_length=512)] = None,
        error: Annotated[str | None, Query(max_length=256)] = None,
    ) -> Response:
        flow = runtime_of(context).oauth
        try:
            info = await flow.complete(code=code, state=state, error=error, principal=principal)
        except HubSpotError as err:
            return _refused(request, err)
        return _connected(request, info, flow.return_url)

    # ------------------------------------------------------------ manage

    @browser.post(
        "/refresh",
        response_model=Envelope[ConnectionInfo],
        summary="Refresh the access token now",
        description="Refreshes the chosen (default) connection's access token. A dead refresh "
        "token answers 401 reconnect_required.",
    )
    async def refresh(principal: CurrentPrincipal, portal_id: PortalQuery = None) -> Any:
        info = await runtime_of(context).connections.refresh(principal, portal_id)
        return ok(info.model_dump(mode="json"))

    @browser.delete(
        "",
        response_model=Envelope[DisconnectResult],
        summary="Disconnect HubSpot",
        description="Revokes the refresh token at HubSpot (best effort; the outcome is "
        "reported), then deletes the local tokens and portal details.",
    )
    async def disconnect(principal: CurrentPrincipal, portal_id: PortalQuery = None) -> Any:
        result = await runtime_of(context).connections.disconnect(principal, portal_id)
        return ok(DisconnectResult(**result).model_dump(mode="json"))

    @api.get(
        "/status",
        response_model=Envelope[AuthStatus],
        summary="Connected portals, scopes, token expiry and status (never tokens)",
    )
    async def status(principal: CurrentPrincipal) -> Any:
        conns = await runtime_of(context).connections.list(principal)
        default = next((c.portal_id for c in conns if c.is_default), None)
        body = AuthStatus(
            connected=any(c.status == "connected" for c in conns),
            default_portal_id=default,
            connections=conns,
        )
        return ok(body.model_dump(mode="json"))

    @api.post(
        "/save",
        response_model=Envelope[ConnectionInfo],
        summary="Connect with a private-app token",
        description="Checks the token against HubSpot (account details) first, then stores it "
        "encrypted. The token is never returned.",
    )
    async def save(principal: CurrentPrincipal, body: SaveTokenRequest) -> Any:
        info = await runtime_of(context).connections.save_private_app_token(
            principal, body.token.get_secret_value()
        )
        return ok(info.model_dump(mode="json"))

    @api.post(
        "/default",
        response_model=Envelope[ConnectionInfo],
        summary="Choose the default portal",
    )
    async def set_default(principal: CurrentPrincipal, body: DefaultRequest) -> Any:
        info = await runtime_of(context).connections.set_default(principal, body.portal_id)
        return ok(info.model_dump(mode="json"))

    return browser, api


__all__ = ["AuthStatus", "DisconnectResult", "SaveTokenRequest", "build_routers"]
