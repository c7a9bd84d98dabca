"""Connecting HubSpot from a browser, through the host's sign-in and the sandbox's authorize
page: the forwarded-link hijack is refused, a signed-out browser stores nothing and is told to
sign in, and the owner's own browser connects and is shown which portal and HubSpot user."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from atom_hubspot.sandbox.testing import approve
from tests.api.conftest import KEYS, PORTAL_A, PORTAL_B, PRINCIPALS, Stack

HTML = {"accept": "text/html,application/xhtml+xml"}


def browser(stack: Stack) -> httpx.AsyncClient:
    """A browser: no API key, keeps cookies."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.app), base_url="http://host.local", headers=HTML
    )


async def sign_in(client: httpx.AsyncClient, who: str) -> None:
    answer = await client.post(
        "/sign-in", data={"api_key": KEYS[who]}, headers={"sec-fetch-site": "same-origin"}
    )
    assert answer.status_code == 303, answer.text


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def portals(stack: Stack, who: str) -> list[int]:
    return sorted(c.portal_id for c in await stack.runtime.connections.list(PRINCIPALS[who]))


async def test_a_forwarded_connect_link_cannot_connect_someone_elses_portal(stack: Stack) -> None:
    # Alice starts connecting and forwards the authorize link to Carol (another tenant).
    async with stack.client("alice") as alice_api:
        started = await alice_api.post("/auth/hubspot")
    authorize_url = started.json()["data"]["url"]
    alice_before = await portals(stack, "alice")
    assert alice_before == [PORTAL_A]

    # Someone with no ATOM account approves it for their own portal; HubSpot sends their
    # browser back to the callback.
    back = await approve(authorize_url, stack.transport, portal_id=PORTAL_B)
    async with browser(stack) as stranger:
        answer = await stranger.get(local(back))
    assert answer.status_code == 401
    assert "HubSpot was not connected" in answer.text
    assert await portals(stack, "alice") == alice_before

    # Carol, signed in to ATOM as herself, does the same.
    async with browser(stack) as carol:
        await sign_in(carol, "carol")
        back = await approve(authorize_url, stack.transport, portal_id=PORTAL_B)
        answer = await carol.get(local(back))
    assert answer.status_code == 400
    assert "HubSpot was not connected" in answer.text
    assert "not started from your ATOM account" in answer.text
    # Nothing stored for either of them.
    assert await portals(stack, "alice") == alice_before
    assert await portals(stack, "carol") == []


async def test_a_browser_not_signed_in_stores_nothing_and_is_told_to_sign_in(
    stack: Stack,
) -> None:
    async with stack.client("carol") as carol_api:
        authorize_url = (await carol_api.post("/auth/hubspot")).json()["data"]["url"]
    back = await approve(authorize_url, stack.transport, portal_id=PORTAL_B)
    async with browser(stack) as anyone:
        answer = await anyone.get(local(back))
        assert answer.status_code == 401
        assert "not signed in to ATOM" in answer.text and "/sign-in?next=" in answer.text
        assert await portals(stack, "carol") == []
        # Signing in as Carol (the sign-in page sends the browser back) completes it.
        await sign_in(anyone, "carol")
        again = await anyone.get(local(back))
    assert again.status_code == 200, again.text
    assert await portals(stack, "carol") == [PORTAL_B]


async def test_the_owners_browser_connects_and_sees_the_portal_and_approver(
    stack: Stack,
) -> None:
    async with browser(stack) as carol:
        await sign_in(carol, "carol")
        start = await carol.get("/auth/hubspot")  # the session cookie, no API key
        assert start.status_code == 302
        authorize_url = start.headers["location"]
        assert "code_challenge=" in authorize_url  # PKCE by default
        back = await approve(authorize_url, stack.transport, portal_id=PORTAL_B)
        answer = await carol.get(local(back))
    assert answer.status_code == 200, answer.text
    assert f"HubSpot portal {PORTAL_B} (portal-b.hubspot.sandbox)" in answer.text
    assert f"approved in HubSpot by owner@portal-{PORTAL_B}.example" in answer.text
    assert await portals(stack, "carol") == [PORTAL_B]
