"""The in-memory CRM test plugin: registered through the same manager path as HubSpot (by
module name), providing the `crm` capability from a per-tenant store."""

from __future__ import annotations

from typing import Any

import pluggy

from atom_host_stub.contract import (
    HealthResult,
    HealthStatus,
    HostContext,
    Principal,
    RegisterHealthCheck,
    RegisterService,
)
from tests.contract.memory_crm.service import MemoryCRMService, MemoryStore, parse_custom_fields

hookimpl = pluggy.HookimplMarker("atom")

STATE_KEY = "memory"


@hookimpl
def atom_startup(context: HostContext) -> None:
    custom = parse_custom_fields(
        context.env.get("MEMORY_CRM_CUSTOM_FIELDS", "contact:favourite_language,deal:renewal_term")
    )
    context.state[STATE_KEY] = {"custom": custom, "stores": {}}


@hookimpl
def atom_shutdown(context: HostContext) -> None:
    context.state.pop(STATE_KEY, None)


@hookimpl
def atom_register_services(register: RegisterService, context: HostContext) -> None:
    async def crm(principal: Principal) -> MemoryCRMService:
        state: dict[str, Any] = context.state[STATE_KEY]
        # Tenants never see each other's records, as with HubSpot portals.
        store = state["stores"].setdefault(principal.tenant_id, MemoryStore(state["custom"]))
        return MemoryCRMService(store)

    register("crm", crm)


@hookimpl
def atom_register_health_checks(register: RegisterHealthCheck, context: HostContext) -> None:
    async def check() -> HealthResult:
        stores = context.state.get(STATE_KEY, {}).get("stores", {})
        return HealthResult(status=HealthStatus.OK, message=f"{len(stores)} tenant store(s)")

    register("memory", check, timeout_s=1.0)
