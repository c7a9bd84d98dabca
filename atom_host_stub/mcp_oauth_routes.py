"""The HTTP side of the host's OAuth for `/mcp`: the SDK's authorization-server and
protected-resource routes over `mcp_auth.HostOAuthProvider`, and the host's consent page
(`/oauth/consent`), where the signed-in user allows or denies a client."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from mcp.server.auth.provider import construct_redirect_uri

from atom_host_stub.contract import Principal
from atom_host_stub.mcp_auth import ACCESS_TTL_S, CONSENT_PATH, SCOPE, HostOAuthProvider


def consent_routes(
    provider: HostOAuthProvider,
    sessions: Any,
    own_hosts: Callable[[Any], frozenset[str]],
    templates_dir: Path,
) -> list[Any]:
    """`GET|POST /oauth/consent`: the signed-in user allows or denies a pending authorization.
    Not signed in: to `/sign-in`, then back here."""
    import jinja2
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, RedirectResponse, Response
    from starlette.routing import Route

    from atom_host_stub.sessions import COOKIE_NAME, cross_site_refusal

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )

    def page(status: int, form_target: str = "", **values: Any) -> HTMLResponse:
        defaults = {"problem": "", "consent_path": CONSENT_PATH, "hours": ACCESS_TTL_S // 3600}
        html = env.get_template("mcp_consent.html").render(**{**defaults, **values})
        # The form posts here; the answer then redirects to the client's own redirect URI,
        # which browsers check against form-action too.
        action = f"'self' {form_target}".strip()
        headers = {
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            f"form-action {action}; frame-ancestors 'none'",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
        }
        return HTMLResponse(html, status_code=status, headers=headers)

    def problem(status: int, text: str) -> HTMLResponse:
        return page(status, problem=text)

    def signed_in(request: Request) -> Principal | None:
        cookie = request.cookies.get(COOKIE_NAME)
        found: Principal | None = sessions.principal_for(cookie) if cookie else None
        return found

    async def pending_client(sealed: str) -> tuple[dict[str, Any], Any] | None:
        pending = provider.open_request(sealed)
        if pending is None:
            return None
        client = await provider.get_client(str(pending.get("c", "")))
        return None if client is None else (pending, client)

    expired = (
        "This authorization request is not valid or has expired: start again from your MCP client."
    )

    async def show(request: Request) -> Response:
        sealed = request.query_params.get("request", "")
        found = await pending_client(sealed)
        if found is None:
            return problem(400, expired)
        principal = signed_in(request)
        if principal is None:
            back = f"{CONSENT_PATH}?request={quote(sealed)}"
            return RedirectResponse(
                f"/sign-in?next={quote(back, safe='')}",
                status_code=303,
                headers={"Cache-Control": "no-store"},
            )
        pending, client = found
        redirect = urlsplit(str(pending["r"]))
        return page(
            200,
            form_target=f"{redirect.scheme}://{redirect.netloc}",
            client_name=client.client_name or client.client_id,
            principal=principal,
            resource=provider.resource,
            redirect_host=redirect.netloc,
            request=sealed,
        )

    async def answer(request: Request) -> Response:
        refusal = cross_site_refusal(request.method, request.headers, own_hosts(request.headers))
        if refusal:
            return problem(403, f"Refused: {refusal}.")
        async with request.form(max_files=0, max_fields=4, max_part_size=16384) as form:
            sealed = str(form.get("request") or "")
            decision = str(form.get("decision") or "")
        found = await pending_client(sealed)
        if found is None:
            return problem(400, expired)
        principal = signed_in(request)
        if principal is None:
            return problem(401, "Your session has ended: sign in again, then start again.")
        pending, _client = found
        state = pending.get("s")
        if decision != "allow":
            target = construct_redirect_uri(str(pending["r"]), error="access_denied", state=state)
        else:
            code = await provider.grant_code(pending, principal)
            target = construct_redirect_uri(str(pending["r"]), code=code, state=state)
        return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})

    return [
        Route(CONSENT_PATH, show, methods=["GET"]),
        Route(CONSENT_PATH, answer, methods=["POST"]),
    ]


def oauth_routes(
    provider: HostOAuthProvider,
    sessions: Any,
    own_hosts: Callable[[Any], frozenset[str]],
    templates_dir: Path,
) -> list[Any]:
    """Every OAuth route: the SDK's authorization server and protected resource metadata, and
    the host's consent page. ValueError when the public URL cannot be an issuer (plain http
    off this machine: RFC 8414 requires https)."""
    from mcp.server.auth.routes import create_auth_routes, create_protected_resource_routes
    from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
    from pydantic import AnyHttpUrl

    issuer = AnyHttpUrl(provider.issuer)
    return [
        *create_auth_routes(
            provider,
            issuer_url=issuer,
            client_registration_options=ClientRegistrationOptions(
                enabled=True, valid_scopes=[SCOPE], default_scopes=[SCOPE]
            ),
            revocation_options=RevocationOptions(enabled=True),
        ),
        *create_protected_resource_routes(
            AnyHttpUrl(provider.resource),
            [issuer],
            scopes_supported=[SCOPE],
            resource_name="ATOM CRM and marketing tools",
        ),
        *consent_routes(provider, sessions, own_hosts, templates_dir),
    ]
