"""The dashboard says when no HubSpot portal is connected and links to connecting one; a caller
with a key (or a signed-in browser) sees their own tenant's portals with their hub domain —
nobody sees another tenant's, and the public page shows none (never a tenant, user or token)."""

from __future__ import annotations

from typing import Any

import httpx

from atom_hubspot.sandbox.config import DEMO_PORTAL_ID
from tests.marketing.conftest import ALICE, host_env, running_host


async def _views(app: Any, key: str | None = None) -> tuple[dict[str, Any], str]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://host", headers=headers
    ) as client:
        report = (await client.get("/api/integrations")).json()
        page = (await client.get("/")).text
    hubspot = next(i for i in report["integrations"] if i["name"] == "hubspot")
    return hubspot, page


ALICE_KEY, BOB_KEY = "key-alice-0123456789", "key-bob-0123456789"


async def test_no_portal_connected_is_not_ok_and_links_to_connecting(
    hubspot_env: dict[str, str], marketing_db_url: str, sandbox_app: Any
) -> None:
    env = host_env(hubspot_env, marketing_db_url)
    async with running_host(env, sandbox_app, connect=False) as stack:
        hubspot, page = await _views(stack.app)
        assert hubspot["status"] == "not_connected"
        assert hubspot["accounts"] is None and hubspot["connect_url"] == "/auth/hubspot"
        assert "Not connected." in page and 'href="/auth/hubspot"' in page
        assert "not connected" in page.split('id="integration-hubspot"')[1][:400]
        mine, _ = await _views(stack.app, ALICE_KEY)
        assert mine["status"] == "not_connected" and mine["accounts"] == []

        # Alice connects: she sees her portal; the public page and Bob see no portal id.
        sandbox = stack.sandbox
        await stack.runtime.connections.save_private_app_token(
            ALICE, sandbox.add_private_app_token(DEMO_PORTAL_ID)
        )
        await stack.host.health.results(fresh=True)
        hubspot, page = await _views(stack.app, ALICE_KEY)
        assert hubspot["status"] == "ok", hubspot["reason"]
        [account] = hubspot["accounts"]
        assert (account["id"], account["status"]) == (str(DEMO_PORTAL_ID), "connected")
        assert account["name"] and account["name"] in page
        assert str(DEMO_PORTAL_ID) in page and "Connect another account" in page
        for text in ("t-alice", "alice@", "pat-"):
            assert text not in page
        public, public_page = await _views(stack.app)
        assert public["status"] == "ok" and public["accounts"] is None
        assert str(DEMO_PORTAL_ID) not in public_page + str(public)
        bobs, bobs_page = await _views(stack.app, BOB_KEY)
        assert bobs["status"] == "not_connected" and bobs["accounts"] == []
        assert str(DEMO_PORTAL_ID) not in bobs_page + str(bobs)

        r = await stack.alice.delete("/auth/hubspot")
        assert r.status_code == 200, r.text
        await stack.host.health.results(fresh=True)
        hubspot, page = await _views(stack.app, ALICE_KEY)
        assert hubspot["status"] == "not_connected"
        assert 'href="/auth/hubspot"' in page
