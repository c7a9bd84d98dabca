"""The host's lifecycle, without any web framework: discover plugins, check configuration,
start them, collect their services and health checks, report status, shut them down.

`app.py` puts HTTP on top of this; the CLI uses it directly, which is why `plugins`,
`check-config` and `health` work where FastAPI is not installed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from atom_host_stub._records import RecordError
from atom_host_stub.config import (
    HOST_NAME,
    HostSettings,
    ensure_private_dir,
    importable,
    provider_variable,
    read_environment,
)
from atom_host_stub.contract import (
    AgentTool,
    ConfigIssue,
    ConfigValue,
    FeatureState,
    HealthCheck,
    HostContext,
    RegisterHealthCheck,
    RegisterRoutes,
    RegisterService,
    RegisterTool,
    ServiceFactory,
    Severity,
)
from atom_host_stub.distributions import find_distribution
from atom_host_stub.health import HealthMonitor, HealthReport
from atom_host_stub.manager import PluginManager, PluginRecord, overlapping
from atom_host_stub.manifest import distribution_fields
from atom_host_stub.redaction import Redactor
from atom_host_stub.services import ServiceRegistry, ServiceUnavailable
from atom_host_stub.status import (
    CapabilityProvider,
    HostStatus,
    IntegrationsReport,
    integration_status,
)

# Paths the host serves itself; no plugin may register routes under them.
RESERVED_PREFIXES = ("/api/integrations", "/api/crm", "/_host")
# Capabilities the host serves over HTTP itself, whichever plugin provides them.
HOST_CAPABILITIES = {"crm": "/api/crm"}


def host_version() -> str:
    found = find_distribution("atom-hubspot")
    if found is None:
        return "0+unknown"
    return distribution_fields(found)["Version"] or "0+unknown"


def web_available() -> bool:
    """Whether the web framework (extra `api`) can be imported."""
    return importable("fastapi") and importable("jinja2") and importable("fastapi_offline")


MCP_PATH = "/mcp"


def mcp_feature() -> FeatureState:
    """The MCP server (mcp_server.py): on when the `mcp` extra is installed."""
    if importable("mcp"):
        return FeatureState(name="mcp", enabled=True, reason=f"MCP at {MCP_PATH} and stdio")
    return FeatureState(
        name="mcp", enabled=False, reason="the MCP SDK is not installed", extra="mcp"
    )


@dataclass
class ConfigReport:
    """Every configuration issue, by owner (`host` or a plugin name)."""

    issues: dict[str, list[ConfigIssue]] = field(default_factory=dict)

    @property
    def has_errors(self) -> bool:
        return any(i.severity == Severity.ERROR for issues in self.issues.values() for i in issues)


class StartupRefused(Exception):
    """`--strict`: configuration errors or failed plugins, so the host will not start."""

    def __init__(self, report: ConfigReport, failed: list[str]) -> None:
        self.report = report
        self.failed = failed
        super().__init__("refusing to start: configuration errors or failed plugins")


@dataclass
class RouteRegistration:
    plugin: str
    router: Any
    prefix: str
    tags: list[str]


@dataclass
class MountRegistration:
    plugin: str
    path: str
    app: Any


class Host:
    """One host instance: its plugins, their context, services, health checks and routes."""

    def __init__(
        self,
        settings: HostSettings,
        *,
        demo: bool = False,
        manager: PluginManager | None = None,
    ) -> None:
        self.settings = settings
        self.redact = Redactor([*settings.api_keys, settings.session_secret or ""])
        self.plugins = manager or PluginManager(settings, redact=self.redact)
        self.context = HostContext(
            env=settings.env,
            data_dir=settings.data_dir,
            database_url=settings.database_url,
            demo=demo,
            public_url=settings.public_url,
            workers=settings.workers,
        )
        self.services = ServiceRegistry(settings.provider_for, is_active=self._is_running)
        self.health = HealthMonitor(settings.health_cache_s)
        self.plugins.on_failure = self._forget
        self.host_issues: list[ConfigIssue] = []
        self.routes: list[RouteRegistration] = []
        # Tools for assistants, by plugin (served over MCP, see mcp_server.py).
        self.agent_tools: dict[str, list[AgentTool]] = {}
        self._prepared = False
        self._started: list[PluginRecord] = []

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, demo: bool = False) -> Host:
        return cls(HostSettings.from_env(read_environment(env)), demo=demo)

    # ------------------------------------------------------------------ discovery

    def prepare(self) -> list[PluginRecord]:
        """Load plugins (once) and ask each for its features."""
        records = self.plugins.load()
        if not self._prepared:
            self._prepared = True
            for name, features in self.plugins.call_sync("atom_features").items():
                record = self.plugins.get(name)
                try:
                    record.features = [FeatureState.model_validate(f) for f in features or []]
                except RecordError as exc:
                    self.plugins.fail(record, f"atom_features returned an invalid list: {exc}")
        return records

    def _forget(self, record: PluginRecord) -> None:
        """A failed plugin's services and health checks go; its routes stay mounted until
        restart (FastAPI cannot unmount), which is why routes are registered last."""
        self.services.remove_plugin(record.name)
        self.health.remove_plugin(record.name)
        self.agent_tools.pop(record.name, None)

    def _is_running(self, plugin: str) -> bool:
        record = self.plugins.records.get(plugin)
        return record is not None and record.active and not record.has_config_errors

    def runnable(self) -> list[PluginRecord]:
        """Plugins to start: loaded, not failed or disabled, configuration without errors."""
        return [r for r in self.prepare() if r.active and not r.has_config_errors]

    # ------------------------------------------------------------------ configuration

    async def check_config(self) -> ConfigReport:
        """The host's and every plugin's configuration issues, collected into one report."""
        self.prepare()
        self.host_issues = self.settings.validate()
        results = await self.plugins.call(
            "atom_validate_config", env=self.context.env, context=self.context
        )
        return self._config_report(results)

    def check_config_now(self) -> ConfigReport:
        """`check_config` where no event loop runs (the CLI): plugins whose check answers at
        once need none, so `atom-host plugins` and `check-config` start no asyncio."""
        self.prepare()
        self.host_issues = self.settings.validate()
        results = self.plugins.call_blocking(
            "atom_validate_config", env=self.context.env, context=self.context
        )
        return self._config_report(results)

    def _config_report(self, results: dict[str, Any]) -> ConfigReport:
        """Record each plugin's issues (`results`: what its check returned) and summary, and
        the host's provider issues; one report of all."""
        for name, issues in results.items():
            record = self.plugins.get(name)
            try:
                record.config_issues = [
                    self._redacted(ConfigIssue.model_validate(i)) for i in issues or []
                ]
            except RecordError as exc:
                self.plugins.fail(record, f"atom_validate_config returned invalid issues: {exc}")
        summaries = self.plugins.call_sync(
            "atom_config_summary", env=self.context.env, context=self.context
        )
        for name, values in summaries.items():
            record = self.plugins.get(name)
            try:
                parsed = [ConfigValue.model_validate(v) for v in values or []]
            except RecordError as exc:
                self.plugins.fail(record, f"atom_config_summary returned invalid values: {exc}")
                continue
            record.config_summary = [
                v.model_copy(update={"value": self.redact(v.value)}) for v in parsed
            ]
        self.host_issues += self._capability_issues()
        report = ConfigReport({HOST_NAME: self.host_issues})
        for record in self.plugins.records.values():
            if record.config_issues:
                report.issues[record.name] = record.config_issues
        return report

    def _redacted(self, issue: ConfigIssue) -> ConfigIssue:
        return issue.model_copy(
            update={"message": self.redact(issue.message), "hint": self.redact(issue.hint)}
        )

    def _capability_issues(self) -> list[ConfigIssue]:
        """Which plugin serves each capability, as plugin.toml files declare them: several
        need ATOM_<CAPABILITY>_PROVIDER to choose, and one the host serves itself (`crm`, at
        /api/crm) is worth a warning when no plugin provides it."""
        providers: dict[str, list[str]] = {capability: [] for capability in HOST_CAPABILITIES}
        for record in self.plugins.active():
            for capability in record.manifest.capabilities if record.manifest else []:
                providers.setdefault(capability, []).append(record.name)
        issues: list[ConfigIssue] = []
        for capability, names in sorted(providers.items()):
            issue = self._provider_issue(capability, names)
            if issue is not None:
                issues.append(issue)
        return issues

    def _provider_issue(self, capability: str, names: list[str]) -> ConfigIssue | None:
        variable = provider_variable(capability)
        chosen = self.settings.provider_for(capability)
        route = HOST_CAPABILITIES.get(capability)
        served = f"; {route} answers 503" if route else ""
        if chosen is not None and chosen not in names:
            return ConfigIssue(
                key=variable,
                message=f"{variable}={chosen} but no loaded plugin of that name provides "
                f"{capability!r}{served}",
                hint=f"Set {variable} to one of: {', '.join(names)}."
                if names
                else f"Install the plugin {chosen!r}, or unset {variable}.",
            )
        if chosen is None and len(names) > 1:
            return ConfigIssue(
                key=variable,
                message=f"capability {capability!r} is provided by both {names[0]!r} "
                f"and {names[1]!r}{served}",
                hint=f"Set {variable} to the one callers should get.",
            )
        if not names:
            return ConfigIssue(
                key=variable,
                severity=Severity.WARNING,
                message=f"no loaded plugin declares the capability {capability!r}{served}",
                hint=f"Install a plugin that provides {capability!r} (its plugin.toml lists it "
                "under `capabilities`).",
            )
        return None

    # ------------------------------------------------------------------ lifecycle

    async def start(self, *, strict: bool = False) -> ConfigReport:
        """Check config, start every correctly configured plugin, collect services and checks.
        `strict` refuses (StartupRefused) on any config error or failed plugin instead."""
        report = await self.check_config()
        failed = [r.name for r in self.plugins.records.values() if r.failure]
        if strict and (report.has_errors or failed):
            raise StartupRefused(report, failed)
        ensure_private_dir(self.settings.data_dir)
        self._started = self.runnable()
        await self.plugins.call("atom_startup", plugins=self._started, context=self.context)
        for record in self._started:
            record.started = record.active
        if strict:
            # A plugin that could not start (e.g. its database is not migrated) is a refusal
            # too, not a plugin quietly left out.
            failed = [r.name for r in self._started if r.failure]
            if failed:
                await self.stop()
                raise StartupRefused(report, failed)
        await self._register_services()
        await self._register_health_checks()
        await self._register_agent_tools()
        return report

    async def stop(self) -> None:
        """Shut down every plugin whose startup was attempted, failed ones too, newest first."""
        started, self._started = self._started, []
        for record in reversed(started):
            await self.plugins.call(
                "atom_shutdown", plugins=[record], include_failed=True, context=self.context
            )
            record.started = False

    async def _collect(
        self, hook_name: str, make_register: Callable[[PluginRecord, list[Any]], Any]
    ) -> dict[str, list[Any]]:
        """Call a registration hook on the running plugins, each with its own `register`
        callback (built by `make_register` to append to a list); give back what each plugin
        registered — only for plugins whose hook completed, so nothing half-done is kept."""
        pending: dict[str, list[Any]] = {}

        def for_plugin(record: PluginRecord) -> dict[str, Any]:
            return {"register": make_register(record, pending.setdefault(record.name, []))}

        results = await self.plugins.call(
            hook_name, plugins=self.running(), kwargs_for=for_plugin, context=self.context
        )
        return {name: pending[name] for name in results}

    async def _register_services(self) -> None:
        def make_register(record: PluginRecord, into: list[Any]) -> RegisterService:
            def register(capability: str, factory: ServiceFactory) -> None:
                into.append((capability, factory))

            return register

        for name, registrations in (
            await self._collect("atom_register_services", make_register)
        ).items():
            try:
                for capability, factory in registrations:
                    self.services.register(name, capability, factory)
                    self.plugins.get(name).capabilities.append(capability)
            except ValueError as exc:
                self.plugins.fail(self.plugins.get(name), str(exc))

    async def _register_health_checks(self) -> None:
        def make_register(record: PluginRecord, into: list[Any]) -> RegisterHealthCheck:
            def register(name: str, check: HealthCheck, *, timeout_s: float = 5.0) -> None:
                into.append((name, check, timeout_s))

            return register

        for plugin, registrations in (
            await self._collect("atom_register_health_checks", make_register)
        ).items():
            try:
                for name, check, timeout_s in registrations:
                    self.health.register(plugin, name, check, timeout_s)
            except ValueError as exc:
                self.plugins.fail(self.plugins.get(plugin), str(exc))

    async def _register_agent_tools(self) -> None:
        def make_register(record: PluginRecord, into: list[Any]) -> RegisterTool:
            def register(tool: AgentTool) -> None:
                into.append(tool)

            return register

        self.agent_tools = {}
        taken: set[str] = set()
        for plugin, tools in (
            await self._collect("atom_register_agent_tools", make_register)
        ).items():
            names = [t.name for t in tools]
            clash = sorted((set(names) & taken) | {n for n in names if names.count(n) > 1})
            if clash:
                self.plugins.fail(self.plugins.get(plugin), f"agent tool(s) {clash} taken")
                continue
            taken.update(names)
            self.agent_tools[plugin] = tools

    def agent_tool_list(self) -> list[AgentTool]:
        """Every running plugin's agent tools, in registration order."""
        return [tool for tools in self.agent_tools.values() for tool in tools]

    def running(self) -> list[PluginRecord]:
        return [r for r in self._started if r.active]

    async def register_routes(self, include: Callable[[RouteRegistration], None]) -> None:
        """Ask running plugins for routers; check each prefix, then hand it to `include`.
        A plugin's routers are mounted only if its whole registration succeeded."""

        def make_register(record: PluginRecord, into: list[Any]) -> RegisterRoutes:
            def register(router: Any, *, prefix: str, tags: list[str] | None = None) -> None:
                into.append(
                    RouteRegistration(
                        record.name, router, prefix.rstrip("/"), tags or [record.name]
                    )
                )

            return register

        pending = await self._collect("atom_register_routes", make_register)
        for plugin, registrations in pending.items():
            problem = next(filter(None, (self._route_problem(r) for r in registrations)), None)
            record = self.plugins.get(plugin)
            if problem:
                self.plugins.fail(record, problem)
                continue
            for registration in registrations:
                include(registration)
                self.routes.append(registration)
                if registration.prefix not in record.route_prefixes:
                    record.route_prefixes.append(registration.prefix)
                record.routes += describe_routes(registration)

    def _route_problem(self, registration: RouteRegistration) -> str | None:
        prefix, plugin = registration.prefix, registration.plugin
        if not prefix.startswith("/"):
            return f"route prefix {prefix!r} of plugin {plugin!r} must start with /"
        for reserved in RESERVED_PREFIXES:
            if overlapping(prefix, reserved):
                return f"route prefix {prefix} of plugin {plugin!r} overlaps the host's {reserved}"
        manifest = self.plugins.get(plugin).manifest
        declared = manifest.route_prefixes if manifest else []
        if declared and not any(prefix == d or prefix.startswith(d + "/") for d in declared):
            return f"route prefix {prefix} of plugin {plugin!r} is not declared in its plugin.toml"
        for other in self.routes:
            if other.plugin != plugin and overlapping(prefix, other.prefix):
                return (
                    f"route prefix {prefix} of plugin {plugin!r} overlaps {other.prefix} "
                    f"registered by plugin {other.plugin!r}"
                )
        return None

    async def demo_setup(self, mount: Callable[[MountRegistration], None]) -> None:
        """Demo mode: let running plugins bring up offline stand-ins and mount their pages."""

        def for_plugin(record: PluginRecord) -> dict[str, Any]:
            def register_mount(path: str, app: Any) -> None:
                mount(MountRegistration(record.name, path, app))

            return {"mount": register_mount}

        await self.plugins.call(
            "atom_demo_setup", plugins=self.running(), kwargs_for=for_plugin, context=self.context
        )

    async def migrate(self) -> dict[str, str]:
        """Run every loaded plugin's migrations (config errors elsewhere do not block this)."""
        self.prepare()
        results = await self.plugins.call("atom_migrate", context=self.context)
        return {
            name: str(summary) if summary else "up to date" for name, summary in results.items()
        }

    # ------------------------------------------------------------------ status

    async def report(self, *, with_health: bool = True) -> IntegrationsReport:
        """The status of the host and every plugin, with each health check's latest result
        (run now unless a recent one is cached) unless `with_health` is False."""
        self.prepare()
        health: dict[str, list[HealthReport]] = await self.health.results() if with_health else {}
        return self.status_report(health)

    def status_report(
        self, health: dict[str, list[HealthReport]] | None = None
    ) -> IntegrationsReport:
        """The status of the host and every plugin with these health results (none: without
        health checks, as `atom-host plugins` lists them)."""
        self.prepare()
        health = health or {}
        capabilities = self.services.capabilities()
        selected: dict[str, str | None] = {}
        providers: list[CapabilityProvider] = []
        for capability in sorted({*capabilities, *HOST_CAPABILITIES}):
            try:
                chosen: str | None = self.services.selected(capability)
                reason = ""
            except ServiceUnavailable as exc:
                chosen, reason = None, str(exc)
            if capability in capabilities:
                selected[capability] = chosen
            providers.append(
                CapabilityProvider(
                    capability=capability,
                    provider=chosen,
                    candidates=capabilities.get(capability, []),
                    route=HOST_CAPABILITIES.get(capability),
                    reason=reason,
                )
            )
        return IntegrationsReport(
            generated_at=datetime.now(UTC),
            host=HostStatus(
                version=host_version(),
                demo=self.context.demo,
                web=web_available(),
                mcp=mcp_feature(),
                issues=self.host_issues,
                capabilities=capabilities,
                selected_providers=selected,
                providers=providers,
            ),
            integrations=[
                integration_status(record, dict(self.context.env), health.get(record.name, []))
                for record in self.plugins.records.values()
            ],
        )


def describe_routes(registration: RouteRegistration) -> list[str]:
    """`METHOD /prefix/path` for each route of a router (any object with `.routes`)."""
    described = []
    for route in getattr(registration.router, "routes", []):
        methods = ",".join(sorted(getattr(route, "methods", None) or [])) or "*"
        described.append(f"{methods} {registration.prefix}{getattr(route, 'path', '')}")
    return described
