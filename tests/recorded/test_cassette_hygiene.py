"""No secret reaches a cassette, and a cassette only answers the conversation it recorded."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import httpx
import pytest
import vcr.errors

from atom_hubspot.client import HubSpotClient, HubSpotHTTP, OAuthAPI, RateLimitGovernor, StaticToken
from atom_hubspot.sandbox import DEMO_PORTAL_ID, SandboxConfig
from atom_hubspot.sandbox.testing import approve, query_of, sandbox_transport
from tests.recorded.recorder import CASSETTES, SECRET_SHAPE, make_vcr
from tests.recorded.test_conversations import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    SANDBOX_TOKEN,
    SANDBOX_URL,
    _nosleep,
    _settings,
)

# Token-shaped values the sandbox hands out, and bearer headers.
_ISSUED = re.compile(r"(pat-na1-[0-9a-f-]{20,}|\b(?:at|rt|ac)-[0-9a-f]{24,}|[Bb]earer [A-Za-z0-9])")


def _all_cassettes() -> list:
    return sorted(CASSETTES.rglob("*.yaml"))


def test_the_committed_cassettes_exist() -> None:
    names = {p.name for p in _all_cassettes()}
    for conv in (
        "oauth_code_exchange_and_refresh",
        "contacts_crud_and_search_paging",
        "deal_with_associations",
        "list_membership",
        "campaign_with_metrics",
        "single_send",
    ):
        assert f"{conv}.sandbox.yaml" in names


@pytest.mark.parametrize("path", _all_cassettes(), ids=lambda p: p.name)
def test_no_token_or_client_secret_in_any_cassette(path) -> None:
    text = path.read_text()
    assert not SECRET_SHAPE.search(text), "token-shaped value next to a secret's name"
    assert CLIENT_SECRET not in text
    assert SANDBOX_TOKEN not in text
    assert not _ISSUED.search(text), "an issued token or a bearer header"
    assert not re.search(r"^\s+(authorization|cookie|set-cookie):", text, re.M | re.I)
    if path.parent.name == "sandbox":
        assert text.startswith("# Recorded against the atom-hubspot offline sandbox")


async def test_recording_scrubs_real_looking_secrets(tmp_path) -> None:
    """Record a fresh OAuth conversation with long, real-looking secrets and scan the file."""
    secret = "cs-" + "A1b2C3d4" * 5
    token = "pat-na1-" + "0123abcd-" * 4 + "ffff"
    transport = sandbox_transport(
        SandboxConfig(
            client_secret=secret,
            private_app_tokens={token: DEMO_PORTAL_ID},
            requests_per_10s=None,
            search_per_s=None,
        )
    )
    settings = _settings(SANDBOX_URL)
    http = HubSpotHTTP(
        settings,
        transport=transport,
        sleep=_nosleep,
        governor=RateLimitGovernor(requests_per_10s=10_000, sleep=_nosleep),
    )
    url = f"{SANDBOX_URL}/oauth/authorize?" + urlencode(
        {
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "state": "s",
            "scope": "oauth crm.objects.contacts.read",
        }
    )
    code = query_of(await approve(url, transport))["code"]
    try:
        with make_vcr("sandbox", library=tmp_path, mode="all").use_cassette("fresh"):
            oauth = OAuthAPI(http, CLIENT_ID, secret)
            tokens = await oauth.exchange_code(code, REDIRECT_URI)
            refreshed = await oauth.refresh(tokens.refresh_token.get_secret_value())
            await oauth.introspect(refreshed.access_token.get_secret_value())
            await HubSpotClient(http, StaticToken(token), portal_id=None).contacts.list(limit=1)
    finally:
        await http.aclose()
    text = (tmp_path / "fresh.sandbox.yaml").read_text()
    live = [
        secret,
        token,
        code,
        tokens.access_token.get_secret_value(),
        tokens.refresh_token.get_secret_value(),
        refreshed.access_token.get_secret_value(),
    ]
    for value in live:
        assert len(value) >= 16 and value not in text
    assert not SECRET_SHAPE.search(text)
    assert "SCRUBBED-SECRET" in text and "SCRUBBED-ACCESS" in text


async def test_a_different_request_is_not_answered_from_the_cassette() -> None:
    """Matching is on method, path, query and body: a changed body finds no recording."""
    http = HubSpotHTTP(
        _settings(SANDBOX_URL),
        transport=httpx.MockTransport(lambda r: httpx.Response(599)),
        sleep=_nosleep,
        governor=RateLimitGovernor(requests_per_10s=10_000, sleep=_nosleep),
    )
    client = HubSpotClient(http, StaticToken("x"), portal_id=None)
    try:
        with make_vcr("sandbox", mode="none").use_cassette("campaign_with_metrics"):
            with pytest.raises(vcr.errors.CannotOverwriteExistingCassetteException):
                await client.campaigns.create(
                    "Not the recorded name",
                    start_date="2026-10-01",
                    end_date="2026-12-31",
                    notes="from a cassette",
                )
    finally:
        await http.aclose()
