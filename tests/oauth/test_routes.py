"""The auth routes over HTTP: connect, callback refusals, status, save, refresh, disconnect.
Every answer is searched for the token strings HubSpot (the fake) issued."""

from __future__ import annotations

import html
import logging
from types import SimpleNamespace
from urllib.parse import urlencode

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Header, HTTPException

from atom_host_stub.contract import HostContext, Principal
from atom_hubspot.api.auth_routes import build_routers
from atom_hubspot.storage.models import Connection, Token
from tests.oauth.helpers import query

HTML = {"accept": "text/html,application/xhtml+xml"}


def _principal(x_user: str | None = Header(default=None)) -> Principal:
    if not x_user:
        raise HTTPException(401, "no api key")
    tenant, user = x_user.split(":")
    return Principal(tenant_id=tenant, user_id=user)


def _maybe(x_user: str | None = Header(default=None)) -> Principal | None:
    return _principal(x_user) if x_user else None


def as_(tenant: str, user: str) -> dict[str, str]:
    return {"x-user": f"{tenant}:{user}"}


ALICE, BOB = as_("t1", "alice"), as_("t1", "bob")


@pytest.fixture
def make_app(manager, flow):
    def build(return_url: str | None = None) -> FastAPI:
        flow.return_url = return_url
        ctx = HostContext(
            env={},
            data_dir=None,
            database_url="",  # type: ignore[arg-type]
            principal_dependency=_principal,
            optional_principal_dependency=_maybe,
        )
        ctx.state["hubspot"] = SimpleNamespace(connections=manager, oauth=flow)
        app = FastAPI()
        browser, api = build_routers(ctx)
        app.include_router(browser, prefix="/auth/hubspot")
        app.include_router(api, prefix="/api/hubspot/auth")
        return app

    return build


@pytest.fixture
def answers() -> list[str]:
    return []


@pytest.fixture
async def http(make_app, answers):
    async def record(resp: httpx.Response) -> None:
        await resp.aread()
        answers.append(str(resp.headers) + resp.text)

    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(
        transport=transport, base_url="http://host.local", event_hooks={"response": [record]}
    ) as c:
        yield c


@pytest.fixture(autouse=True)
def no_token_anywhere(fake, answers, caplog, request):
    caplog.set_level(logging.DEBUG)
    yield
    everything = "\n".join(answers) + caplog.text
    if "http" in request.fixturenames:
        # The routes answered, so their answers must have been seen: else the check below
        # would pass without looking at anything.
        assert answers, "no answer was recorded"
    for token in fake.issued:
        assert token not in everything, "a token reached an answer or a log line"


async def _connect(http, fake, who=ALICE) -> dict:
    r = await http.post("/auth/hubspot", headers=who, json={"use_pkce": True})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    url = r.json()["data"]["url"]
    q = query(url)
    code = fake.new_code(q["redirect_uri"])
    # The browser HubSpot sends back is signed in as the same user.
    cb = await http.get(
        "/auth/hubspot/callback", params={"code": code, "state": q["state"]}, headers=who
    )
    assert cb.status_code == 200, cb.text
    return cb.json()["data"]


async def test_connect_status_refresh_disconnect(http, fake, db):
    data = await _connect(http, fake)
    assert data["portal_id"] == fake.portal_id and data["status"] == "connected"
    st = (await http.get("/api/hubspot/auth/status", headers=ALICE)).json()["data"]
    assert st["connected"] and st["default_portal_id"] == fake.portal_id
    assert st["connections"][0]["scopes"] and st["connections"][0]["access_expires_at"]
    r = await http.post("/auth/hubspot/refresh", headers=ALICE)
    assert r.status_code == 200 and fake.refresh_calls == 1
    r = await http.delete("/auth/hubspot", headers=ALICE)
    body = r.json()["data"]
    assert body["revocation"] == "revoked" and body["revoked"] and body["local_deleted"]
    assert fake.revoked == [fake.issued[3]]  # the current refresh token was revoked
    async with db.session(None) as s:
        assert (await s.scalar(sa.select(sa.func.count()).select_from(Token))) == 0
        assert (await s.scalar(sa.select(sa.func.count()).select_from(Connection))) == 0
    st = (await http.get("/api/hubspot/auth/status", headers=ALICE)).json()["data"]
    assert st == {"connected": False, "default_portal_id": None, "connections": []}
    r = await http.post("/auth/hubspot/refresh", headers=ALICE)
    assert r.status_code == 401 and r.json()["error"]["code"] == "not_connected"


