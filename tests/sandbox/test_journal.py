"""The sandbox's Webhooks Journal: an app token, offsets walked with earliest/next/latest, one
portal's entries with installPortalId, 404 for an unknown offset, 204 once caught up."""

from __future__ import annotations

import httpx

from atom_hubspot.sandbox import PortalConfig, SandboxConfig
from atom_hubspot.sandbox.testing import SANDBOX_BASE_URL, sandbox_transport

TOKEN_A = "pat-na1-journal-a"  # noqa: S105 - known to this sandbox only
TOKEN_B = "pat-na1-journal-b"  # noqa: S105
JOURNAL = "/webhooks-journal/journal-local/2026-03"


async def _app_token(c: httpx.AsyncClient, scope: str = "developer.webhooks_journal.read") -> str:
    r = await c.post(
        "/oauth/2026-03/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret",
            "scope": scope,
        },
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


async def test_walk_the_journal_by_offset() -> None:
    transport = sandbox_transport(
        SandboxConfig(
            portals=[PortalConfig(portal_id=11), PortalConfig(portal_id=22)],
            private_app_tokens={TOKEN_A: 11, TOKEN_B: 22},
        )
    )
    async with httpx.AsyncClient(transport=transport, base_url=SANDBOX_BASE_URL) as c:
        a = {"Authorization": f"Bearer {TOKEN_A}"}
        b = {"Authorization": f"Bearer {TOKEN_B}"}
        first = await c.post(
            "/crm/objects/2026-03/contacts", json={"properties": {"email": "a1@x.io"}}, headers=a
        )
        await c.post(
            "/crm/objects/2026-03/contacts", json={"properties": {"email": "b1@x.io"}}, headers=b
        )
        await c.patch(
            f"/crm/objects/2026-03/contacts/{first.json()['id']}",
            json={"properties": {"firstname": "Ann"}},
            headers=a,
        )

        assert (await c.get(f"{JOURNAL}/earliest", headers=a)).status_code == 401  # portal token
        no_scope = {"Authorization": f"Bearer {await _app_token(c, scope='oauth')}"}
        assert (await c.get(f"{JOURNAL}/earliest", headers=no_scope)).status_code == 403
        app = {"Authorization": f"Bearer {await _app_token(c)}"}

        seen = []
        r = await c.get(f"{JOURNAL}/earliest", params={"installPortalId": 11}, headers=app)
        while r.status_code == 200:
            ref = r.json()
            assert set(ref) == {"currentOffset", "url", "expiresAt"}
            entry = (await c.get(ref["url"])).json()
            assert entry["offset"] == ref["currentOffset"]
            seen += entry["journalEvents"]
            r = await c.get(
                f"{JOURNAL}/offset/{ref['currentOffset']}/next",
                params={"installPortalId": 11},
                headers=app,
            )
        assert r.status_code == 204  # caught up
        assert [(e["portalId"], e["action"], e["objectTypeId"]) for e in seen] == [
            (11, "CREATE", "0-1"),
            (11, "UPDATE", "0-1"),
        ]
        assert seen[1]["propertyChanges"] == [{"propertyName": "firstname", "propertyValue": "Ann"}]

        latest = await c.get(f"{JOURNAL}/latest", headers=app)
        assert (await c.get(latest.json()["url"])).json()["journalEvents"][0]["propertyChanges"]
        gone = await c.get(
            f"{JOURNAL}/offset/00000000-0000-4000-8000-000000000000/next", headers=app
        )
        assert gone.status_code == 404
