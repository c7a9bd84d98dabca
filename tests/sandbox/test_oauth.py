"""OAuth: authorize page, code and refresh grants, introspection, revocation (both styles)."""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest

from atom_hubspot.sandbox import ManualClock
from atom_hubspot.sandbox.core import Sandbox
from atom_hubspot.sandbox.testing import approve, query_of

from .conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT, authorize_url, oauth_tokens

TOKEN_PATHS = ["/oauth/v1/token", "/oauth/2026-03/token"]


async def test_authorize_page_shows_app_name_scopes_and_both_buttons(client: httpx.AsyncClient):
    r = await client.get(
        authorize_url(["oauth", "crm.objects.contacts.read"], optional_scope="content")
    )
    assert r.status_code == 200
    assert "ATOM HubSpot integration (sandbox)" in r.text
    assert "crm.objects.contacts.read" in r.text and "content" in r.text
    assert "id='approve'" in r.text and "id='deny'" in r.text


async def test_authorize_page_rejects_unknown_client(client: httpx.AsyncClient):
    r = await client.get(authorize_url().replace(CLIENT_ID, "someone-else"))
    assert r.status_code == 400
    assert "Unknown client_id" in r.text


async def test_approve_redirects_with_code_and_state(transport: httpx.ASGITransport):
    location = await approve(authorize_url(state="abc"), transport)
    assert location.startswith(REDIRECT + "?")
    q = query_of(location)
    assert q["state"] == "abc" and len(q["code"]) >= 16


async def test_deny_redirects_with_access_denied(transport: httpx.ASGITransport):
    q = query_of(await approve(authorize_url(state="abc"), transport, deny=True))
    assert q["error"] == "access_denied" and q["state"] == "abc" and "code" not in q


@pytest.mark.parametrize("path", TOKEN_PATHS)
async def test_code_grant_issues_tokens_and_code_is_single_use(
    client: httpx.AsyncClient, transport: httpx.ASGITransport, path: str
):
    code = query_of(await approve(authorize_url(), transport))["code"]
    form = {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": REDIRECT,
        "code": code,
    }
    r = await client.post(path, data=form)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer"  # noqa: S105 and body["expires_in"] == 1800
    assert body["access_token"] and body["refresh_token"]
    assert "hub_domain" not in body and "app_id" not in body
    if "2026-03" in path:
        assert body["hub_id"] == 1234567 and "crm.lists.read" in body["scopes"]
    again = await client.post(path, data=form)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert again.json()["status"] == "BAD_AUTH_CODE"


