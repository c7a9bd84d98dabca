"""Plugin discovery and isolated hook calls, on top of pluggy.

Plugins come from the `atom.plugins` entry-point group (filtered by ATOM_PLUGINS, switched off by
ATOM_DISABLE_PLUGIN_AUTOLOAD) and from module names given explicitly (ATOM_EXTRA_PLUGINS or
`add_module`, for tests and local development). Each is loaded once, lazily. A plugin whose
manifest is bad, whose import fails or whose hook raises is recorded as failed with its reason;
the host and every other plugin carry on.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pluggy

from atom_host_stub import hookspecs
from atom_host_stub.config import HostSettings
from atom_host_stub.contract import ConfigIssue, ConfigValue, FeatureState
from atom_host_stub.distributions import EntryPoint, entry_points
from atom_host_stub.manifest import (
    ManifestError,
    PluginManifest,
    distribution_defaults,
    distribution_fields,
    load_manifest,
)
from atom_host_stub.redaction import Redactor

LOGGER = "atom_host_stub.plugins"

ENTRY_POINT_GROUP = "atom.plugins"
PROJECT_NAME = "atom"

PluginSource = Literal["entry_point", "module"]


@dataclass
class PluginRecord:
    """What the host knows about one plugin, whether or not it could be loaded."""

    name: str
    module: str
    source: PluginSource
    distribution: str | None = None  # the installed package it comes from, for pip hints
    manifest: PluginManifest | None = None
    manifest_path: Path | None = None  # None: defaults only, the plugin has no plugin.toml
    disabled_reason: str | None = None
    failure: str | None = None
    loaded: bool = False
    hooks: list[str] = field(default_factory=list)
    features: list[FeatureState] = field(default_factory=list)
    config_issues: list[ConfigIssue] = field(default_factory=list)
    config_summary: list[ConfigValue] = field(default_factory=list)
    started: bool = False
    routes: list[str] = field(default_factory=list)
    route_prefixes: list[str] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """Loaded and neither disabled nor failed: the host keeps calling its hooks."""
        return self.loaded and self.failure is None and self.disabled_reason is None

    @property
    def has_config_errors(self) -> bool:
        return any(issue.severity == "error" for issue in self.config_issues)


class PluginConflict(Exception):
    """Two plugins claim the same thing (a route prefix, a name); the message names both."""


def overlapping(prefix: str, other: str) -> bool:
    """True when one route prefix equals or contains the other (`/api/a` vs `/api/a/b`)."""
    return prefix == other or prefix.startswith(other + "/") or other.startswith(prefix + "/")


class PluginManager:
    """Finds, loads and calls plugins; every failure is confined to the plugin that caused it."""

    def __init__(
        self,
        settings: HostSettings,
        *,
        entry_points_source: Callable[[], Iterable[EntryPoint]] | None = None,
        redact: Redactor | None = None,
    ) -> None:
        self.settings = settings
        self.redact = redact or Redactor()
        self.records: dict[str, PluginRecord] = {}
        # Told when a plugin fails, so what it registered (services, checks) can be dropped.
        self.on_failure: Callable[[PluginRecord], None] | None = None
        self._entry_points = entry_points_source or (lambda: entry_points(ENTRY_POINT_GROUP))
        self._loaded = False
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)

    # ------------------------------------------------------------------ discovery

    def load(self) -> list[PluginRecord]:
        """Discover and load every plugin, once; later calls return the same records."""
        if not self._loaded:
            self._loaded = True
            for ep in sorted(self._entry_points(), key=lambda ep: ep.name):
                self._load_entry_point(ep)
            for name, module in self.settings.extra_plugins.items():
                self.add_module(module, name=name)
        return list(self.records.values())

    def _load_entry_point(self, ep: EntryPoint) -> None:
        fields = distribution_fields(ep.dist) if ep.dist is not None else None
        record = PluginRecord(
            name=ep.name,
            module=ep.module,
            source="entry_point",
            distribution=fields["Name"] if fields is not None else None,
        )
        if not self.settings.autoload:
            record.disabled_reason = "ATOM_DISABLE_PLUGIN_AUTOLOAD is set"
        elif (
            self.settings.allowed_plugins is not None
            and ep.name not in self.settings.allowed_plugins
        ):
            record.disabled_reason = "not listed in ATOM_PLUGINS"
        if not self._read_manifest(record, distribution_defaults(ep.name, fields)) or (
            record.disabled_reason
        ):
            self._add_record(record)
            return
        if record.manifest is not None and record.manifest.name != ep.name:
            record.failure = (
                f"entry point {ep.name!r} and its manifest's name {record.manifest.name!r} differ"
            )
        self._add_record(record)
        if record.failure is None:
            self._import_and_register(record, ep.load)

    def add_module(self, module: str, *, name: str | None = None) -> PluginRecord:
        """Load a plugin by module name through the same path as an installed one; its name is
        its manifest's `name`, else `name`, else the module's last part."""
        record = PluginRecord(name=module, module=module, source="module")
        defaults = {"name": (name or module.rsplit(".", 1)[-1]).lower()}
        if self._read_manifest(record, defaults) and record.manifest is not None:
            record.name = record.manifest.name
        self._add_record(record)
        if record.failure is None:
            self._import_and_register(record, lambda: importlib.import_module(module))
        return record

    def _read_manifest(self, record: PluginRecord, defaults: dict[str, Any]) -> bool:
        try:
            record.manifest, record.manifest_path = load_manifest(record.module, defaults)
        except ManifestError as exc:
            record.failure = f"manifest: {exc}"
            return False
        # Secret config values must never appear in a reason the host shows.
        self.redact.add(self.settings.env.get(key, "") for key in record.manifest.secret_keys)
        return True

    def _add_record(self, record: PluginRecord) -> None:
        existing = self.records.get(record.name)
        if existing is not None and existing.disabled_reason and not record.disabled_reason:
            # An installed plugin that is switched off does not keep its name from a module
            # loaded explicitly (ATOM_EXTRA_PLUGINS): the disabled one is listed beside it.
            del self.records[existing.name]
            existing.name = f"{existing.name} ({existing.module}, {existing.source})"
            self.records[existing.name] = existing
            existing = None
        if existing is not None:
            # Keep the first; the second is listed under a distinct key with the reason.
            record.failure = (
                f"plugin name {record.name!r} is used by both {existing.module} "
                f"({existing.source}) and {record.module} ({record.source})"
            )
            record.name = f"{record.name} ({record.module})"
        elif record.failure is None and record.disabled_reason is None:
            self._check_manifest_prefixes(record)
        self.records[record.name] = record

    def _check_manifest_prefixes(self, record: PluginRecord) -> None:
        if record.manifest is None:
            return
        for other in self.records.values():
            if other.manifest is None or not (
                other.failure is None and other.disabled_reason is None
            ):
                continue
            for prefix in record.manifest.route_prefixes:
                for theirs in other.manifest.route_prefixes:
                    if overlapping(prefix, theirs):
                        record.failure = (
                            f"route prefix {prefix} of plugin {record.name!r} overlaps "
                            f"{theirs} of plugin {other.name!r}"
                        )
                        return

    def _import_and_register(self, record: PluginRecord, importer: Callable[[], Any]) -> None:
        try:
            plugin = importer()
        except (Exception, SystemExit) as exc:  # a plugin's import is untrusted code
            self.fail(record, f"import failed: {type(exc).__name__}: {exc}")
            return
        try:
            self.pm.register(plugin, name=record.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            self.fail(record, f"invalid hooks: {exc}")
            return
        try:
            # A hookimpl with no matching spec is almost always a misspelt name.
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(plugin)
            self.fail(record, f"unknown hook (misspelt?): {exc}")
            return
        record.loaded = True
        record.hooks = sorted(
            impl_name
            for impl_name, caller in vars(self.pm.hook).items()
            if isinstance(caller, pluggy.HookCaller)
            and any(impl.plugin_name == record.name for impl in caller.get_hookimpls())
        )

    # ------------------------------------------------------------------ state

    def fail(self, record: PluginRecord, reason: str) -> None:
        """Mark a plugin failed; it keeps its record but gets no more hook calls. The first
        reason is kept: later failures are usually consequences of it."""
        reason = self.redact(reason)[:500]
        record.failure = record.failure or reason
        import logging  # only a failure logs: listing healthy plugins needs no logging

        logging.getLogger(LOGGER).warning("plugin %s failed: %s", record.name, reason)
        if self.on_failure is not None:
            self.on_failure(record)

    def active(self) -> list[PluginRecord]:
        return [r for r in self.load() if r.active]

    def get(self, name: str) -> PluginRecord:
        return self.records[name]

    # ------------------------------------------------------------------ hook calls

    def implementers(self, hook_name: str) -> list[PluginRecord]:
        """The active plugins that implement `hook_name`."""
        return [record for record, _ in self._targets(hook_name, None, include_failed=False)]

    def _impls(self, hook_name: str) -> dict[str, pluggy.HookImpl]:
        caller: pluggy.HookCaller = getattr(self.pm.hook, hook_name)
        return {impl.plugin_name: impl for impl in caller.get_hookimpls()}

    def _targets(
        self, hook_name: str, plugins: Iterable[PluginRecord] | None, include_failed: bool
    ) -> list[tuple[PluginRecord, pluggy.HookImpl]]:
        impls = self._impls(hook_name)
        return [
            (record, impls[record.name])
            for record in list(plugins if plugins is not None else self.active())
            if record.name in impls and (record.active or (include_failed and record.loaded))
        ]

    async def call(
        self,
        hook_name: str,
        *,
        plugins: Iterable[PluginRecord] | None = None,
        kwargs_for: Callable[[PluginRecord], Mapping[str, Any]] | None = None,
        include_failed: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Call `hook_name` on each active plugin in turn (awaiting what it returns) and give
        back {plugin: result}. A plugin whose hook raises is marked failed and left out.
        `kwargs_for` adds per-plugin arguments (e.g. a register callback that knows its plugin);
        `include_failed` reaches failed plugins too (shutdown must release what they acquired)."""
        results: dict[str, Any] = {}
        for record, impl in self._targets(hook_name, plugins, include_failed):
            available = {**kwargs, **(kwargs_for(record) if kwargs_for else {})}
            try:
                result = impl.function(**{arg: available[arg] for arg in impl.argnames})
                if inspect.isawaitable(result):
                    result = await result
            except Exception as exc:  # a plugin's hook must never take the host down
                self.fail(record, f"{hook_name} raised {type(exc).__name__}: {exc}")
                continue
            results[record.name] = result
        return results

    def call_blocking(self, hook_name: str, **kwargs: Any) -> dict[str, Any]:
        """`call` where no event loop runs (the CLI): a hook that answers at once needs none,
        and one that returns an awaitable has it run to the end in an event loop of its own.
        So a command whose hooks are all plain (`atom-host plugins`) never starts asyncio."""
        results: dict[str, Any] = {}
        for record, impl in self._targets(hook_name, None, include_failed=False):
            try:
                result = impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
                if inspect.isawaitable(result):
                    result = _run_to_end(result)
            except Exception as exc:  # a plugin's hook must never take the host down
                self.fail(record, f"{hook_name} raised {type(exc).__name__}: {exc}")
                continue
            results[record.name] = result
        return results

    def call_sync(
        self, hook_name: str, *, plugins: Iterable[PluginRecord] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """`call` for hooks answered without an event loop (features, CLI commands)."""
        results: dict[str, Any] = {}
        for record, impl in self._targets(hook_name, plugins, include_failed=False):
            try:
                results[record.name] = impl.function(**{a: kwargs[a] for a in impl.argnames})
            except Exception as exc:  # a plugin's hook must never take the host down
                self.fail(record, f"{hook_name} raised {type(exc).__name__}: {exc}")
        return results


def _run_to_end(awaitable: Awaitable[Any]) -> Any:
    import asyncio  # only for a hook that needs it

    async def wait() -> Any:
        return await awaitable

    return asyncio.run(wait())
