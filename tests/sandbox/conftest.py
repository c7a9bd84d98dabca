"""Fixtures for the sandbox's own tests: an in-process sandbox on a manual clock, an OAuth
token obtained through the authorize page, and both path styles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from atom_hubspot.sandbox import ManualClock, SandboxConfig, create_sandbox_app
from atom_hubspot.sandbox.app import SandboxApp
from atom_hubspot.sandbox.core import ALL_SCOPES, Sandbox
from atom_hubspot.sandbox.testing import SANDBOX_BASE_URL, approve, query_of

CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105 - the sandbox's fake secret
REDIRECT = "http://host.local/auth/hubspot/callback"

# Legacy prefix -> date-versioned prefix, for the paths tests build.
STYLES = {
    "legacy": {
        "objects": "/crm/v3/objects",
        "assoc_objects": "/crm/v4/objects",
        "assoc_batch": "/crm/v4/associations",
        "pipelines": "/crm/v3/pipelines",
        "properties": "/crm/v3/properties",
        "lists": "/crm/v3/lists",
        "campaigns": "/marketing/v3/campaigns",
        "emails": "/marketing/v3/emails",
        "single_send": "/marketing/v4/email/single-send",
        "transactional": "/marketing/v3/transactional/single-email/send",
        "account": "/account-info/v3/details",
        "token": "/oauth/v1/token",
    },
    "2026-03": {
        "objects": "/crm/objects/2026-03",
        "assoc_objects": "/crm/objects/2026-03",
        "assoc_batch": "/crm/associations/2026-03",
        "pipelines": "/crm/pipelines/2026-03",
        "properties": "/crm/properties/2026-03",
        "lists": "/crm/lists/2026-03",
        "campaigns": "/marketing/campaigns/2026-03",
        "emails": "/marketing/emails/2026-03",
        "single_send": "/marketing/email-campaigns/2026-03/single-send",
        "transactional": "/marketing/transactional/2026-03/single-email/send",
        "account": "/account-info/2026-03/details",
        "token": "/oauth/2026-03/token",
    },
}


def authorize_url(scopes: list[str] | None = None, state: str = "st-1", **extra: str) -> str:
    q = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": " ".join(scopes or ALL_SCOPES),
        "state": state,
        **extra,
    }
    return f"{SANDBOX_BASE_URL}/oauth/authorize?{urlencode(q)}"


async def oauth_tokens(
    client: httpx.AsyncClient,
    transport: httpx.AsyncBaseTransport,
    scopes: list[str] | None = None,
    token_path: str = "/oauth/2026-03/token",  # noqa: S107 - a path
) -> dict[str, Any]:
    location = await approve(authorize_url(scopes), transport)
    code = query_of(location)["code"]
    r = await client.post(
        token_path,
        data={
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": REDIRECT,
            "code": code,
        },
    )
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def config(clock: ManualClock) -> SandboxConfig:
    # Search sees writes at once here; test_search.py checks the index lag itself.
    return SandboxConfig(clock=clock, search_lag_s=0)


@pytest.fixture
def app(config: SandboxConfig) -> SandboxApp:
    return create_sandbox_app(config)


@pytest.fixture
def sandbox(app: SandboxApp) -> Sandbox:
    return app.state.sandbox


@pytest.fixture
def transport(app: SandboxApp) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=app)  # type: ignore[arg-type]


@pytest.fixture
async def client(transport: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=transport, base_url=SANDBOX_BASE_URL) as c:
        yield c


@pytest.fixture
async def tokens(client: httpx.AsyncClient, transport: httpx.ASGITransport) -> dict[str, Any]:
    return await oauth_tokens(client, transport)


@pytest.fixture
async def api(client: httpx.AsyncClient, tokens: dict[str, Any]) -> httpx.AsyncClient:
    client.headers["Authorization"] = f"Bearer {tokens['access_token']}"
    return client


@pytest.fixture(params=["legacy", "2026-03"])
def p(request: pytest.FixtureRequest) -> dict[str, str]:
    """Path prefixes of one style; every endpoint test runs in both."""
    return STYLES[request.param]


def assert_error_shape(body: dict[str, Any], category: str | None = None) -> None:
    assert body["status"] == "error"
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["correlationId"], str) and len(body["correlationId"]) >= 16
    assert isinstance(body["category"], str)
    if category:
        assert body["category"] == category, body


def assert_object_shape(obj: dict[str, Any]) -> None:
    assert isinstance(obj["id"], str) and obj["id"].isdigit()
    assert all(v is None or isinstance(v, str) for v in obj["properties"].values()), obj
    assert obj["createdAt"].endswith("Z") and obj["updatedAt"].endswith("Z")
    assert isinstance(obj["archived"], bool)
