"""Swapping the CRM plugin, seen over HTTP: the host started with HubSpot as the provider
answers /api/crm/contacts from HubSpot (the sandbox portal's seeded contacts); restarted with
ATOM_CRM_PROVIDER=memory, the same route answers from the in-memory plugin. One schema for
both, and /api/hubspot/* stays HubSpot's either way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from atom_host_stub.app import create_app
from atom_host_stub.config import HostSettings
from atom_host_stub.contract import Envelope, Principal
from atom_host_stub.crm_routes import ContactRecord, RecordList
from atom_host_stub.host import Host
from tests.contract.hubspot_provider import connect_hubspot, hubspot_provider_state

CONTACTS = Envelope[RecordList[ContactRecord]]
PRINCIPAL = Principal(tenant_id="tenant-swap", user_id="user-swap")
KEY = "swap-test-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
UNCONNECTED = {"Authorization": "Bearer swap-test-key-not-connected"}


@asynccontextmanager
async def serving(
    env: dict[str, str], state: dict[str, Any], *, connect: bool = False
) -> AsyncIterator[httpx.AsyncClient]:
    """One run of the host: its lifespan (plugins start, routes mount) around a client;
    `connect` connects the caller to HubSpot first (the connection is kept in the database)."""
    host = Host(HostSettings.from_env(env))
    host.context.state.update(state)
    app = create_app(host)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://atom.test") as client:
            client.headers.update(AUTH)
            if connect:
                await connect_hubspot(host.context.state, PRINCIPAL)
            yield client


async def test_restarting_with_another_provider_swaps_what_api_crm_serves(
    tmp_path: Path, hubspot_provider_env: dict[str, str], memory_crm_example: Path
) -> None:
    env = {
        **hubspot_provider_env,
        "ATOM_DATA_DIR": str(tmp_path / "data"),
        "ATOM_API_KEYS": f"{KEY}:{PRINCIPAL.tenant_id}:{PRINCIPAL.user_id},"
        "swap-test-key-not-connected:tenant-other:user-other",
        "ATOM_PLUGINS": "hubspot,memory",
    }
    # HubSpot's data lives in HubSpot: the same sandbox portal before and after the restart.
    state = hubspot_provider_state(seed=True)

    async with serving({**env, "ATOM_CRM_PROVIDER": "hubspot"}, state, connect=True) as client:
        from_hubspot = await client.get("/api/crm/contacts", params={"limit": 100})
        hubspot_api = await client.get("/api/hubspot/contacts", params={"limit": 5})
        not_connected = await client.get("/api/crm/contacts", headers=UNCONNECTED)

    async with serving({**env, "ATOM_CRM_PROVIDER": "memory"}, state) as client:
        created = await client.post("/api/crm/contacts", json={"email": "grace@example.com"})
        from_memory = await client.get("/api/crm/contacts", params={"limit": 100})
        hubspot_api_after = await client.get("/api/hubspot/contacts", params={"limit": 5})

    assert from_hubspot.status_code == from_memory.status_code == 200, from_hubspot.text
    before, after = (
        CONTACTS.model_validate(from_hubspot.json()),
        CONTACTS.model_validate(from_memory.json()),
    )
    assert (before.meta["provider"], after.meta["provider"]) == ("hubspot", "memory")
    # HubSpot's mirror has not synced here: both read live, and say so.
    assert before.meta["source"] == after.meta["source"] == "live"
    # Each from its own provider: the seeded portal's contacts, then only what memory holds.
    assert len(before.data.results) > 1
    assert all(c.email for c in before.data.results)
    assert "grace@example.com" not in {c.email for c in before.data.results}
    assert [c.email for c in after.data.results] == ["grace@example.com"]
    assert created.json()["data"]["id"] == after.data.results[0].id
    # One schema: both parse as the route's OpenAPI model (no field left over), field for field.
    assert set(from_hubspot.json()["data"]["results"][0]) == set(
        from_memory.json()["data"]["results"][0]
    )
    # HubSpot's own errors come through in the envelope, by the contract's code.
    assert not_connected.status_code == 401
    assert not_connected.json()["error"]["code"] == "not_connected"
    # The provider-specific routes stay HubSpot's, whichever provider /api/crm follows.
    for answer in (hubspot_api, hubspot_api_after):
        assert answer.status_code == 200, answer.text
        assert "properties" in answer.json()["data"]["results"][0]
