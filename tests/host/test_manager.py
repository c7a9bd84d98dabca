"""Discovery and isolation: entry points, allow-list, autoload switch, module plugins, and
every way a plugin can fail without taking the host or the others down."""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from atom_host_stub.config import HostSettings
from atom_host_stub.manager import PluginManager
from tests.host.conftest import FAKE, HostFactory, plugin_modules
from tests.plugin_dist import write_distribution


def manager(env: dict[str, str], entry_points: list[EntryPoint] | None = None) -> PluginManager:
    source = (lambda: entry_points) if entry_points is not None else None
    return PluginManager(HostSettings.from_env(env), entry_points_source=source)


def test_installed_hubspot_plugin_is_found_through_its_entry_point() -> None:
    records = {r.name: r for r in manager({}).load()}
    hubspot = records["hubspot"]
    assert hubspot.source == "entry_point"
    assert hubspot.module == "atom_hubspot.plugin"
    assert hubspot.loaded and hubspot.failure is None
    assert hubspot.manifest is not None and hubspot.manifest.version
    assert "atom_validate_config" in hubspot.hooks


def test_allow_list_disables_the_plugins_it_does_not_name() -> None:
    eps = [
        EntryPoint("good", f"{FAKE}.good", "atom.plugins"),
        EntryPoint("rival", f"{FAKE}.rival", "atom.plugins"),
    ]
    records = {r.name: r for r in manager({"ATOM_PLUGINS": "good"}, eps).load()}
    assert records["good"].active
    assert not records["rival"].loaded
    assert records["rival"].disabled_reason == "not listed in ATOM_PLUGINS"


def test_autoload_switch_loads_no_entry_point_but_keeps_explicit_modules() -> None:
    eps = [EntryPoint("good", f"{FAKE}.good", "atom.plugins")]
    env = {"ATOM_DISABLE_PLUGIN_AUTOLOAD": "1", "ATOM_EXTRA_PLUGINS": plugin_modules("rival")}
    records = {r.name: r for r in manager(env, eps).load()}
    assert records["good"].disabled_reason == "ATOM_DISABLE_PLUGIN_AUTOLOAD is set"
    assert not records["good"].loaded
    assert records["rival"].active and records["rival"].source == "module"


def test_plugins_load_once() -> None:
    pm = manager(
        {"ATOM_DISABLE_PLUGIN_AUTOLOAD": "1", "ATOM_EXTRA_PLUGINS": plugin_modules("good")}
    )
    first = pm.load()
    assert pm.load() == first
    assert len(pm.pm.get_plugins()) == 1


def test_a_plugin_that_fails_to_import_is_isolated_with_its_reason() -> None:
    env = {
        "ATOM_DISABLE_PLUGIN_AUTOLOAD": "1",
        "ATOM_EXTRA_PLUGINS": plugin_modules("broken_import", "good"),
    }
    records = {r.name: r for r in manager(env).load()}
    broken = records["broken_import"]
    assert not broken.loaded
    assert broken.failure == (
        "import failed: RuntimeError: cannot import: a required library is missing"
    )
    assert records["good"].active


def test_a_malformed_manifest_fails_that_plugin_alone_without_importing_it() -> None:
    env = {
        "ATOM_DISABLE_PLUGIN_AUTOLOAD": "1",
        "ATOM_EXTRA_PLUGINS": plugin_modules("bad_manifest", "good"),
    }
    records = {r.name: r for r in manager(env).load()}
    bad = records[f"{FAKE}.bad_manifest"]  # no valid manifest, so no name: listed by module
    assert bad.failure is not None
    assert "version: String should match pattern" in bad.failure
    assert "capabilities: Input should be a valid list" in bad.failure
    assert f"{FAKE}.bad_manifest" not in sys.modules
    assert records["good"].active


def test_a_misspelt_hook_fails_the_plugin_through_check_pending() -> None:
    env = {
        "ATOM_DISABLE_PLUGIN_AUTOLOAD": "1",
        "ATOM_EXTRA_PLUGINS": plugin_modules("misspelt", "good"),
    }
    pm = manager(env)
    records = {r.name: r for r in pm.load()}
    assert records["misspelt"].failure is not None
    assert "atom_strartup" in records["misspelt"].failure
    assert records["good"].active
    pm.pm.check_pending()  # the bad plugin is gone; nothing else is pending


def test_entry_point_name_must_match_the_manifest() -> None:
    eps = [EntryPoint("nice", f"{FAKE}.good", "atom.plugins")]
    (record,) = manager({}, eps).load()
    assert record.failure == "entry point 'nice' and its manifest's name 'good' differ"
    assert not record.loaded


