"""The HubSpot plugin's hook implementations: thin, each handing off to the runtime.

This module is what the `atom.plugins` entry point names. It must import cheaply and never
import the host's machinery — only the contract — and must load without the web framework.
The host imports it for every command (`atom-host plugins` too), so everything past the
contract is imported inside the hook that needs it.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING

import pluggy

from atom_host_stub.contract import (
    ConfigIssue,
    ConfigValue,
    FeatureState,
    HealthResult,
    HostContext,
    Principal,
    RegisterHealthCheck,
    RegisterMount,
    RegisterRoutes,
    RegisterService,
    RegisterTool,
)

if TYPE_CHECKING:
    from atom_hubspot.service.crm import HubSpotCRMService
    from atom_hubspot.service.marketing import MarketingService
    from atom_hubspot.settings_table import AppCredentials

hookimpl = pluggy.HookimplMarker("atom")

NAME = "hubspot"
API_PREFIX = "/api/hubspot"


def _has(module: str) -> bool:
    """Whether `module` can be imported, without importing it (start-up stays cheap); an
    import blocker on sys.meta_path counts as absent."""
    if sys.modules.get(module) is not None:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _feature(name: str, extra: str, needs: tuple[str, ...], missing: str) -> FeatureState:
    """`name` is on when every module in `needs` can be imported; else `missing` says why."""
    on = all(_has(module) for module in needs)
    return FeatureState(name=name, enabled=on, extra=extra, reason="" if on else missing)


@hookimpl
def atom_features() -> list[FeatureState]:
    return [
        _feature(
            "http_routes",
            "api",
            ("fastapi",),
            "fastapi is not installed: pip install 'atom-hubspot[api]'",
        ),
        _feature(
            "postgres_storage",
            "postgres",
            ("psycopg",),
            "psycopg is not installed: pip install 'atom-hubspot[postgres]'",
        ),
        _feature(
            "redis_rate_limit",
            "redis",
            ("redis", "limits"),
            "redis/limits not installed: pip install 'atom-hubspot[redis]'",
        ),
        _feature(
            "aiohttp_wire",
            "api",
            ("aiohttp",),
            "aiohttp is not installed: calls to HubSpot go through httpx's pool, which spends "
            "more CPU per call: pip install 'atom-hubspot[api]'",
        ),
    ]


def _is_postgres(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0].lower() in ("postgresql", "postgres")


def effective_env(env: Mapping[str, str], context: HostContext) -> dict[str, str]:
    """The environment the plugin runs on. In demo mode the offline sandbox's settings (client
    id, URLs, a local encryption key) fill in, so a demo needs no HubSpot account."""
    if not context.demo:
        return dict(env)
    from atom_hubspot.demo import demo_env

    return {**env, **demo_env(context)}


@hookimpl
def atom_validate_config(env: Mapping[str, str], context: HostContext) -> list[ConfigIssue]:
    # The settings checked without building the settings model (settings_table): every
    # command checks the configuration, and pydantic's import would cost each of them.
    from atom_hubspot.settings_table import check_settings

    checked = check_settings(effective_env(env, context))
    issues = list(checked.issues)
    workers = getattr(context, "workers", 1)
    if checked.valid and workers > 1 and checked("rate_limit_backend") == "memory":
        issues.append(
            ConfigIssue(
                key="HUBSPOT_RATE_LIMIT_BACKEND",
                message=f"HUBSPOT_RATE_LIMIT_BACKEND=memory keeps HubSpot's rate budget in each "
                f"process: {workers} workers would together call HubSpot {workers} times "
                "faster than its limit allows",
                hint="Share the budget: HUBSPOT_RATE_LIMIT_BACKEND=postgres (in the plugin's "
                "PostgreSQL database) or redis (with HUBSPOT_REDIS_URL).",
            )
        )
    url = env.get("ATOM_DATABASE_URL") or context.database_url or ""
    if _is_postgres(url) and not _has("psycopg"):
        issues.append(
            ConfigIssue(
                key="ATOM_DATABASE_URL",
                message="ATOM_DATABASE_URL is a PostgreSQL URL but the PostgreSQL driver "
                "(psycopg) is not installed",
                hint="pip install 'atom-hubspot[postgres]' (the `postgres` extra), or use a "
                "sqlite:/// URL.",
            )
        )
    return issues


@hookimpl
def atom_config_summary(env: Mapping[str, str], context: HostContext) -> list[ConfigValue]:
    """The HubSpot API version each family is called with under HUBSPOT_API_VERSION."""
    from atom_hubspot.settings_table import check_settings

    checked = check_settings(effective_env(env, context))
    if not checked.valid:
        return []
    from atom_hubspot.releases import FAMILIES, effective_versions

    chosen = checked("api_version")
    return environment_summary(checked.app) + [
        ConfigValue(
            key="HUBSPOT_API_VERSION",
            name=f"HubSpot API: {FAMILIES[family].title}",
            value=version or f"not available under {chosen}",
        )
        for family, version in effective_versions(chosen).items()
    ]


def environment_summary(app: AppCredentials) -> list[ConfigValue]:
    """The environment in force and its app: client id, API base URL, redirect URI (no secret)."""
    return [
        ConfigValue(key="HUBSPOT_ENVIRONMENT", name="HubSpot environment", value=app.environment),
        ConfigValue(
            key=app.client_id_key, name="HubSpot app client id", value=app.client_id or "not set"
        ),
        ConfigValue(key=app.variable("API_BASE_URL"), name="HubSpot API", value=app.api_base_url),
        ConfigValue(
            key=app.variable("REDIRECT_URI"),
            name="OAuth redirect URI",
            value=app.redirect_uri or "host URL + /auth/hubspot/callback",
        ),
    ]


# --------------------------------------------------------------------------- lifecycle


async def _startup(context: HostContext) -> None:
    from atom_hubspot.runtime import STATE_KEY, HubSpotRuntime
    from atom_hubspot.settings import load_settings

    settings, issues = load_settings(effective_env(context.env, context))
    if settings is None:
        raise RuntimeError("HubSpot settings are invalid: " + "; ".join(i.message for i in issues))
    if context.demo:
        # Demo mode builds its own database on first run; migrating is idempotent.
        import asyncio

        from atom_hubspot.storage.db import migrate

        await asyncio.to_thread(migrate, context.database_url)
    # Seams for demo mode and tests: an in-process sandbox transport, a lifted rate budget.
    context.state[STATE_KEY] = await HubSpotRuntime.start(
        settings,
        context,
        transport=context.state.get(f"{STATE_KEY}.transport"),
        governor=context.state.get(f"{STATE_KEY}.governor"),
    )


@hookimpl
def atom_startup(context: HostContext) -> Awaitable[None]:
    return _startup(context)


async def _shutdown(context: HostContext) -> None:
    from atom_hubspot.runtime import STATE_KEY, runtime_in

    runtime = runtime_in(context)
    context.state.pop(STATE_KEY, None)
    if runtime is not None:
        await runtime.aclose()


@hookimpl
def atom_shutdown(context: HostContext) -> Awaitable[None]:
    return _shutdown(context)


@hookimpl
def atom_demo_setup(context: HostContext, mount: RegisterMount) -> Awaitable[None]:
    from atom_hubspot.demo import setup_demo

    return setup_demo(context, mount)


@hookimpl
def atom_migrate(context: HostContext) -> Awaitable[str]:
    import asyncio

    from atom_hubspot.storage.db import migrate

    # Alembic's async env runs its own event loop, so it runs in a thread.
    return asyncio.to_thread(migrate, context.database_url)


# --------------------------------------------------------------------------- register


@hookimpl
def atom_register_routes(register: RegisterRoutes, context: HostContext) -> None:
    import logging  # here, not at import: every command imports this module

    log = logging.getLogger("atom_hubspot.plugin")
    if not _has("fastapi"):
        log.info("HTTP routes are off: fastapi is not installed (extra `api`)")
        return
    from atom_hubspot.api import crm_routes, health_routes, scoring_routes, sync_routes

    # Before the CRM routes: /contacts/score-properties is not a /contacts/{record_id}.
    register(scoring_routes.build_router(context), prefix=API_PREFIX, tags=["HubSpot CRM"])
    register(crm_routes.build_router(context), prefix=API_PREFIX, tags=["HubSpot CRM"])
    register(health_routes.build_router(context), prefix=API_PREFIX, tags=["HubSpot"])
    register(sync_routes.build_router(context), prefix=API_PREFIX, tags=["HubSpot"])
    try:
        from atom_hubspot.api import marketing_routes
    except ImportError as exc:
        log.info("marketing routes are off: %s", exc)
    else:
        register(
            marketing_routes.build_router(context), prefix=API_PREFIX, tags=["HubSpot marketing"]
        )
        from atom_hubspot.api import email_stats_routes, list_send_routes

        register(
            list_send_routes.build_router(context), prefix=API_PREFIX, tags=["HubSpot marketing"]
        )
        register(
            email_stats_routes.build_router(context), prefix=API_PREFIX, tags=["HubSpot marketing"]
        )
        from atom_hubspot.api import nurture_routes

        register(
            nurture_routes.build_router(context), prefix=API_PREFIX, tags=["HubSpot marketing"]
        )
    from atom_hubspot.api import webhook_routes

    register(
        webhook_routes.build_router(context), prefix="/webhooks/hubspot", tags=["HubSpot feed"]
    )
    try:
        from atom_hubspot.api import auth_routes
    except ImportError as exc:
        log.info("auth routes are off: %s", exc)
    else:
        browser, api = auth_routes.build_routers(context)
        register(browser, prefix="/auth/hubspot", tags=["HubSpot auth"])
        register(api, prefix=f"{API_PREFIX}/auth", tags=["HubSpot auth"])


@hookimpl
def atom_register_health_checks(register: RegisterHealthCheck, context: HostContext) -> None:
    from atom_hubspot.health import HEALTH_TIMEOUT_S, feed_health, mirror_health, plugin_health

    async def check() -> HealthResult:
        return await plugin_health(context)

    register("hubspot", check, timeout_s=HEALTH_TIMEOUT_S + 1)

    async def mirror() -> HealthResult:
        return await mirror_health(context)

    register("hubspot.mirror", mirror, timeout_s=HEALTH_TIMEOUT_S)

    async def feed() -> HealthResult:
        return await feed_health(context)

    register("hubspot.feed", feed, timeout_s=HEALTH_TIMEOUT_S)


@hookimpl
def atom_register_services(register: RegisterService, context: HostContext) -> None:
    from atom_hubspot.runtime import runtime_of

    async def crm(principal: Principal) -> HubSpotCRMService:
        return (await runtime_of(context).services_for(principal)).crm

    async def marketing(principal: Principal) -> MarketingService:
        return (await runtime_of(context).services_for(principal)).marketing

    register("crm", crm)
    register("marketing", marketing)


@hookimpl
def atom_register_agent_tools(register: RegisterTool, context: HostContext) -> None:
    from atom_hubspot.agent_tools import hubspot_tools

    for tool in hubspot_tools(context):
        register(tool)


# The plugin's commands: name -> "module:attribute"; the host imports each module when its
# command runs, not whenever `atom-host` starts.
CLI_COMMANDS = {
    "hubspot": "atom_hubspot.cli:hubspot",
    "sandbox": "atom_hubspot.sandbox.cli:sandbox",
    "sandbox-edit": "atom_hubspot.sandbox.cli:sandbox_edit",
}


@hookimpl
def atom_cli_commands() -> Mapping[str, str]:
    return dict(CLI_COMMANDS)
