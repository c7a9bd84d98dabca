"""OAuth 2.1 for /mcp with the MCP SDK's own client: discovery from the 401, dynamic client
registration, PKCE, the user signing in to the host and allowing the client, a tool called over
streamable HTTP with the access token; tokens bound to this /mcp (another audience is refused
401), kept as digests only; a wrong PKCE verifier, a replayed code and generated malformed token
requests answered as OAuth errors, never a 500, never echoing a secret."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

pytest.importorskip("mcp")

import httpx2
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

from tests.api.conftest import KEYS, Stack, running_stack

BASE = "http://localhost:8000"  # ATOM_PUBLIC_URL: the issuer, and /mcp the audience
REDIRECT = "http://localhost:3030/callback"


@pytest.fixture
async def oauth_stack(
    hubspot_env: dict[str, str], sqlite_url: str, migrated_template: Path
) -> AsyncIterator[Stack]:
    async with running_stack(
        {**hubspot_env, "ATOM_PUBLIC_URL": BASE}, sqlite_url, migrated_template
    ) as st_:
        yield st_


class MemoryStorage:
    """The client's token storage (the SDK's TokenStorage protocol)."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class Browser:
    """The user's browser on the host: follows the authorize redirect, signs in with the user's
    API key when asked, allows (or denies) on the consent page, and hands the redirect back."""

    def __init__(self, app: Any, api_key: str, *, allow: bool = True) -> None:
        self.http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE)
        self.api_key = api_key
        self.allow = allow
        self.returned: dict[str, str] = {}
        self.pages: list[str] = []

    async def visit(self, url: str) -> None:
        answer = await self.http.get(url)
        while answer.status_code in (302, 303, 307):
            location = answer.headers["location"]
            if location.startswith(REDIRECT):
                self.returned = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
                return
            if urlsplit(location).path == "/sign-in":
                nxt = parse_qs(urlsplit(location).query)["next"][0]
                answer = await self.http.post(
                    "/sign-in",
                    data={"api_key": self.api_key, "next": nxt},
                    headers={"sec-fetch-site": "same-origin"},
                )
                continue
            answer = await self.http.get(location)
        assert answer.status_code == 200, answer.text
        self.pages.append(answer.text)
        sealed = re.search(r'name="request" value="([^"]+)"', answer.text)
        assert sealed is not None, answer.text
        decided = await self.http.post(
            "/oauth/consent",
            data={"request": sealed.group(1), "decision": "allow" if self.allow else "deny"},
            headers={"sec-fetch-site": "same-origin"},
        )
        assert decided.status_code == 303, decided.text
        location = decided.headers["location"]
        assert location.startswith(REDIRECT)
        self.returned = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}

    async def callback(self) -> AuthorizationCodeResult:
        return AuthorizationCodeResult(code=self.returned["code"], state=self.returned.get("state"))


@asynccontextmanager
async def oauth_client(app: Any, browser: Browser, storage: MemoryStorage) -> AsyncIterator[Client]:
    auth = OAuthClientProvider(
        server_url=f"{BASE}/mcp",
        client_metadata=OAuthClientMetadata(
            redirect_uris=[REDIRECT],  # type: ignore[list-item]  # pydantic parses the str
            client_name="Test assistant",
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=storage,
        redirect_handler=browser.visit,
        callback_handler=browser.callback,
    )
    http = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url=BASE, auth=auth, timeout=30
    )
    async with http, Client(streamable_http_client(f"{BASE}/mcp", http_client=http)) as client:
        yield client


async def test_full_flow_signs_the_user_in_and_calls_a_tool_as_them(oauth_stack: Stack) -> None:
    browser, storage = Browser(oauth_stack.app, KEYS["alice"]), MemoryStorage()
    async with browser.http, oauth_client(oauth_stack.app, browser, storage) as client:
        found = await client.call_tool("crm_search", {"object_type": "contacts", "limit": 2})
    assert not found.is_error and found.structured_content is not None
    assert found.structured_content["results"], "alice's portal has contacts"
    # Dynamic registration happened, and the consent page named the client and the user.
    assert storage.client is not None and storage.client.client_id
    assert "Test assistant" in browser.pages[0] and "alice" in browser.pages[0]
    assert storage.tokens is not None and storage.tokens.refresh_token
    access = storage.tokens.access_token
    # The database keeps digests only: neither token is anywhere in it.
    engine = sa.create_engine(oauth_stack.host.settings.database_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM atom_host_oauth_tokens")).all()
    engine.dispose()
    assert len(rows) == 2
    stored = repr(rows)
    assert access not in stored and storage.tokens.refresh_token not in stored
    assert {r.resource for r in rows} == {f"{BASE}/mcp"}
    assert {(r.tenant_id, r.user_id) for r in rows} == {("tenant-a", "alice")}
    # The client registered with a secret (client_secret_post): kept sealed, not in clear.
    assert storage.client.client_secret
    engine = sa.create_engine(oauth_stack.host.settings.database_url)
    with engine.connect() as conn:
        clients = conn.execute(sa.text("SELECT * FROM atom_host_oauth_clients")).all()
    engine.dispose()
    assert len(clients) == 1 and storage.client.client_secret not in repr(clients)
    # The token is alice's on /mcp, as her API key is.
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=oauth_stack.app), base_url=BASE
    ) as raw:
        listed = await raw.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={
                "Authorization": f"Bearer {access}",
                "Accept": "application/json, text/event-stream",
                "MCP-Protocol-Version": "2025-11-25",
            },
        )
        assert listed.status_code == 200, listed.text


