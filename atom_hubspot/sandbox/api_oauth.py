"""OAuth 2.0: the authorize page (approve or deny), the token endpoint (code and refresh
grants), introspection and revocation — date-versioned and legacy v1 paths."""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.responses import HTMLResponse, RedirectResponse, Response

from atom_hubspot.sandbox.errors import ApiError, OAuthError
from atom_hubspot.sandbox.routing import Call, Router, json_response, no_content
from atom_hubspot.sandbox.tokens import TokenGrant, random_uuid

# This module's endpoints; the sandbox app serves the tables it lists.
routes = Router()

TOKEN_PATHS = ("/oauth/v1/token", "/oauth/{date}/token")


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    q = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(q)))


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;"
        "color:#213343}button{font-size:1rem;padding:.6rem 1.4rem;margin-right:.6rem}"
        ".approve{background:#ff7a59;color:#fff;border:0}li{margin:.2rem 0}</style>"
        f"</head><body>{body}</body></html>",
        status_code=status,
    )


def _error_page(message: str) -> HTMLResponse:
    return _page(
        "Authorization error",
        f"<h1>Authorization error</h1><p id='error'>{html.escape(message)}</p>",
        400,
    )


def _authorize_params(call: Call, source: dict[str, str]) -> dict[str, str] | HTMLResponse:
    cfg = call.sandbox.config
    client_id = source.get("client_id", "")
    redirect_uri = source.get("redirect_uri", "")
    if client_id != cfg.client_id:
        return _error_page("Unknown client_id: this app is not known to the sandbox.")
    if not redirect_uri or not redirect_uri.startswith(("http://", "https://")):
        return _error_page("redirect_uri is missing or not an absolute http(s) URL.")
    if cfg.redirect_uris is not None and redirect_uri not in cfg.redirect_uris:
        return _error_page("redirect_uri is not one of this app's registered redirect URLs.")
    if not source.get("scope", "").strip():
        return _error_page("scope is missing.")
    return source


@routes.add("GET", "oauth.authorize", "/oauth/authorize", kind="page")
async def authorize_page(call: Call) -> Response:
    params = _authorize_params(call, dict(call.query))
    if isinstance(params, HTMLResponse):
        return params
    sb = call.sandbox
    scopes = params["scope"].split()
    optional = params.get("optional_scope", "").split()
    hidden = "".join(
        f"<input type='hidden' name='{html.escape(k)}' value='{html.escape(v)}'>"
        for k, v in params.items()
    )
    portal_options = "".join(
        f"<option value='{pid}'>{html.escape(p.hub_domain)} ({pid})</option>"
        for pid, p in sb.portals.items()
    )
    scope_items = "".join(f"<li class='scope'>{html.escape(s)}</li>" for s in scopes)
    optional_items = "".join(f"<li class='optional-scope'>{html.escape(s)}</li>" for s in optional)
    action = html.escape(call.root_path + "/oauth/authorize")
    body = (
        f"<h1>Connect <span id='app-name'>{html.escape(sb.config.app_name)}</span></h1>"
        "<p>This app is asking for access to your HubSpot account (offline sandbox).</p>"
        f"<h2>Requested scopes</h2><ul id='scopes'>{scope_items}</ul>"
        + (
            f"<h2>Optional scopes</h2><ul id='optional-scopes'>{optional_items}</ul>"
            if optional
            else ""
        )
        + f"<form method='post' action='{action}'>{hidden}"
        f"<label>Account <select name='portal_id' id='portal'>{portal_options}</select></label>"
        "<p><button class='approve' id='approve' name='decision' value='approve' "
        "type='submit'>Connect app</button>"
        "<button id='deny' name='decision' value='deny' type='submit'>Cancel</button></p>"
        "</form>"
    )
    return _page(f"Connect {sb.config.app_name}", body)


@routes.add("POST", "oauth.authorize.decide", "/oauth/authorize", kind="page")
async def authorize_decide(call: Call) -> Response:
    form = call.form()
    params = _authorize_params(call, form)
    if isinstance(params, HTMLResponse):
        return params
    sb = call.sandbox
    redirect_uri = form["redirect_uri"]
    state = form.get("state")
    extra = {"state": state} if state is not None else {}
    if form.get("decision") != "approve":
        return RedirectResponse(
            _with_query(
                redirect_uri,
                {
                    "error": "access_denied",
                    "error_description": "The user declined to connect the app",
                    **extra,
                },
            ),
            302,
        )
    try:
        portal_id = int(form.get("portal_id") or next(iter(sb.portals)))
    except (ValueError, StopIteration):
        return _error_page("No such account.")
    if portal_id not in sb.portals:
        return _error_page("No such account.")
    code = sb.new_token("")
    sb.codes[code] = {
        "client_id": form["client_id"],
        "redirect_uri": redirect_uri,
        "portal_id": portal_id,
        "scopes": form["scope"].split() + form.get("optional_scope", "").split(),
        "expires_at": sb.now() + sb.config.auth_code_ttl_s,
        "code_challenge": form.get("code_challenge"),
        "code_challenge_method": form.get("code_challenge_method", "plain"),
    }
    return RedirectResponse(_with_query(redirect_uri, {"code": code, **extra}), 302)


