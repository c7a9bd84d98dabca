"""The plugin's health checks, as the status dashboard and `/api/integrations` show them.

`plugin_health` (connections, database, one bounded HubSpot call), `mirror_health` (each
portal's sync state) and `feed_health` (webhooks or the journal). The plugin module registers
them; everything heavy is imported inside the check that needs it.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from atom_host_stub.contract import ConnectedAccount, HealthResult, HealthStatus, HostContext

if TYPE_CHECKING:
    from atom_hubspot.runtime import HubSpotRuntime

HEALTH_TIMEOUT_S = 5.0
CONNECT_URL = "/auth/hubspot"  # the browser redirect to HubSpot's authorize page
MAX_DASHBOARD_ACCOUNTS = 50


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