async def test_a_token_for_another_audience_is_refused_with_the_metadata_url(
    oauth_stack: Stack,
) -> None:
    from atom_host_stub.app import create_app
    from atom_host_stub.host import Host

    browser, storage = Browser(oauth_stack.app, KEYS["alice"]), MemoryStorage()
    async with browser.http, oauth_client(oauth_stack.app, browser, storage) as client:
        await client.list_tools()
    assert storage.tokens is not None
    # The same database and secret, served at another address: its /mcp is another resource.
    other_url = "http://127.0.0.1:8000"
    host = Host.from_env({**oauth_stack.host.settings.env, "ATOM_PUBLIC_URL": other_url})
    host.context.state["hubspot.transport"] = oauth_stack.transport
    other = create_app(host)
    async with other.router.lifespan_context(other):
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=other), base_url=other_url
        ) as raw:
            answer = await raw.post(
                "/mcp",
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                headers={
                    "Authorization": f"Bearer {storage.tokens.access_token}",
                    "Accept": "application/json, text/event-stream",
                },
            )
            metadata = await raw.get("/.well-known/oauth-protected-resource/mcp")
            by_key = await raw.post(
                "/mcp",
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                headers={
                    "Authorization": f"Bearer {KEYS['alice']}",
                    "Accept": "application/json, text/event-stream",
                    "MCP-Protocol-Version": "2025-11-25",
                },
            )
    assert answer.status_code == 401
    challenge = answer.headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge
    assert f'resource_metadata="{other_url}/.well-known/oauth-protected-resource/mcp"' in challenge
    assert storage.tokens.access_token not in answer.text
    assert metadata.json()["resource"] == f"{other_url}/mcp"
    assert by_key.status_code == 200  # API keys keep working


async def test_without_credentials_the_401_points_at_the_resource_metadata(
    oauth_stack: Stack,
) -> None:
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=oauth_stack.app), base_url=BASE
    ) as raw:
        answer = await raw.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        prm = (await raw.get("/.well-known/oauth-protected-resource/mcp")).json()
        asm = (await raw.get("/.well-known/oauth-authorization-server")).json()
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == (
        f'Bearer resource_metadata="{BASE}/.well-known/oauth-protected-resource/mcp"'
    )
    assert prm["resource"] == f"{BASE}/mcp"
    assert [a.rstrip("/") for a in prm["authorization_servers"]] == [BASE]
    assert asm["issuer"].rstrip("/") == BASE
    assert asm["code_challenge_methods_supported"] == ["S256"]
    assert asm["registration_endpoint"].endswith("/register")


# --------------------------------------------------------------------------- by hand, with PKCE


def challenge_of(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


class Flow:
    """The authorization code flow driven by hand through a plugin-less host (sync)."""

    def __init__(self, client: TestClient) -> None:
        self.c = client
        registered = client.post(
            "/register",
            json={
                "redirect_uris": [REDIRECT],
                "client_name": "By hand",
                "token_endpoint_auth_method": "none",
            },
        )
        assert registered.status_code == 201, registered.text
        self.client_id = registered.json()["client_id"]
        signed_in = client.post(
            "/sign-in",
            data={"api_key": KEYS["alice"]},
            headers={"sec-fetch-site": "same-origin"},
            follow_redirects=False,
        )
        assert signed_in.status_code == 303

    def authorize(self, verifier: str, **extra: str) -> Any:
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT,
            "code_challenge": challenge_of(verifier),
            "code_challenge_method": "S256",
            "state": "s-1",
            "resource": f"{BASE}/mcp",
            **extra,
        }
        return self.c.get(f"/authorize?{urlencode(query)}", follow_redirects=False)

    def code(self, verifier: str) -> str:
        consent = self.c.get(self.authorize(verifier).headers["location"])
        sealed = re.search(r'name="request" value="([^"]+)"', consent.text)
        assert sealed is not None, consent.text
        back = self.c.post(
            "/oauth/consent",
            data={"request": sealed.group(1), "decision": "allow"},
            headers={"sec-fetch-site": "same-origin"},
            follow_redirects=False,
        )
        query = parse_qs(urlsplit(back.headers["location"]).query)
        assert query["state"] == ["s-1"]
        return query["code"][0]

    def token(self, code: str, verifier: str) -> Any:
        return self.c.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "client_id": self.client_id,
                "code_verifier": verifier,
                "resource": f"{BASE}/mcp",
            },
        )


