"""The host's sign-in and sign-out pages: a browser trades an API key for a session cookie.

`GET /sign-in` shows the form (or who is signed in), `POST /sign-in` checks the key and sets
the cookie (HttpOnly, SameSite=Lax, Secure on https or when configured), `POST /sign-out` ends
the session for every process. Both POSTs refuse cross-site requests (login CSRF too). `next`
may only be a path on this host, so the form cannot send anyone elsewhere.
"""

from __future__ import annotations

from typing import Annotated

import jinja2
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from atom_host_stub.auth import ApiKeyAuthenticator
from atom_host_stub.config import HostSettings
from atom_host_stub.contract import Principal
from atom_host_stub.sessions import COOKIE_NAME, cross_site_refusal

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def safe_next(value: str | None) -> str:
    """A path on this host, else "/": never another host (`//evil`, `/\\evil`, `https:`)."""
    if (
        not value
        or len(value) > 2048
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(ch) < 0x21 for ch in value)
    ):
        return "/"
    return value


def build_sign_in_router(
    authenticator: ApiKeyAuthenticator, settings: HostSettings, templates: jinja2.Environment
) -> APIRouter:
    sessions = authenticator.sessions
    assert sessions is not None
    router = APIRouter(include_in_schema=False)
    hours = max(1, settings.session_max_age_s // 3600)

    def page(
        *, principal: Principal | None, next_path: str = "/", problem: str = "", status: int = 200
    ) -> HTMLResponse:
        html = templates.get_template("sign_in.html").render(
            principal=principal, next=next_path, problem=problem, hours=hours
        )
        return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)

    def current(request: Request) -> Principal | None:
        cookie = request.cookies.get(COOKIE_NAME)
        return sessions.principal_for(cookie) if cookie else None

    @router.get("/sign-in", response_class=HTMLResponse)
    async def sign_in_page(request: Request, next: str | None = None) -> HTMLResponse:
        return page(principal=current(request), next_path=safe_next(next))

    @router.post("/sign-in", response_model=None)
    async def sign_in(
        request: Request,
        api_key: Annotated[str, Form(max_length=4096)] = "",
        next: Annotated[str, Form(max_length=2048)] = "/",
    ) -> Response:
        next_path = safe_next(next)
        refusal = cross_site_refusal(
            request.method, request.headers, authenticator.own_hosts(request.headers)
        )
        if refusal:
            return page(
                principal=None, next_path=next_path, problem=f"Refused: {refusal}.", status=403
            )
        principal = authenticator.principal_for_key(api_key) if api_key.strip() else None
        if principal is None:
            return page(
                principal=None,
                next_path=next_path,
                problem="That API key is not valid. Use a key from ATOM_API_KEYS.",
                status=401,
            )
        issued = sessions.issue(api_key.strip(), principal)
        response = RedirectResponse(next_path, status_code=303, headers=PAGE_HEADERS)
        response.set_cookie(
            COOKIE_NAME,
            issued.token,
            max_age=issued.max_age_s,
            path="/",
            httponly=True,
            samesite="lax",
            secure=settings.session_cookie_secure or request.url.scheme == "https",
        )
        return response

    @router.post("/sign-out", response_model=None)
    async def sign_out(request: Request) -> Response:
        refusal = cross_site_refusal(
            request.method, request.headers, authenticator.own_hosts(request.headers)
        )
        if refusal:
            return page(principal=current(request), problem=f"Refused: {refusal}.", status=403)
        cookie = request.cookies.get(COOKIE_NAME)
        if cookie:
            sessions.revoke(cookie)
        response = RedirectResponse("/sign-in", status_code=303, headers=PAGE_HEADERS)
        response.delete_cookie(
            COOKIE_NAME,
            path="/",
            httponly=True,
            samesite="lax",
            secure=settings.session_cookie_secure or request.url.scheme == "https",
        )
        return response

    return router
