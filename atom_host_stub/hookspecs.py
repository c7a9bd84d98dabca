"""Hook specifications of the ATOM host, grouped by lifecycle phase.

A hookimpl may accept any subset of a spec's arguments, so specs can grow without breaking
plugins. Hooks are plain functions; a lifecycle hook that has async work returns an awaitable
and the host awaits it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

import pluggy

from atom_host_stub.contract import (
    ConfigIssue,
    ConfigValue,
    FeatureState,
    HostContext,
    RegisterHealthCheck,
    RegisterMount,
    RegisterRoutes,
    RegisterService,
    RegisterTool,
)

hookspec = pluggy.HookspecMarker("atom")

# --------------------------------------------------------------------------- describe


@hookspec
def atom_features() -> list[FeatureState]:
    """Report the plugin's optional features, which are off and which extra turns each on."""


# --------------------------------------------------------------------------- configure


@hookspec
def atom_validate_config(env: Mapping[str, str], context: HostContext) -> list[ConfigIssue]:
    """Check the plugin's settings from `env`; return every issue at once, secrets never shown."""


@hookspec
def atom_config_summary(env: Mapping[str, str], context: HostContext) -> list[ConfigValue]:
    """Say what the plugin's settings amount to (values derived from `env`); nothing secret."""
    return []  # the spec's body is never called


# --------------------------------------------------------------------------- lifecycle


@hookspec
def atom_startup(context: HostContext) -> Awaitable[None] | None:
    """Acquire what the plugin needs while serving (HTTP client, database engine, workers)."""


@hookspec
def atom_demo_setup(context: HostContext, mount: RegisterMount) -> Awaitable[None] | None:
    """In demo mode, after startup: bring up offline stand-ins and seed a demo connection."""


@hookspec
def atom_shutdown(context: HostContext) -> Awaitable[None] | None:
    """Release everything acquired at startup; called even when startup failed halfway."""


# --------------------------------------------------------------------------- register


@hookspec
def atom_register_routes(register: RegisterRoutes, context: HostContext) -> None:
    """Register HTTP routers through `register(router, prefix=..., tags=...)`."""


@hookspec
def atom_register_health_checks(register: RegisterHealthCheck, context: HostContext) -> None:
    """Register health checks through `register(name, check, timeout_s=...)`."""


@hookspec
def atom_register_services(register: RegisterService, context: HostContext) -> None:
    """Register per-principal service factories by capability through `register(cap, factory)`."""


@hookspec
def atom_register_agent_tools(register: RegisterTool, context: HostContext) -> None:
    """Register tools for assistants (served over MCP) through `register(AgentTool(...))`."""


@hookspec
def atom_cli_commands() -> Mapping[str, str]:
    """Name the plugin's own commands: {name: "module:attribute" of a click command or group},
    each imported only when it runs or shows its help."""


@hookspec
def atom_register_cli_commands(cli: Any) -> None:
    """Add the plugin's own click group (e.g. `atom-host hubspot ...`) to the host CLI."""


@hookspec
def atom_migrate(context: HostContext) -> Awaitable[str] | str | None:
    """Bring the plugin's database schema up to date; return a one-line summary."""
