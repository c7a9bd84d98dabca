"""The plugin's own tests, beside the host's CRM contract suite (which `pytest` runs too, by
the `--atom-crm-contract=memory` option in pyproject.toml)."""

from __future__ import annotations

from typing import Any

import httpx

from atom_host_stub.contract import ContactFields, Principal
from atom_host_stub.host import Host


async def test_each_tenant_has_its_own_store(
    atom_host: Host, atom_principal: Principal, atom_other_principal: Principal
) -> None:
    mine = await atom_host.services.get_service("crm", atom_principal)
    theirs = await atom_host.services.get_service("crm", atom_other_principal)
    await mine.create_record("contact", ContactFields(email="ada@example.com"))
    assert len((await mine.list_records("contact")).items) == 1
    assert (await theirs.list_records("contact")).items == []


async def test_the_health_check_counts_tenants(atom_host: Host, atom_principal: Principal) -> None:
    await atom_host.services.get_service("crm", atom_principal)
    (result,) = (await atom_host.health.results(fresh=True))["memory"]
    assert (result.status, result.message) == ("ok", "1 tenant(s)")


async def test_a_malformed_custom_field_list_is_a_config_error(atom_env: dict[str, Any]) -> None:
    from atom_host_stub.config import HostSettings

    host = Host(HostSettings.from_env({**atom_env, "MEMORY_CRM_CUSTOM_FIELDS": "invoice:x"}))
    report = await host.check_config()
    (issue,) = report.issues["memory"]
    assert issue.key == "MEMORY_CRM_CUSTOM_FIELDS" and "'invoice:x'" in issue.message


async def test_the_host_serves_it_at_api_crm(
    atom_client: httpx.AsyncClient, atom_auth_headers: dict[str, str]
) -> None:
    created = await atom_client.post(
        "/api/crm/contacts", json={"email": "ada@example.com"}, headers=atom_auth_headers
    )
    assert created.status_code == 201, created.text
    listed = await atom_client.get("/api/crm/contacts", headers=atom_auth_headers)
    meta = listed.json()["meta"]
    assert (meta["provider"], meta["source"]) == ("memory", "live")  # memory is its own source
    assert [c["email"] for c in listed.json()["data"]["results"]] == ["ada@example.com"]