def _client(call: Call, form: dict[str, str]) -> None:
    cfg = call.sandbox.config
    if form.get("client_id") != cfg.client_id:
        raise OAuthError("invalid_client", "BAD_CLIENT_ID", "missing or unknown client id")
    if form.get("client_secret") != cfg.client_secret:
        raise OAuthError("invalid_client", "BAD_CLIENT_SECRET", "missing or invalid client secret")


def _form(call: Call) -> dict[str, str]:
    if "application/x-www-form-urlencoded" not in call.headers.get("content-type", ""):
        raise OAuthError(
            "invalid_request",
            "BAD_REQUEST",
            "the token endpoint takes application/x-www-form-urlencoded bodies",
        )
    return call.form()


def _issue(call: Call, portal_id: int, scopes: list[str], refresh: str | None) -> dict[str, Any]:
    sb = call.sandbox
    portal = sb.portal(portal_id)
    if refresh is None or sb.config.rotate_refresh_tokens:
        if refresh is not None:
            sb.refresh_tokens.pop(refresh, None)
        refresh = "na1-" + str(random_uuid())
        sb.refresh_tokens[refresh] = TokenGrant(
            portal_id, scopes, portal.user_id, portal.user_email, "oauth"
        )
    access = "CN" + base64.urlsafe_b64encode(secrets.token_bytes(48)).decode().rstrip("=")
    sb.access_tokens[access] = TokenGrant(
        portal_id,
        scopes,
        portal.user_id,
        portal.user_email,
        "oauth",
        expires_at=sb.now() + sb.config.access_token_ttl_s,
        refresh_token=refresh,
    )
    # `token_use` is required in HubSpot's AccessTokenResponse, v1 and date-versioned alike.
    # https://developers.hubspot.com/docs/api-reference/latest/authentication/oauth-tokens/token
    out: dict[str, Any] = {
        "token_type": "bearer",
        "token_use": "access_token",
        "refresh_token": refresh,
        "access_token": access,
        "expires_in": sb.config.access_token_ttl_s,
    }
    if call.version != "legacy":
        # Only the date-versioned endpoint adds these (HubSpot calls them optional).
        out.update({"hub_id": portal_id, "user_id": portal.user_id, "scopes": scopes})
    return out


@routes.add("POST", "oauth.token", *TOKEN_PATHS, kind="oauth", family="oauth")
async def token(call: Call) -> Response:
    form = _form(call)
    _client(call, form)
    sb = call.sandbox
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        code = sb.codes.get(form.get("code", ""))
        if code is None or code["expires_at"] <= sb.now():
            sb.codes.pop(form.get("code", ""), None)
            raise OAuthError(
                "invalid_grant", "BAD_AUTH_CODE", "auth code not found, already used or expired"
            )
        if form.get("redirect_uri") != code["redirect_uri"]:
            raise OAuthError(
                "invalid_grant",
                "BAD_REDIRECT_URI",
                "redirect_uri does not match the one the code was issued for",
            )
        if code["code_challenge"]:
            verifier = form.get("code_verifier", "")
            if code["code_challenge_method"] == "S256":
                digest = hashlib.sha256(verifier.encode()).digest()
                calc = base64.urlsafe_b64encode(digest).decode().rstrip("=")
            else:
                calc = verifier
            if calc != code["code_challenge"]:
                raise OAuthError(
                    "invalid_grant",
                    "BAD_AUTH_CODE",
                    "code_verifier does not match the code challenge",
                )
        del sb.codes[form["code"]]  # single use
        return json_response(_issue(call, code["portal_id"], code["scopes"], None))
    if grant_type == "refresh_token":
        rt = form.get("refresh_token", "")
        grant = sb.refresh_tokens.get(rt)
        if grant is None or grant.revoked:
            raise OAuthError(
                "invalid_grant", "BAD_REFRESH_TOKEN", "missing or unknown refresh token"
            )
        return json_response(_issue(call, grant.portal_id, grant.scopes, rt))
    if grant_type == "client_credentials":
        # An app-level token (no portal, no user), e.g. for the Webhooks Journal.
        # https://developers.hubspot.com/docs/api-reference/latest/webhooks-journal/guide
        scopes = [x for x in form.get("scope", "").split() if x]
        access = "CC" + base64.urlsafe_b64encode(secrets.token_bytes(48)).decode().rstrip("=")
        sb.app_tokens[access] = (scopes, sb.now() + sb.config.access_token_ttl_s)
        return json_response(
            {
                "token_type": "bearer",
                "access_token": access,
                "expires_in": sb.config.access_token_ttl_s,
                "scopes": scopes,
            }
        )
    raise OAuthError(
        "unsupported_grant_type", "BAD_GRANT_TYPE", f"grant_type {grant_type!r} is not supported"
    )