async def test_code_expires(
    client: httpx.AsyncClient, transport: httpx.ASGITransport, clock: ManualClock
):
    code = query_of(await approve(authorize_url(), transport))["code"]
    clock.advance(301)
    r = await client.post(
        "/oauth/2026-03/token",
        data={
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": REDIRECT,
            "code": code,
        },
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


async def test_redirect_uri_must_match(client: httpx.AsyncClient, transport: httpx.ASGITransport):
    code = query_of(await approve(authorize_url(), transport))["code"]
    r = await client.post(
        "/oauth/2026-03/token",
        data={
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": "http://evil.example/cb",
            "code": code,
        },
    )
    assert r.status_code == 400 and r.json()["status"] == "BAD_REDIRECT_URI"


async def test_token_endpoint_wants_form_and_client_secret(client: httpx.AsyncClient):
    r = await client.post("/oauth/2026-03/token", json={"grant_type": "refresh_token"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = await client.post(
        "/oauth/v1/token",
        data={
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": "wrong",
            "refresh_token": "x",
        },
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_client"
    body = r.json()
    assert set(body) >= {"error", "error_description", "status", "message"}


async def test_pkce_verifier_is_checked(client: httpx.AsyncClient, transport: httpx.ASGITransport):
    verifier = "v" * 50
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    )
    url = authorize_url(code_challenge=challenge, code_challenge_method="S256")
    form = {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": REDIRECT,
    }
    code = query_of(await approve(url, transport))["code"]
    bad = await client.post(
        "/oauth/2026-03/token", data={**form, "code": code, "code_verifier": "nope"}
    )
    assert bad.status_code == 400
    code = query_of(await approve(url, transport))["code"]
    ok = await client.post(
        "/oauth/2026-03/token", data={**form, "code": code, "code_verifier": verifier}
    )
    assert ok.status_code == 200


@pytest.mark.parametrize("path", TOKEN_PATHS)
async def test_refresh_grant_and_access_token_expiry(
    client: httpx.AsyncClient, transport: httpx.ASGITransport, clock: ManualClock, path: str
):
    tokens = await oauth_tokens(client, transport)
    h = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/account-info/2026-03/details", headers=h)).status_code == 200
    clock.advance(1801)
    expired = await client.get("/account-info/2026-03/details", headers=h)
    assert expired.status_code == 401
    assert expired.json()["category"] == "EXPIRED_AUTHENTICATION"
    r = await client.post(
        path,
        data={
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": tokens["refresh_token"],
        },
    )
    assert r.status_code == 200
    fresh = r.json()
    assert fresh["access_token"] != tokens["access_token"]
    assert fresh["refresh_token"] == tokens["refresh_token"]  # not rotated by default
    h = {"Authorization": f"Bearer {fresh['access_token']}"}
    assert (await client.get("/account-info/v3/details", headers=h)).status_code == 200


async def test_unknown_refresh_token_is_invalid_grant(client: httpx.AsyncClient):
    r = await client.post(
        "/oauth/2026-03/token",
        data={
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": "na1-unknown",
        },
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    assert r.json()["status"] == "BAD_REFRESH_TOKEN"


async def test_rotation_can_be_turned_on(
    client: httpx.AsyncClient, transport: httpx.ASGITransport, sandbox: Sandbox
):
    sandbox.config.rotate_refresh_tokens = True
    tokens = await oauth_tokens(client, transport)
    form = {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": tokens["refresh_token"],
    }
    r = await client.post("/oauth/2026-03/token", data=form)
    assert r.json()["refresh_token"] != tokens["refresh_token"]
    old = await client.post("/oauth/2026-03/token", data=form)
    assert old.json()["status"] == "BAD_REFRESH_TOKEN"


async def test_introspection_new_and_legacy(client: httpx.AsyncClient, tokens: dict[str, str]):
    form = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "token": tokens["access_token"],
        "token_type_hint": "access_token",
    }
    r = await client.post("/oauth/2026-03/token/introspect", data=form)
    body = r.json()
    assert r.status_code == 200 and body["active"] is True
    assert body["hub_id"] == 1234567 and body["hub_domain"] and body["user"]
    assert body["app_id"] == 424242 and isinstance(body["user_id"], int)
    assert "crm.objects.contacts.read" in body["scopes"] and body["expires_in"] == 1800
    legacy = await client.get(f"/oauth/v1/access-tokens/{tokens['access_token']}")
    assert legacy.status_code == 200
    assert legacy.json()["hub_id"] == 1234567 and legacy.json()["token"] == tokens["access_token"]
    unknown = await client.post("/oauth/2026-03/token/introspect", data={**form, "token": "nope"})
    assert unknown.json() == {"active": False}
    assert (await client.get("/oauth/v1/access-tokens/nope")).status_code == 404
    refresh = await client.get(f"/oauth/v1/refresh-tokens/{tokens['refresh_token']}")
    assert refresh.status_code == 200 and refresh.json()["hub_id"] == 1234567


async def test_revoke_new_path_keeps_access_token_alive(
    client: httpx.AsyncClient, tokens: dict[str, str]
):
    r = await client.post(
        "/oauth/2026-03/token/revoke",
        data={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "token": tokens["refresh_token"],
            "token_type_hint": "refresh_token",
        },
    )
    assert r.status_code == 204
    refresh = await client.post(
        "/oauth/2026-03/token",
        data={
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": tokens["refresh_token"],
        },
    )
    assert refresh.json()["status"] == "BAD_REFRESH_TOKEN"
    h = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/account-info/v3/details", headers=h)).status_code == 200


async def test_revoke_legacy_delete(client: httpx.AsyncClient, tokens: dict[str, str]):
    r = await client.delete(f"/oauth/v1/refresh-tokens/{tokens['refresh_token']}")
    assert r.status_code == 204
    again = await client.delete(f"/oauth/v1/refresh-tokens/{tokens['refresh_token']}")
    assert again.status_code == 404


async def test_bearer_checks(client: httpx.AsyncClient, sandbox: Sandbox):
    r = await client.get("/crm/v3/objects/contacts")
    assert r.status_code == 401 and r.json()["category"] == "INVALID_AUTHENTICATION"
    r = await client.get("/crm/v3/objects/contacts", headers={"Authorization": "Bearer made-up"})
    assert r.status_code == 401
    token = sandbox.add_private_app_token(1234567)
    r = await client.get("/crm/v3/objects/contacts", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200


async def test_missing_scopes_answer(client: httpx.AsyncClient, transport: httpx.ASGITransport):
    tokens = await oauth_tokens(client, transport, ["oauth", "crm.objects.contacts.read"])
    h = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/crm/v3/objects/contacts", headers=h)).status_code == 200
    r = await client.get("/crm/v3/objects/companies", headers=h)
    assert r.status_code == 403
    body = r.json()
    assert body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.companies.read"]