async def test_browser_redirect_start_and_connected_page(http, fake):
    r = await http.get("/auth/hubspot", headers=ALICE)
    assert r.status_code == 302
    q = query(r.headers["location"])
    assert q["client_id"] and q["state"]
    cb = await http.get(
        "/auth/hubspot/callback",
        headers={**HTML, **ALICE},
        params={"code": fake.new_code(q["redirect_uri"]), "state": q["state"]},
    )
    assert cb.status_code == 200 and "HubSpot connected" in cb.text
    assert cb.headers["referrer-policy"] == "no-referrer"
    # The page names the portal and the HubSpot user who approved (from introspection).
    assert f"HubSpot portal {fake.portal_id} (demo.hubspot.com)" in cb.text
    assert "approved in HubSpot by owner@example.com" in cb.text
    assert "frame-ancestors 'none'" in cb.headers["content-security-policy"]


async def test_start_needs_a_principal(http):
    assert (await http.post("/auth/hubspot")).status_code == 401
    assert (await http.get("/auth/hubspot")).status_code == 401


async def test_callback_redirects_to_configured_return_url(make_app, fake):
    app = make_app(return_url="https://app.example.com/settings/hubspot")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://host.local"
    ) as c:
        q = query((await c.post("/auth/hubspot", headers=ALICE)).json()["data"]["url"])
        cb = await c.get(
            "/auth/hubspot/callback",
            params={
                "code": fake.new_code(q["redirect_uri"]),
                "state": q["state"],
                "return_to": "https://evil.example/",
            },
            headers=ALICE,
        )
    assert cb.status_code == 302
    assert cb.headers["location"] == "https://app.example.com/settings/hubspot"


@pytest.mark.parametrize(
    "case", ["forged", "replayed", "foreign", "other_tenant", "denied", "no_state", "signed_out"]
)
async def test_callback_refusals_store_nothing(http, fake, db, case):
    q = query((await http.post("/auth/hubspot", headers=ALICE)).json()["data"]["url"])
    params = {"code": fake.new_code(q["redirect_uri"]), "state": q["state"]}
    headers: dict[str, str] = ALICE
    expected = (400, "oauth_state_invalid")
    if case == "forged":
        params["state"] = "x" * 43
    elif case == "replayed":
        first = await http.get("/auth/hubspot/callback", params=params, headers=ALICE)
        assert first.status_code == 200
        async with db.session(None) as s:
            await s.execute(sa.delete(Connection))
        params["code"] = fake.new_code(q["redirect_uri"])
    elif case == "foreign":
        headers = BOB
        expected = (403, "oauth_state_foreign")
    elif case == "other_tenant":
        headers = as_("t2", "alice")  # same user name, another tenant: not Alice
    elif case == "signed_out":
        headers = {}
        expected = (401, "oauth_sign_in_required")
    elif case == "denied":
        params = {"error": "access_denied", "state": q["state"]}
        expected = (400, "oauth_access_denied")
    elif case == "no_state":
        params.pop("state")
    r = await http.get("/auth/hubspot/callback", params=params, headers=headers)
    assert (r.status_code, r.json()["error"]["code"]) == expected
    assert r.json()["ok"] is False
    async with db.session(None) as s:
        assert (await s.scalar(sa.select(sa.func.count()).select_from(Connection))) == 0
    # A browser gets a page, not JSON, with the same status.
    page = await http.get(
        "/auth/hubspot/callback", params={"state": "nope"}, headers={**HTML, **ALICE}
    )
    assert page.status_code == 400 and "<h1>HubSpot was not connected</h1>" in page.text


