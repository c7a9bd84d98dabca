"""Custom properties made in HubSpot's UI read back, end to end: stub host → plugin → client →
sandbox. The property and the record are made directly in the sandbox, the way a HubSpot user
would make them, never through the plugin."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from atom_host_stub.contract import SearchFilter
from atom_hubspot.sandbox import PortalConfig
from atom_hubspot.sandbox.testing import SANDBOX_BASE_URL
from tests.api.conftest import PORTAL_A, PRINCIPALS, Stack

PORTAL_C = 4567890
# What a private app may do without the schema scopes (a connection made before the plugin
# asked for crm.schemas.*.read).
OBJECT_SCOPES_ONLY = [
    f"crm.objects.{t}.{a}" for t in ("contacts", "companies", "deals") for a in ("read", "write")
]


async def _in_hubspot_ui(
    stack: Stack, portal_id: int, properties: dict[str, str], *names: str
) -> str:
    """Create contact properties `names` and a contact carrying `properties`, as a HubSpot user
    would (with a token of the portal's own, not the plugin's); the contact's id."""
    token = stack.sandbox.add_private_app_token(portal_id)
    async with httpx.AsyncClient(
        transport=stack.transport,
        base_url=SANDBOX_BASE_URL,
        headers={"Authorization": f"Bearer {token}"},
    ) as ui:
        for name in names:
            r = await ui.post(
                "/crm/properties/2026-03/contacts",
                json={
                    "name": name,
                    "label": name.replace("_", " ").title(),
                    "type": "string",
                    "fieldType": "text",
                    "groupName": "contactinformation",
                },
            )
            assert r.status_code == 201, r.text
        r = await ui.post("/crm/objects/2026-03/contacts", json={"properties": properties})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


async def test_a_property_made_in_hubspot_reads_back_through_routes_and_service(
    stack: Stack,
) -> None:
    email = "ui-made@example.com"
    rid = await _in_hubspot_ui(
        stack, PORTAL_A, {"email": email, "loyalty_tier": "gold"}, "loyalty_tier"
    )
    async with stack.client("alice") as c:
        one = await c.get(f"/api/hubspot/contacts/{rid}")
        found = await c.get("/api/hubspot/contacts", params={"email": email})
    assert one.status_code == 200, one.text
    assert one.json()["data"]["properties"]["loyalty_tier"] == "gold"
    assert [r["properties"].get("loyalty_tier") for r in found.json()["data"]["results"]] == [
        "gold"
    ]
    crm: Any = await stack.host.services.get_service("crm", PRINCIPALS["alice"])
    contact = await crm.get_record("contact", rid)
    assert contact.custom_fields["loyalty_tier"] == "gold"
    page = await crm.search_records("contact", [SearchFilter(field="email", op="eq", value=email)])
    assert [c.custom_fields["loyalty_tier"] for c in page.items] == ["gold"]
    # The definitions were asked for once for all these reads.
    assert stack.sandbox.calls["crm.properties.list"] == 1


async def test_without_the_schema_scope_reads_work_with_the_properties_written_through_us(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="atom_hubspot.service.crm")
    stack.sandbox.add_portal(PortalConfig(portal_id=PORTAL_C, seed=False))
    rid = await _in_hubspot_ui(
        stack,
        PORTAL_C,
        {"email": "old@example.com", "ui_only": "u"},
        "ui_only",
        "written_here",
    )
    token = stack.sandbox.add_private_app_token(PORTAL_C, scopes=OBJECT_SCOPES_ONLY)
    await stack.runtime.connections.save_private_app_token(PRINCIPALS["carol"], token)  # type: ignore[attr-defined]
    async with stack.client("carol") as c:
        r = await c.patch(f"/api/hubspot/contacts/{rid}", json={"written_here": "w"})
        assert r.status_code == 200, r.text
        for _ in range(2):
            r = await c.get(f"/api/hubspot/contacts/{rid}")
            assert r.status_code == 200, r.text
            props = r.json()["data"]["properties"]
            assert props.get("written_here") == "w"
            assert "ui_only" not in props  # not known without the definitions
    crm: Any = await stack.host.services.get_service("crm", PRINCIPALS["carol"])
    contact = await crm.get_record("contact", rid)
    assert contact.custom_fields == {"written_here": "w"}
    refused = [r for r in stack.sandbox.log if r["route"] == "crm.properties.list"]
    assert refused and all(r["status"] == 403 for r in refused)
    said = [r for r in caplog.records if r.name == "atom_hubspot.service.crm"]
    assert len(said) == 1 and said[0].levelno == logging.INFO
    assert "crm.schemas.contacts.read" in said[0].getMessage()
