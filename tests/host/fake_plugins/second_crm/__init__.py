"""A second provider of the `crm` capability (the in-memory example's service under another
name), so that which CRM callers get is a choice."""

from __future__ import annotations

from typing import Any

import pluggy

hookimpl = pluggy.HookimplMarker("atom")


@hookimpl
def atom_register_services(register: Any) -> None:
    async def crm(principal: Any) -> Any:
        from atom_memory_crm.service import MemoryCRMService, MemoryStore

        service = MemoryCRMService(MemoryStore({}))
        service.provider = "second_crm"
        return service

    register("crm", crm)