async def test_a_signed_out_browser_is_sent_to_sign_in_and_back(http, fake, db):
    q = query((await http.post("/auth/hubspot", headers=ALICE)).json()["data"]["url"])
    params = {"code": fake.new_code(q["redirect_uri"]), "state": q["state"]}
    page = await http.get("/auth/hubspot/callback", params=params, headers=HTML)
    assert page.status_code == 401 and "not signed in to ATOM" in page.text
    back = "/auth/hubspot/callback?" + urlencode(params)
    assert f"href='/sign-in?{html.escape(urlencode({'next': back}), quote=True)}'" in page.text
    async with db.session(None) as s:
        assert (await s.scalar(sa.select(sa.func.count()).select_from(Connection))) == 0
    # Back from signing in, the same link completes (the state was not spent).
    again = await http.get("/auth/hubspot/callback", params=params, headers={**HTML, **ALICE})
    assert again.status_code == 200 and "HubSpot connected" in again.text


async def test_callback_does_not_reflect_input(http):
    evil = "<script>alert(1)</script>"
    r = await http.get(
        "/auth/hubspot/callback", params={"state": evil, "error": evil}, headers={**HTML, **ALICE}
    )
    assert r.status_code == 400 and evil not in r.text


async def test_save_private_app_token(http, fake, db):
    token = fake.private_token()
    r = await http.post("/api/hubspot/auth/save", headers=ALICE, json={"token": token})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["auth_kind"] == "private_app" and data["portal_id"] == fake.portal_id
    async with db.session(None) as s:
        stored = (await s.scalars(sa.select(Token))).one()
    assert stored.refresh_token is None and token not in stored.access_token
    bad = await http.post("/api/hubspot/auth/save", headers=ALICE, json={"token": "pat-wrong"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_input"
    r = await http.delete("/auth/hubspot", headers=ALICE)
    assert r.json()["data"]["revocation"] == "not_applicable"


@pytest.mark.parametrize("token", ["pat-na1-ünïcode-token", "pat na1 with spaces", "short"])
async def test_save_refuses_a_token_that_cannot_be_a_bearer_token(http, db, token):
    r = await http.post("/api/hubspot/auth/save", headers=ALICE, json={"token": token})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "invalid_input" and err["errors"][0]["field"] == "token"
    assert token not in r.text  # the value is never echoed
    async with db.session(None) as s:
        assert (await s.scalars(sa.select(Token))).first() is None  # nothing stored


async def test_several_portals_default_and_choice(http, fake):
    await _connect(http, fake)
    fake.portal_id = 999
    await _connect(http, fake)
    st = (await http.get("/api/hubspot/auth/status", headers=ALICE)).json()["data"]
    assert st["default_portal_id"] == 4242 and len(st["connections"]) == 2
    r = await http.post("/api/hubspot/auth/default", headers=ALICE, json={"portal_id": 999})
    assert r.json()["data"]["is_default"] is True
    st = (await http.get("/api/hubspot/auth/status", headers=ALICE)).json()["data"]
    assert st["default_portal_id"] == 999
    r = await http.delete("/auth/hubspot", headers=ALICE, params={"portal_id": 999})
    assert r.json()["data"]["portal_id"] == 999
    st = (await http.get("/api/hubspot/auth/status", headers=ALICE)).json()["data"]
    assert st["default_portal_id"] == 4242  # promoted
    # Bob sees none of Alice's portals.
    st = (await http.get("/api/hubspot/auth/status", headers=BOB)).json()["data"]
    assert st["connections"] == []
