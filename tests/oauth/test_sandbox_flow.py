"""The whole thing against the offline sandbox's OAuth endpoints, through the real client:
connect in a browser-like way, use, refresh under load, deny, private-app, dead refresh token,
disconnect. Every token string the sandbox issued is searched for in every answer, every log
line and the database file."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from atom_host_stub.contract import HostContext
from atom_hubspot.api.auth_routes import build_routers
from atom_hubspot.client import HubSpotHTTP
from atom_hubspot.errors import ReconnectRequired
from atom_hubspot.oauth import ConnectionManager, OAuthFlow
from atom_hubspot.sandbox import SandboxConfig
from atom_hubspot.sandbox.config import DEMO_PORTAL_ID
from atom_hubspot.sandbox.testing import approve, sandbox_transport
from atom_hubspot.storage.models import Connection, Token
from tests.oauth.conftest import ALICE as ALICE_P
from tests.oauth.test_routes import ALICE, BOB, _maybe, _principal


@pytest.fixture
def sandbox_tr():
    return sandbox_transport(
        SandboxConfig(requests_per_10s=None, search_per_s=None, rotate_refresh_tokens=True)
    )


@pytest.fixture
def sb(sandbox_tr):
    return sandbox_tr.app.state.sandbox


def issued(sb, seen: set[str]) -> set[str]:
    seen |= set(sb.access_tokens) | set(sb.refresh_tokens) | set(sb.private_tokens)
    return seen


@pytest.fixture
async def world(settings, db, sandbox_tr, sb, clock, caplog, db_url):
    caplog.set_level(logging.DEBUG)
    http = HubSpotHTTP(settings, transport=sandbox_tr)
    manager = ConnectionManager(settings, db, http, clock=clock)
    flow = OAuthFlow(settings, manager, clock=clock)
    ctx = HostContext(
        env={},
        data_dir=Path("."),
        database_url=db_url,
        principal_dependency=_principal,
        optional_principal_dependency=_maybe,
    )
    ctx.state["hubspot"] = SimpleNamespace(connections=manager, oauth=flow)
    app = FastAPI()
    browser, api = build_routers(ctx)
    app.include_router(browser, prefix="/auth/hubspot")
    app.include_router(api, prefix="/api/hubspot/auth")
    answers: list[str] = []

    async def record(resp: httpx.Response) -> None:
        await resp.aread()
        answers.append(str(resp.headers) + resp.text)

    seen: set[str] = set()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://host.local",
        event_hooks={"response": [record]},
    ) as ours:
        w = SimpleNamespace(
            http=ours,
            manager=manager,
            flow=flow,
            sb=sb,
            tr=sandbox_tr,
            seen=seen,
            answers=answers,
            clock=clock,
            expect_tokens=True,
        )
        yield w
        issued(sb, seen)
    await http.aclose()
    assert seen or not w.expect_tokens, (
        "the sandbox issued no tokens: the search below would prove nothing"
    )
    blob = "\n".join(answers) + caplog.text
    for token in seen:
        assert token not in blob, "a token the sandbox issued reached an answer or a log line"
    if db_url.startswith("sqlite:///"):
        folder = Path(db_url.removeprefix("sqlite:///")).parent
        raw = b"".join(p.read_bytes() for p in folder.glob("oauth.sqlite3*"))
        assert b"hubspot_tokens" in raw
        for token in seen:
            assert token.encode() not in raw


async def browser_connect(w, who=ALICE, *, deny: bool = False) -> httpx.Response:
    r = await w.http.get("/auth/hubspot", headers=who)
    assert r.status_code == 302
    authorize_url = r.headers["location"]
    assert authorize_url.startswith("http://sandbox.local/oauth/authorize?")
    back = await approve(authorize_url, w.tr, deny=deny)
    issued(w.sb, w.seen)
    parts = urlsplit(back)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == w.flow.redirect_uri
    return await w.http.get(f"{parts.path}?{parts.query}", headers=who)


async def test_full_flow_against_sandbox(world):
    w = world
    cb = await browser_connect(w)
    assert cb.status_code == 200, cb.text
    data = cb.json()["data"]
    assert data["portal_id"] == DEMO_PORTAL_ID and data["status"] == "connected"
    assert data["hub_domain"] and "crm.objects.contacts.read" in data["scopes"]
    # The connection works through the real client.
    client, _info = await w.manager.client_for(ALICE_P)
    page = await client.contacts.list(limit=2)
    assert page.results
    account = await client.account.details()
    assert account.portal_id == DEMO_PORTAL_ID
    # Expired: 200 concurrent callers, one refresh at the sandbox.
    w.clock.advance(1800)
    before = w.sb.calls.copy()
    tokens = await asyncio.gather(*(client.token.access_token() for _ in range(200)))
    issued(w.sb, w.seen)
    refreshes = sum(
        n - before.get(r, 0)
        for r, n in w.sb.calls.items()
        if "token" in str(r) and "introspect" not in str(r) and "revoke" not in str(r)
    )
    assert refreshes == 1 and w.manager.tokens.refresh_count == 1
    assert len(set(tokens)) == 1 and set(tokens) <= set(w.sb.access_tokens)
    assert (await client.contacts.list(limit=1)).results
    # Status, then disconnect: revoked at the sandbox, deleted here.
    st = (await w.http.get("/api/hubspot/auth/status", headers=ALICE)).json()["data"]
    assert st["connected"] and st["connections"][0]["portal_id"] == DEMO_PORTAL_ID
    refresh_tokens_before = set(w.sb.refresh_tokens)
    r = await w.http.delete("/auth/hubspot", headers=ALICE)
    assert r.json()["data"]["revocation"] == "revoked", r.text
    assert len(set(w.sb.refresh_tokens)) == len(refresh_tokens_before) - 1
    async with w.manager.db.session(None) as s:
        assert await s.scalar(sa.select(sa.func.count()).select_from(Token)) == 0


async def test_denied_at_sandbox_stores_nothing(world):
    world.expect_tokens = False
    cb = await browser_connect(world, deny=True)
    assert cb.status_code == 400 and cb.json()["error"]["code"] == "oauth_access_denied"
    async with world.manager.db.session(None) as s:
        assert await s.scalar(sa.select(sa.func.count()).select_from(Connection)) == 0


async def test_state_of_another_user_refused_at_sandbox_callback(world):
    world.expect_tokens = False
    r = await world.http.post("/auth/hubspot", headers=ALICE)
    back = await approve(r.json()["data"]["url"], world.tr)
    parts = urlsplit(back)
    cb = await world.http.get(f"{parts.path}?{parts.query}", headers=BOB)
    assert cb.status_code == 403
    assert (await world.manager.list(ALICE_P)) == []


async def test_dead_refresh_token_needs_reconnect(world):
    w = world
    assert (await browser_connect(w)).status_code == 200
    w.sb.refresh_tokens.clear()  # HubSpot forgot the refresh token (app uninstalled)
    w.clock.advance(1800)
    client, _ = await w.manager.client_for(ALICE_P)
    with pytest.raises(ReconnectRequired):
        await client.token.access_token()
    st = (await w.http.get("/api/hubspot/auth/status", headers=ALICE)).json()["data"]
    assert st["connections"][0]["status"] == "reauth_required" and not st["connected"]
    r = await w.http.post("/auth/hubspot/refresh", headers=ALICE)
    assert r.status_code == 401 and r.json()["error"]["code"] == "reconnect_required"
    assert w.manager.tokens.refresh_count == 1
    # Reconnecting heals the same connection.
    assert (await browser_connect(w)).status_code == 200
    client, info = await w.manager.client_for(ALICE_P)
    assert info.status == "connected" and (await client.contacts.list(limit=1)).results


async def test_private_app_token_against_sandbox(world):
    w = world
    token = w.sb.add_private_app_token(DEMO_PORTAL_ID, None, None)
    w.seen.add(token)
    r = await w.http.post("/api/hubspot/auth/save", headers=ALICE, json={"token": token})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["auth_kind"] == "private_app"
    client, _ = await w.manager.client_for(ALICE_P)
    assert (await client.contacts.list(limit=1)).results
    bad = await w.http.post(
        "/api/hubspot/auth/save",
        headers=ALICE,
        json={"token": "pat-na1-00000000-0000-0000-0000-000000000000"},
    )
    assert bad.status_code == 422, bad.text