@pytest.fixture
def plain_host(tmp_path: Path) -> Iterator[TestClient]:
    from atom_host_stub.app import create_app

    env = {
        "ATOM_DATA_DIR": str(tmp_path / "data"),
        "ATOM_API_KEYS": f"{KEYS['alice']}:tenant-a:alice",
        "ATOM_PUBLIC_URL": BASE,
        "ATOM_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    with TestClient(create_app(env=env), base_url=BASE) as client:
        yield client


def test_pkce_mismatch_is_refused_and_a_code_works_once(plain_host: TestClient) -> None:
    flow = Flow(plain_host)
    verifier = secrets.token_urlsafe(48)
    code = flow.code(verifier)
    wrong = flow.token(code, secrets.token_urlsafe(48))
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert code not in wrong.text
    good = flow.token(code, verifier)
    assert good.status_code == 200, good.text
    assert good.json()["token_type"] == "Bearer"  # noqa: S105 - the type, not a secret
    assert good.json()["refresh_token"]
    again = flow.token(code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    # The refresh token rotates: the old one is spent.
    refresh = good.json()["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": flow.client_id}
    assert plain_host.post("/token", data=form).status_code == 200
    assert plain_host.post("/token", data=form).json()["error"] == "invalid_grant"


def test_plain_pkce_another_resource_and_a_denial(plain_host: TestClient) -> None:
    flow = Flow(plain_host)
    plain = flow.authorize("v" * 50, code_challenge_method="plain")
    assert plain.status_code in (302, 400)
    assert "S256" in (plain.headers.get("location", "") + plain.text)
    other = flow.authorize("v" * 50, resource="https://elsewhere.example/mcp")
    assert "error=invalid_target" in other.headers["location"]
    consent = plain_host.get(flow.authorize("w" * 50).headers["location"])
    sealed = re.search(r'name="request" value="([^"]+)"', consent.text)
    assert sealed is not None
    denied = plain_host.post(
        "/oauth/consent",
        data={"request": sealed.group(1), "decision": "deny"},
        headers={"sec-fetch-site": "same-origin"},
        follow_redirects=False,
    )
    assert "error=access_denied" in denied.headers["location"]
    forged = plain_host.post(
        "/oauth/consent",
        data={"request": sealed.group(1) + "x", "decision": "allow"},
        headers={"sec-fetch-site": "same-origin"},
    )
    assert forged.status_code == 400
    cross_site = plain_host.post(
        "/oauth/consent",
        data={"request": sealed.group(1), "decision": "allow"},
        headers={"sec-fetch-site": "cross-site"},
        follow_redirects=False,
    )
    assert cross_site.status_code == 403


def test_registration_refuses_a_redirect_off_this_machine_over_http(
    plain_host: TestClient,
) -> None:
    answer = plain_host.post(
        "/register", json={"redirect_uris": ["http://evil.example/cb"], "client_name": "x"}
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_redirect_uri"


text = st.text(max_size=80)
token_forms = st.fixed_dictionaries(
    {},
    optional={
        "grant_type": st.one_of(
            st.sampled_from(
                [
                    "authorization_code",
                    "refresh_token",
                    "client_credentials",
                    "urn:ietf:params:oauth:grant-type:jwt-bearer",
                ]
            ),
            text,
        ),
        "code": text,
        "code_verifier": text,
        "refresh_token": text,
        "client_id": text,
        "client_secret": text,
        "redirect_uri": text,
        "resource": text,
        "scope": text,
        "assertion": text,
    },
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    form=token_forms,
    use_real_client=st.booleans(),
    raw=st.one_of(st.none(), st.binary(max_size=200)),
)
def test_malformed_token_requests_are_oauth_errors_without_secrets(
    plain_host: TestClient, form: dict[str, str], use_real_client: bool, raw: bytes | None
) -> None:
    if use_real_client:
        registered = plain_host.post(
            "/register",
            json={"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_post"},
        ).json()
        form = {**form, "client_id": registered["client_id"]}
        secret = registered["client_secret"]
    else:
        secret = None
    if raw is not None:
        answer = plain_host.post(
            "/token", content=raw, headers={"content-type": "application/x-www-form-urlencoded"}
        )
    else:
        answer = plain_host.post("/token", data=form)
    assert answer.status_code in (400, 401), (answer.status_code, answer.text)
    body = answer.json()
    assert set(body) <= {"error", "error_description", "error_uri"}
    for name in ("code", "code_verifier", "refresh_token", "client_secret", "assertion"):
        value = form.get(name, "")
        if len(value) >= 8:
            assert value not in answer.text, name
    if secret is not None:
        assert secret not in answer.text
    assert "Traceback" not in answer.text


@pytest.mark.postgres
def test_on_postgres_one_worker_authorizes_and_the_other_honours_the_token(
    tmp_path: Path, postgres_url: str
) -> None:
    """Two host apps over one PostgreSQL database (two workers): a code granted through one is
    exchanged at the other, once, and its token works on both workers' /mcp."""
    from atom_host_stub.app import create_app

    env = {
        "ATOM_DATA_DIR": str(tmp_path / "data"),
        "ATOM_DATABASE_URL": postgres_url,
        "ATOM_API_KEYS": f"{KEYS['alice']}:tenant-a:alice",
        "ATOM_PUBLIC_URL": BASE,
        "ATOM_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    with (
        TestClient(create_app(env=env), base_url=BASE) as one,
        TestClient(create_app(env=env), base_url=BASE) as two,
    ):
        flow = Flow(one)
        verifier = secrets.token_urlsafe(48)
        code = flow.code(verifier)
        flow.c = two
        good = flow.token(code, verifier)
        assert good.status_code == 200, good.text
        assert flow.token(code, verifier).json()["error"] == "invalid_grant"
        flow.c = one
        assert flow.token(code, verifier).json()["error"] == "invalid_grant"
        headers = {
            "Authorization": f"Bearer {good.json()['access_token']}",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2025-11-25",
        }
        for worker in (one, two):
            listed = worker.post(
                "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers=headers
            )
            assert listed.status_code == 200, listed.text


def test_an_unreachable_token_store_answers_503_and_keys_still_work(tmp_path: Path) -> None:
    from atom_host_stub.app import create_app

    env = {
        "ATOM_DATA_DIR": str(tmp_path / "data"),
        "ATOM_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nothing-listens-here",
        "ATOM_API_KEYS": f"{KEYS['alice']}:tenant-a:alice",
        "ATOM_PUBLIC_URL": BASE,
        "ATOM_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    accept = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
    with TestClient(create_app(env=env), base_url=BASE) as client:
        token = secrets.token_urlsafe(32)
        down = client.post(
            "/mcp", json=listing, headers={"Authorization": f"Bearer {token}", **accept}
        )
        by_key = client.post(
            "/mcp", json=listing, headers={"Authorization": f"Bearer {KEYS['alice']}", **accept}
        )
    assert down.status_code == 503 and down.json()["error"]["code"] == "not_ready"
    assert token not in down.text and "Traceback" not in down.text and "port 1" not in down.text
    assert by_key.status_code == 200


def test_a_user_whose_key_is_removed_loses_their_tokens(tmp_path: Path) -> None:
    from atom_host_stub.app import create_app

    env = {
        "ATOM_DATA_DIR": str(tmp_path / "data"),
        "ATOM_API_KEYS": f"{KEYS['alice']}:tenant-a:alice",
        "ATOM_PUBLIC_URL": BASE,
        "ATOM_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    accept = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
    with TestClient(create_app(env=env), base_url=BASE) as client:
        flow = Flow(client)
        verifier = secrets.token_urlsafe(48)
        tokens = flow.token(flow.code(verifier), verifier).json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}", **accept}
        assert client.post("/mcp", json=listing, headers=bearer).status_code == 200
    without_alice = {**env, "ATOM_API_KEYS": f"{KEYS['bob']}:tenant-b:bob"}
    with TestClient(create_app(env=without_alice), base_url=BASE) as client:
        assert client.post("/mcp", json=listing, headers=bearer).status_code == 401
        refreshed = client.post(
            "/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "client_id": flow.client_id,
            },
        )
        assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


def test_a_database_url_the_host_cannot_serve_leaves_keys_working(tmp_path: Path) -> None:
    from atom_host_stub.app import create_app

    env = {
        "ATOM_DATA_DIR": str(tmp_path / "data"),
        "ATOM_DATABASE_URL": "mysql://nobody@127.0.0.1/atom",
        "ATOM_API_KEYS": f"{KEYS['alice']}:tenant-a:alice",
        "ATOM_PUBLIC_URL": BASE,
        "ATOM_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    accept = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
    with TestClient(create_app(env=env), base_url=BASE) as client:
        by_key = client.post(
            "/mcp", json=listing, headers={"Authorization": f"Bearer {KEYS['alice']}", **accept}
        )
        by_token = client.post(
            "/mcp", json=listing, headers={"Authorization": "Bearer " + "t" * 40}
        )
    assert by_key.status_code == 200
    assert by_token.status_code == 503 and "mysql" not in by_token.text
