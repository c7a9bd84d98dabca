"""A test plugin whose startup raises halfway; its shutdown must still be called."""

from __future__ import annotations

from typing import Any

import pluggy

from atom_host_stub.contract import HostContext

hookimpl = pluggy.HookimplMarker("atom")


@hookimpl
async def atom_startup(context: HostContext) -> None:
    context.state.setdefault("events", []).append(("raising_startup", "startup"))
    raise ConnectionError("database at postgresql://app:hunter22@db/prod unreachable")


@hookimpl
def atom_shutdown(context: HostContext) -> None:
    context.state.setdefault("events", []).append(("raising_startup", "shutdown"))


@hookimpl
def atom_register_routes(register: Any) -> None:
    raise AssertionError("a plugin whose startup failed must not be asked for routes")