def test_two_plugins_with_one_name_keep_the_first_and_name_both() -> None:
    eps = [EntryPoint("good", f"{FAKE}.good", "atom.plugins")]
    env = {"ATOM_EXTRA_PLUGINS": plugin_modules("good")}
    records = manager(env, eps).load()
    assert records[0].active
    assert records[1].failure == (
        f"plugin name 'good' is used by both {FAKE}.good (entry_point) and {FAKE}.good (module)"
    )


def _write_plugin(root: Path, package: str, manifest: str, code: str = "") -> None:
    (root / package).mkdir()
    (root / package / "plugin.toml").write_text(textwrap.dedent(manifest))
    (root / package / "__init__.py").write_text(textwrap.dedent(code))


def test_manifest_route_prefixes_that_overlap_fail_the_second_plugin_naming_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, prefix in (("alpha", "/api/shared"), ("beta", "/api/shared/sub")):
        _write_plugin(
            tmp_path,
            f"plug_{name}",
            f"""
            name = "{name}"
            display_name = "{name}"
            version = "1.0"
            category = "crm"
            route_prefixes = ["{prefix}"]
        """,
        )
    monkeypatch.syspath_prepend(str(tmp_path))
    env = {"ATOM_DISABLE_PLUGIN_AUTOLOAD": "1", "ATOM_EXTRA_PLUGINS": "plug_alpha,plug_beta"}
    records = {r.name: r for r in manager(env).load()}
    assert records["alpha"].active
    assert records["beta"].failure == (
        "route prefix /api/shared/sub of plugin 'beta' overlaps /api/shared of plugin 'alpha'"
    )


async def test_a_raising_hook_fails_only_that_plugin(make_host: HostFactory) -> None:
    host = make_host("raising_startup", "good")
    await host.start()
    try:
        records = host.plugins.records
        assert records["raising_startup"].failure is not None
        assert records["raising_startup"].failure.startswith(
            "atom_startup raised ConnectionError: database at postgresql://app:***@db/prod"
        )
        assert "hunter22" not in records["raising_startup"].failure
        assert records["good"].active and records["good"].started
    finally:
        await host.stop()


def _installed_plugin(
    root: Path, monkeypatch: pytest.MonkeyPatch, package_name: str, manifest: str | None
) -> list[EntryPoint]:
    """A package with one hook, installed as distribution `tiny-crm` 2.5.0 with the entry
    point `tiny`; `manifest` (plugin.toml) is optional."""
    package = root / package_name
    package.mkdir()
    (package / "__init__.py").write_text(
        "import pluggy\nhookimpl = pluggy.HookimplMarker('atom')\n\n"
        "@hookimpl\ndef atom_features():\n    return []\n"
    )
    if manifest is not None:
        (package / "plugin.toml").write_text(textwrap.dedent(manifest))
    write_distribution(
        root, "tiny-crm", "2.5.0", {"tiny": package_name}, summary="A tiny CRM for tests"
    )
    monkeypatch.syspath_prepend(str(root))
    (distribution,) = importlib.metadata.distributions(path=[str(root)])
    return list(distribution.entry_points)


def test_a_plugin_without_plugin_toml_loads_with_its_distributions_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    eps = _installed_plugin(tmp_path, monkeypatch, "tiny_bare", manifest=None)
    (record,) = manager({}, eps).load()
    assert record.active and record.hooks == ["atom_features"]
    assert record.manifest_path is None
    manifest = record.manifest
    assert manifest is not None
    assert (manifest.name, manifest.display_name, manifest.version) == ("tiny", "tiny-crm", "2.5.0")
    assert (manifest.description, manifest.category, manifest.capabilities) == (
        "A tiny CRM for tests",
        "integration",
        [],
    )


def test_plugin_toml_adds_to_the_distributions_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    eps = _installed_plugin(
        tmp_path,
        monkeypatch,
        "tiny_with_toml",
        manifest="""
            display_name = "Tiny CRM"
            category = "crm"
            capabilities = ["crm"]
        """,
    )
    (record,) = manager({}, eps).load()
    assert record.active and record.manifest_path is not None
    manifest = record.manifest
    assert manifest is not None
    assert (manifest.name, manifest.display_name, manifest.version, manifest.category) == (
        "tiny",
        "Tiny CRM",
        "2.5.0",
        "crm",
    )
    assert manifest.capabilities == ["crm"]


def test_a_switched_off_entry_point_leaves_its_name_to_an_explicit_module() -> None:
    eps = [EntryPoint("good", f"{FAKE}.good", "atom.plugins")]
    env = {"ATOM_DISABLE_PLUGIN_AUTOLOAD": "1", "ATOM_EXTRA_PLUGINS": plugin_modules("good")}
    records = {r.name: r for r in manager(env, eps).load()}
    assert records["good"].active and records["good"].source == "module"
    disabled = records[f"good ({FAKE}.good, entry_point)"]
    assert disabled.disabled_reason == "ATOM_DISABLE_PLUGIN_AUTOLOAD is set"
    assert disabled.failure is None
