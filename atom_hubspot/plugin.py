"""The HubSpot plugin's hook implementations: thin, each handing off to the runtime.

This module is what the `atom.plugins` entry point names. It must import cheaply and never
import the host's machinery — only the contract — and must load without the web framework.
The host imports it for every command (`atom-host plugins` too), so everything past the
contract is imported inside the hook that needs it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import sys
import time
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

from atom_host_stub.contract import (
    ConfigIssue,
    ConfigValue,
    ConnectedAccount,
    FeatureState,
    HealthResult,
    HealthStatus,
    HostContext,
    Principal,
    RegisterHealthCheck,
    RegisterMount,
    RegisterRoutes,
    RegisterService,
    RegisterTool,
)

if TYPE_CHECKING:
    import click

    from atom_hubspot.runtime import HubSpotRuntime
    from atom_hubspot.service.crm import HubSpotCRMService
    from atom_hubspot.service.marketing import MarketingService
    from atom_hubspot.settings import HubSpotSettings

hookimpl = pluggy.HookimplMarker("atom")

NAME = "hubspot"
API_PREFIX = "/api/hubspot"
HEALTH_TIMEOUT_S = 5.0
CONNECT_URL = "/auth/hubspot"  # the browser redirect to HubSpot's authorize page
MAX_DASHBOARD_ACCOUNTS = 50

log = logging.getLogger("atom_hubspot.plugin")


def _has(module: str) -> bool:
    """Whether `module` can be imported, without importing it (start-up stays cheap); an
    import blocker on sys.meta_path counts as absent."""
    if sys.modules.get(module) is not None:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


@hookimpl
def atom_features() -> list[FeatureState]:
    api = _has("fastapi")
    return [
        FeatureState(
            name="http_routes",
            enabled=api,
            extra="api",
            reason="" if api else "fastapi is not installed: pip install 'atom-hubspot[api]'",
        ),
        FeatureState(
            name="postgres_storage",
            enabled=_has("psycopg"),
            extra="postgres",
            reason=""
            if _has("psycopg")
            else "psycopg is not installed: pip install 'atom-hubspot[postgres]'",
        ),
        FeatureState(
            name="redis_rate_limit",
            enabled=_has("redis") and _has("limits"),
            extra="redis",
            reason=""
            if _has("redis") and _has("limits")
            else "redis/limits not installed: pip install 'atom-hubspot[redis]'",
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
    from atom_hubspot.settings import load_settings

    settings, issues = load_settings(effective_env(env, context))
    workers = getattr(context, "workers", 1)
    if settings is not None and workers > 1 and settings.rate_limit_backend == "memory":
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
    from atom_hubspot.settings import load_settings

    settings, _ = load_settings(effective_env(env, context))
    if settings is None:
        return []
    from atom_hubspot.releases import FAMILIES, effective_versions

    chosen = settings.api_version
    return environment_summary(settings) + [
        ConfigValue(
            key="HUBSPOT_API_VERSION",
            name=f"HubSpot API: {FAMILIES[family].title}",
            value=version or f"not available under {chosen}",
        )
        for family, version in effective_versions(chosen).items()
    ]


def environment_summary(settings: HubSpotSettings) -> list[ConfigValue]:
    """The environment in force and its app: client id, API base URL, redirect URI (no secret)."""
    app = settings.app
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
    from atom_hubspot.storage.db import migrate

    # Alembic's async env runs its own event loop, so it runs in a thread.
    return asyncio.to_thread(migrate, context.database_url)


# --------------------------------------------------------------------------- register


@hookimpl
def atom_register_routes(register: RegisterRoutes, context: HostContext) -> None:
    if not _has("fastapi"):
        log.info("HTTP routes are off: fastapi is not installed (extra `api`)")
        return
    from atom_hubspot.api import crm_routes, health_routes, sync_routes

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


# The plugin's commands: (name, "module:attribute"); each module is imported when its command
# runs, not whenever `atom-host` starts.
CLI_COMMANDS = (
    ("hubspot", "atom_hubspot.cli:hubspot"),
    ("sandbox", "atom_hubspot.sandbox.cli:sandbox"),
    ("sandbox-edit", "atom_hubspot.sandbox.cli:sandbox_edit"),
)


@hookimpl
def atom_register_cli_commands(cli: click.Group) -> None:
    from atom_hubspot.lazy_cli import LazyCommand

    for name, target in CLI_COMMANDS:
        cli.add_command(LazyCommand(name, target))


# --------------------------------------------------------------------------- health


async def plugin_health(
    context: HostContext, *, timeout_s: float = HEALTH_TIMEOUT_S
) -> HealthResult:
    """Database reachable, connections by status, and one cheap authenticated HubSpot call
    (account details) for a sample connection. Bounded in time; never raises."""
    from atom_hubspot.runtime import runtime_in

    started = time.monotonic()
    runtime = runtime_in(context)
    if runtime is None:
        return HealthResult(status=HealthStatus.DOWN, message="not started")
    details: dict[str, Any] = {}
    try:
        async with asyncio.timeout(timeout_s):
            return await _health(runtime, details)
    except TimeoutError:
        details["duration_ms"] = round((time.monotonic() - started) * 1000)
        return HealthResult(
            status=HealthStatus.DEGRADED,
            message=f"health check did not finish within {timeout_s:g} s",
            details=details,
        )
    except Exception as exc:
        return HealthResult(
            status=HealthStatus.DOWN,
            message=f"health check failed: {type(exc).__name__}",
            details=details,
        )


async def _health(runtime: HubSpotRuntime, details: dict[str, Any]) -> HealthResult:
    from atom_hubspot.errors import HubSpotError
    from atom_hubspot.storage.repository import connection_overview

    t0 = time.monotonic()
    in_force = runtime.settings.environment.value
    try:
        overview = await connection_overview(runtime.db, in_force)
    except HubSpotError as exc:
        return HealthResult(status=HealthStatus.DOWN, message=exc.message, details=details)
    details["database_ms"] = round((time.monotonic() - t0) * 1000, 1)
    sample = overview.sample
    # Connection counts, portal ids and hub domains are tenant data: the host shows each
    # tenant its own (`tenant_details`, `tenant_accounts`); the public message names none.
    by_tenant: dict[str, dict[str, Any]] = {
        tenant: {"connections": counts} for tenant, counts in overview.counts.items()
    }
    needs_reauth = sum(c.get("reauth_required", 0) for c in overview.counts.values())
    rows = [(*row, env) for row, env in zip(overview.portals, overview.environments, strict=True)]
    shown: dict[str, Any] = {
        "accounts": _accounts(rows, in_force),
        "tenant_accounts": {
            tenant: _accounts([row for row in rows if row[0] == tenant], in_force)
            for tenant in {row[0] for row in rows}
        },
        "connect_url": CONNECT_URL,
        "tenant_details": by_tenant,
    }
    if sample is None:
        return HealthResult(
            status=HealthStatus.OK,
            message="database reachable; no HubSpot portal is connected",
            details=details,
            **shown,
        )
    t1 = time.monotonic()
    by_tenant.setdefault(sample.tenant_id, {"connections": {}})["checked_portal_id"] = (
        sample.portal_id
    )
    try:
        session = runtime.connections.tokens.session(sample.id, sample.tenant_id)
        client = runtime.connections.make_client(session, sample.portal_id)
        await client.account.details()
    except HubSpotError as exc:
        details["hubspot_ms"] = round((time.monotonic() - t1) * 1000, 1)
        details["error_code"] = exc.code
        return HealthResult(
            status=HealthStatus.DEGRADED,
            message=f"database reachable; HubSpot check failed: {exc.code}",
            details=details,
            **shown,
        )
    details["hubspot_ms"] = round((time.monotonic() - t1) * 1000, 1)
    if needs_reauth:
        return HealthResult(
            status=HealthStatus.DEGRADED,
            message="HubSpot reachable; some connections need their user to reconnect",
            details=details,
            **shown,
        )
    return HealthResult(
        status=HealthStatus.OK,
        message="database and HubSpot reachable",
        details=details,
        **shown,
    )


async def mirror_health(context: HostContext) -> HealthResult:
    """The mirror of each connected portal, per object type (what the dashboard shows):
    degraded while a type is neither current nor running, or its last run failed."""
    from atom_hubspot.runtime import runtime_in

    runtime = runtime_in(context)
    if runtime is None or runtime.mirror is None or runtime.mirror_sync is None:
        return HealthResult(status=HealthStatus.DOWN, message="not started")
    from atom_hubspot.errors import HubSpotError
    from atom_hubspot.service.mirror import portal_status

    try:
        portals = await runtime.mirror_sync.connected_portals()
        reports = [
            await portal_status(runtime.mirror, p, runtime.settings.mirror_max_lag_s)
            for p in portals
        ]
    except HubSpotError as exc:
        return HealthResult(status=HealthStatus.DOWN, message=exc.message)
    if not reports:
        return HealthResult(status=HealthStatus.OK, message="no connected portal to mirror")
    parts: list[str] = []
    details: dict[str, Any] = {}
    # Portal ids are tenant data: each tenant sees its own portals' figures (tenant_details);
    # the public message numbers the portals instead of naming them.
    tenants_of = await _tenants_by_portal(runtime)
    by_tenant: dict[str, dict[str, Any]] = {}
    unwell = False
    for number, report in enumerate(reports, start=1):
        words = []
        for o in report.objects:
            lag = f", lag {o.lag_s:.0f} s" if o.lag_s is not None else ""
            progress = f" {o.progress.processed}/{o.progress.expected or '?'}" if o.progress else ""
            words.append(f"{o.object_type} {o.status}{progress} ({o.records}{lag})")
            # Stale after having been current, or failing: worth an operator's look.
            stale = o.status == "idle" and o.last_success_at is not None
            unwell = unwell or stale or bool(o.last_error and o.status != "current")
        parts.append(f"portal {number}: " + "; ".join(words))
        figures = [o.model_dump(mode="json") for o in report.objects]
        for tenant in tenants_of.get(report.portal_id, ()):
            by_tenant.setdefault(tenant, {})[str(report.portal_id)] = figures
    if runtime.settings.sync_interval_s <= 0:
        # Turned off on purpose: reads go to HubSpot (source=auto), nothing is wrong.
        parts.append("background sync off (HUBSPOT_SYNC_INTERVAL=0)")
        unwell = False
    return HealthResult(
        status=HealthStatus.DEGRADED if unwell else HealthStatus.OK,
        message=" | ".join(parts),
        details=details,
        tenant_details=by_tenant,
    )


def _accounts(
    rows: list[tuple[str, int, str | None, str, str]], in_force: str
) -> list[ConnectedAccount]:
    """One entry per portal and environment (connected if any of its connections is), for the
    dashboard: portal id, hub domain, environment, status — never a tenant, user or token. One
    made in the environment not in force is `other_environment`: it is not used."""
    by_portal: dict[tuple[int, str], ConnectedAccount] = {}
    for _tenant, portal_id, hub_domain, status, environment in rows:
        if environment != in_force:
            status = "other_environment"
        seen = by_portal.get((portal_id, environment))
        if seen is None:
            by_portal[(portal_id, environment)] = ConnectedAccount(
                id=str(portal_id),
                name=hub_domain,
                environment=environment,
                status=status,
            )
        elif status == "connected":
            seen.status = "connected"
            seen.name = seen.name or hub_domain
    return list(by_portal.values())[:MAX_DASHBOARD_ACCOUNTS]


async def _tenants_by_portal(runtime: HubSpotRuntime) -> dict[int, set[str]]:
    """Which tenants are connected to each portal (for per-tenant health details)."""
    from atom_hubspot.storage.repository import connection_overview

    tenants_of: dict[int, set[str]] = {}
    for tenant, portal_id, _domain, _status in (await connection_overview(runtime.db)).portals:
        tenants_of.setdefault(portal_id, set()).add(tenant)
    return tenants_of


async def feed_health(context: HostContext) -> HealthResult:
    """HubSpot's change feed per connected portal (what the dashboard shows): mode, last event,
    events per minute, events waiting or parked, refused deliveries."""
    from atom_hubspot.runtime import runtime_in

    runtime = runtime_in(context)
    if runtime is None or runtime.feed is None or runtime.mirror_sync is None:
        return HealthResult(status=HealthStatus.DOWN, message="not started")
    from atom_hubspot.errors import HubSpotError

    mode = runtime.settings.feed_mode
    if mode == "polling":
        return HealthResult(
            status=HealthStatus.OK,
            message="feed off (HUBSPOT_FEED_MODE=polling): the mirror follows by sync only",
        )
    try:
        portals = await runtime.mirror_sync.connected_portals()
        statuses = await runtime.feed.status(portals)
    except HubSpotError as exc:
        return HealthResult(status=HealthStatus.DOWN, message=exc.message)
    parts = [f"mode {mode}"]
    details: dict[str, Any] = {"mode": mode}
    # Portal ids are tenant data: figures per portal go to that portal's tenants only, and the
    # public message numbers the portals instead of naming them.
    tenants_of = await _tenants_by_portal(runtime)
    by_tenant: dict[str, dict[str, Any]] = {}
    parked = 0
    for number, (pid, st) in enumerate(statuses.items(), start=1):
        last = st.last_event_at.isoformat(timespec="seconds") if st.last_event_at else "none yet"
        parts.append(
            f"portal {number}: last event {last}, {st.events_per_minute:g}/min, "
            f"{st.pending} waiting, {st.parked} parked"
        )
        parked += st.parked
        for tenant in tenants_of.get(pid, ()):
            by_tenant.setdefault(tenant, {})[str(pid)] = {
                "last_event_at": last,
                "events_per_minute": st.events_per_minute,
                "pending": st.pending,
                "parked": st.parked,
                "journal_offset": st.journal_offset,
            }
    first = next(iter(statuses.values()), None)
    if first is not None and first.signature_failures:
        when = first.last_signature_failure_at
        stamp = when.isoformat(timespec="seconds") if when else "?"
        parts.append(
            f"{first.signature_failures} refused deliveries, last {stamp} "
            f"({first.last_signature_failure})"
        )
        details["signature_failures"] = first.signature_failures
    return HealthResult(
        status=HealthStatus.DEGRADED if parked else HealthStatus.OK,
        message=" | ".join(parts),
        details=details,
        tenant_details=by_tenant,
    )