def _token_info(call: Call, token: str, grant: TokenGrant, *, legacy: bool) -> dict[str, Any]:
    sb = call.sandbox
    portal = sb.portal(grant.portal_id)
    info: dict[str, Any] = {
        "token": token,
        "user": grant.user,
        "hub_domain": portal.hub_domain,
        "scopes": grant.scopes,
        "hub_id": grant.portal_id,
        "app_id": sb.config.app_id,
        "user_id": grant.user_id,
    }
    if grant.expires_at is not None:
        info["expires_in"] = max(0, int(grant.expires_at - sb.now()))
        info["token_type"] = "access"  # noqa: S105 - a kind, not a secret
    else:
        info["token_type"] = "refresh"  # noqa: S105 - a kind, not a secret
    if not legacy:
        # HubSpot's PublicAccessTokenInfoResponse / PublicRefreshTokenInfoResponse: the v1
        # fields plus active, client_id, token_use and (access tokens) the signed token.
        # https://developers.hubspot.com/docs/api-reference/latest/authentication/oauth-tokens/token-introspect
        access = grant.expires_at is not None
        info.update(
            {
                "active": True,
                "client_id": sb.config.client_id,
                "token_use": "access_token" if access else "refresh_token",
            }
        )
        if access:
            info["is_private_distribution"] = False
            info["signed_access_token"] = _signed_access_token(call, grant)
    return info


def _signed_access_token(call: Call, grant: TokenGrant) -> dict[str, Any]:
    sb = call.sandbox
    return {
        "appId": sb.config.app_id,
        "appInstallId": f"{sb.config.app_id}-{grant.portal_id}",
        "audience": "https://api.hubapi.com",
        "expiresAt": int((grant.expires_at or 0) * 1000),
        "hubId": grant.portal_id,
        "hublet": "na1",
        "installingUserId": grant.user_id,
        "isPrivateDistribution": False,
        "isServiceAccount": False,
        "isUserLevel": False,
        "newSignature": "",
        "scopeToScopeGroupPks": "",
        "scopes": " ".join(grant.scopes),
        "signature": "",
        "trialScopeToScopeGroupPks": "",
        "trialScopes": "",
        "userId": grant.user_id,
    }


def _lookup(call: Call, token: str, hint: str | None) -> TokenGrant | None:
    sb = call.sandbox
    access = sb.access_tokens.get(token)
    if access is not None and access.expires_at is not None and access.expires_at > sb.now():
        if hint != "refresh_token" or token not in sb.refresh_tokens:
            return access
    refresh = sb.refresh_tokens.get(token)
    if refresh is not None and not refresh.revoked:
        return refresh
    return None


@routes.add(
    "POST", "oauth.introspect", "/oauth/{date}/token/introspect", kind="oauth", family="oauth"
)
async def introspect(call: Call) -> Response:
    form = _form(call)
    _client(call, form)
    token = form.get("token", "")
    grant = _lookup(call, token, form.get("token_type_hint"))
    if grant is None:
        return json_response({"active": False})
    return json_response(_token_info(call, token, grant, legacy=False))


@routes.add(
    "GET",
    "oauth.access_token_info",
    "/oauth/v1/access-tokens/{token}",
    kind="oauth",
    family="oauth",
)
async def legacy_access_token(call: Call) -> Response:
    sb = call.sandbox
    token = call.params["token"]
    grant = sb.access_tokens.get(token)
    if grant is None or grant.expires_at is None or grant.expires_at <= sb.now():
        raise ApiError(404, "access token not found or expired", "OBJECT_NOT_FOUND")
    return json_response(_token_info(call, token, grant, legacy=True))


@routes.add(
    "GET",
    "oauth.refresh_token_info",
    "/oauth/v1/refresh-tokens/{token}",
    kind="oauth",
    family="oauth",
)
async def legacy_refresh_token(call: Call) -> Response:
    token = call.params["token"]
    grant = call.sandbox.refresh_tokens.get(token)
    if grant is None or grant.revoked:
        raise ApiError(404, "refresh token not found", "OBJECT_NOT_FOUND")
    info = _token_info(call, token, grant, legacy=True)
    info["client_id"] = call.sandbox.config.client_id
    return json_response(info)


def _revoke(call: Call, token: str) -> bool:
    sb = call.sandbox
    grant = sb.refresh_tokens.get(token)
    if grant is None:
        return False
    grant.revoked = True  # access tokens already issued stay valid until they expire
    del sb.refresh_tokens[token]
    return True


@routes.add("POST", "oauth.revoke", "/oauth/{date}/token/revoke", kind="oauth", family="oauth")
async def revoke(call: Call) -> Response:
    form = _form(call)
    _client(call, form)
    _revoke(call, form.get("token", ""))  # RFC 7009: unknown tokens are not an error
    return no_content()


@routes.add(
    "DELETE",
    "oauth.revoke_legacy",
    "/oauth/v1/refresh-tokens/{token}",
    kind="oauth",
    family="oauth",
)
async def revoke_legacy(call: Call) -> Response:
    if not _revoke(call, call.params["token"]):
        raise ApiError(404, "refresh token not found", "OBJECT_NOT_FOUND")
    return no_content()
