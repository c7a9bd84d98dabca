"""The hooks of the in-memory CRM plugin: what the `atom.plugins` entry point names.

It imports only `atom_host_stub.contract` from the host, never the host's machinery, and the
service only in the hooks that build one: the host imports this module for every command
(`atom-host plugins` too), and checking the configuration needs no CRM models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, get_args

import pluggy

from atom_host_stub.contract import (
    ConfigIssue,
    HealthResult,
    HealthStatus,
    HostContext,
    ObjectKind,
    Principal,
    RegisterHealthCheck,
    RegisterService,
)

if TYPE_CHECKING:
    from atom_memory_crm.service import MemoryCRMService

hookimpl = pluggy.HookimplMarker("atom")

STATE_KEY = "memory"  # this plugin's entry in HostContext.state
CUSTOM_FIELDS = "MEMORY_CRM_CUSTOM_FIELDS"
DEFAULT_CUSTOM_FIELDS = "contact:favourite_language,deal:renewal_term"


def parse_custom_fields(raw: str) -> dict[str, set[str]]:
    """`kind:name[,...]` → {kind: {names}}; ValueError names the entry at fault."""
    allowed: dict[str, set[str]] = {}
    for entry in (p.strip() for p in raw.split(",") if p.strip()):
        kind, _, name = entry.partition(":")
        if kind not in get_args(ObjectKind) or not name.isidentifier():
            raise ValueError(f"{entry!r} is not kind:name with kind contact, company or deal")
        allowed.setdefault(kind, set()).add(name)
    return allowed


@hookimpl
def atom_validate_config(env: Mapping[str, str]) -> list[ConfigIssue]:
    try:
        parse_custom_fields(env.get(CUSTOM_FIELDS, DEFAULT_CUSTOM_FIELDS))
    except ValueError as exc:
        return [ConfigIssue(key=CUSTOM_FIELDS, message=str(exc), hint="Use kind:name[,...].")]
    return []


@hookimpl
def atom_startup(context: HostContext) -> None:
    custom = parse_custom_fields(context.env.get(CUSTOM_FIELDS, DEFAULT_CUSTOM_FIELDS))
    context.state[STATE_KEY] = {"custom": custom, "stores": {}}


@hookimpl
def atom_shutdown(context: HostContext) -> None:
    context.state.pop(STATE_KEY, None)


@hookimpl
def atom_register_services(register: RegisterService, context: HostContext) -> None:
    from atom_memory_crm.service import MemoryCRMService, MemoryStore

    async def crm(principal: Principal) -> MemoryCRMService:
        state: dict[str, Any] = context.state[STATE_KEY]
        # One store per tenant: a tenant never sees another's records.
        store = state["stores"].setdefault(principal.tenant_id, MemoryStore(state["custom"]))
        return MemoryCRMService(store)

    register("crm", crm)


@hookimpl
def atom_register_health_checks(register: RegisterHealthCheck, context: HostContext) -> None:
    async def check() -> HealthResult:
        state = context.state.get(STATE_KEY)
        if state is None:
            return HealthResult(status=HealthStatus.DOWN, message="not started")
        return HealthResult(status=HealthStatus.OK, message=f"{len(state['stores'])} tenant(s)")

    register("store", check, timeout_s=1.0)
