"""A test plugin competing with `good`: the same capability, and (RIVAL_PREFIX, default /api/rival)
a route prefix overlapping good's."""

from __future__ import annotations

from typing import Any

import pluggy

from atom_host_stub.contract import HostContext, Principal

hookimpl = pluggy.HookimplMarker("atom")


class RivalGreeter:
    provider = "rival"

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    def greet(self) -> str:
        return f"hello {self.principal.user_id} from rival"


@hookimpl
def atom_register_services(register: Any) -> None:
    async def factory(principal: Principal) -> RivalGreeter:
        return RivalGreeter(principal)

    register("greeting", factory)


@hookimpl
def atom_register_routes(register: Any, context: HostContext) -> None:
    from fastapi import APIRouter

    router = APIRouter()

    @router.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "rival"}

    register(router, prefix=context.env.get("RIVAL_PREFIX", "/api/rival"))
