"""What the host reports about its integrations: the JSON of `GET /api/integrations`, the
dashboard's data and `atom-host plugins --json`. Nothing in it is secret: config keys are listed
with whether they are set, never with their values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from atom_host_stub._records import Record, about
from atom_host_stub.contract import (
    ConfigIssue,
    ConfigValue,
    ConnectedAccount,
    FeatureState,
    HealthStatus,
    Principal,
)
from atom_host_stub.health import HealthReport
from atom_host_stub.manager import PluginRecord


class IntegrationState(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    NOT_CONNECTED = "not_connected"
    MISCONFIGURED = "misconfigured"
    FAILED = "failed"
    DISABLED = "disabled"


@dataclass(kw_only=True)
class ConfigKeyState(Record):
    name: str
    required: bool
    secret: bool
    is_set: bool
    default: str | None = None
    description: str = ""


@dataclass(kw_only=True)
class IntegrationStatus(Record):
    name: str
    display_name: str
    version: str | None
    description: str = ""
    category: str | None = None
    module: str
    source: str
    distribution: str | None = field(
        default=None,
        metadata=about("Installed package; `pip install '<distribution>[<extra>]'`"),
    )
    status: IntegrationState
    reason: str = field(default="", metadata=about("Why the status is not ok, in one line"))
    capabilities: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)
    features: list[FeatureState] = field(default_factory=list)
    config: list[ConfigKeyState] = field(default_factory=list)
    config_issues: list[ConfigIssue] = field(default_factory=list)
    config_summary: list[ConfigValue] = field(
        default_factory=list, metadata=about("Settings as the plugin applies them")
    )
    health: list[HealthReport] = field(default_factory=list)
    accounts: list[ConnectedAccount] | None = field(
        default=None, metadata=about("Connected accounts, when the integration reports them")
    )
    connect_url: str | None = field(default=None, metadata=about("Where to connect an account"))
    route_prefixes: list[str] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class CapabilityProvider(Record):
    """Which plugin serves a capability now; the reason when none does."""

    capability: str
    provider: str | None = field(metadata=about("The plugin callers get; null when none"))
    candidates: list[str] = field(
        default_factory=list, metadata=about("Running plugins offering it")
    )
    route: str | None = field(default=None, metadata=about("Where the host serves it over HTTP"))
    reason: str = field(default="", metadata=about("Why no plugin serves it"))


@dataclass(kw_only=True)
class HostStatus(Record):
    version: str
    demo: bool
    web: bool = field(metadata=about("Whether the web framework (extra `api`) is importable"))
    mcp: FeatureState | None = field(
        default=None,
        metadata=about("The MCP server for assistants: on, or which extra turns it on"),
    )
    issues: list[ConfigIssue] = field(default_factory=list)
    capabilities: dict[str, list[str]] = field(
        default_factory=dict, metadata=about("capability -> plugins providing it")
    )
    selected_providers: dict[str, str | None] = field(default_factory=dict)
    providers: list[CapabilityProvider] = field(
        default_factory=list, metadata=about("The active provider of each capability")
    )


@dataclass(kw_only=True)
class IntegrationsReport(Record):
    generated_at: datetime
    host: HostStatus
    integrations: list[IntegrationStatus]


NOT_CONNECTED = "no account is connected"


def integration_state(
    record: PluginRecord, health: list[HealthReport]
) -> tuple[IntegrationState, str]:
    """The one-word status and the reason behind it, most serious first."""
    if record.disabled_reason:
        return IntegrationState.DISABLED, record.disabled_reason
    if record.failure:
        return IntegrationState.FAILED, record.failure
    errors = [i for i in record.config_issues if i.severity == "error"]
    if errors:
        keys = ", ".join(dict.fromkeys(i.key for i in errors))
        return IntegrationState.MISCONFIGURED, f"disabled until fixed: {keys}"
    unwell = [h for h in health if h.status != HealthStatus.OK]
    if unwell:
        return IntegrationState.DEGRADED, "; ".join(f"{h.name}: {h.message}" for h in unwell)
    accounts = _accounts(health)
    if accounts is not None and not any(a.status == "connected" for a in accounts):
        return IntegrationState.NOT_CONNECTED, NOT_CONNECTED
    return IntegrationState.OK, ""


def _accounts(health: list[HealthReport]) -> list[ConnectedAccount] | None:
    """The accounts the checks report (None when none of them reports accounts)."""
    reported = [h.accounts for h in health if h.accounts is not None]
    if not reported:
        return None
    return [a for accounts in reported for a in accounts]


def _connect_url(health: list[HealthReport]) -> str | None:
    return next((h.connect_url for h in health if h.connect_url), None)


def integration_status(
    record: PluginRecord, env: dict[str, str], health: list[HealthReport]
) -> IntegrationStatus:
    manifest = record.manifest
    state, reason = integration_state(record, health)
    return IntegrationStatus(
        name=record.name,
        display_name=manifest.display_name if manifest else record.name,
        version=manifest.version if manifest else None,
        description=manifest.description if manifest else "",
        category=manifest.category if manifest else None,
        module=record.module,
        source=record.source,
        distribution=record.distribution,
        status=state,
        reason=reason,
        capabilities=record.capabilities or (manifest.capabilities if manifest else []),
        hooks=record.hooks,
        features=record.features,
        config=[
            ConfigKeyState(
                name=key.name,
                required=key.required,
                secret=key.secret,
                is_set=bool(env.get(key.name)),
                default=key.default,
                description=key.description,
            )
            for key in (manifest.config if manifest else [])
        ],
        config_issues=record.config_issues,
        config_summary=record.config_summary,
        health=health,
        accounts=_accounts(health),
        connect_url=_connect_url(health),
        route_prefixes=record.route_prefixes,
        routes=record.routes,
    )


def for_caller(report: IntegrationsReport, caller: Principal | None) -> IntegrationsReport:
    """The report as `caller` may see it. Without a caller (the public status page): plugin
    status, messages and where to connect only. With one: health details too, and connected
    accounts, limited to the caller's own tenant (the status then says whether *they* are
    connected)."""

    def health(h: HealthReport) -> HealthReport:
        hidden: dict[str, object] = {"tenant_details": {}, "tenant_accounts": {}}
        if caller is None:
            return h.model_copy(update={"details": {}, "accounts": None, **hidden})
        own = h.tenant_details.get(caller.tenant_id, {})
        accounts = h.tenant_accounts.get(caller.tenant_id, []) if h.accounts is not None else None
        return h.model_copy(
            update={"details": {**h.details, **own}, "accounts": accounts, **hidden}
        )

    def integration(i: IntegrationStatus) -> IntegrationStatus:
        checks = [health(h) for h in i.health]
        update: dict[str, object] = {"health": checks, "accounts": _accounts(checks)}
        if caller is None:
            update["accounts"] = None
        elif i.status in (IntegrationState.OK, IntegrationState.NOT_CONNECTED):
            accounts = _accounts(checks)
            if accounts is not None and not any(a.status == "connected" for a in accounts):
                update |= {"status": IntegrationState.NOT_CONNECTED, "reason": NOT_CONNECTED}
            elif accounts is not None:
                update |= {"status": IntegrationState.OK, "reason": ""}
        return i.model_copy(update=update)

    return report.model_copy(update={"integrations": [integration(i) for i in report.integrations]})
