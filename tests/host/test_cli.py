"""`atom-host`: commands, JSON output, exit codes, plugin command groups, and running without
the web framework (a subprocess with an import blocker, not an uninstall)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from atom_host_stub.cli import (
    EXIT_MISSING_EXTRA,
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_REFUSED,
    EXIT_USAGE,
    main,
)
from tests.host.conftest import API_KEY, GOOD_TOKEN, plugin_modules

REPO = Path(__file__).resolve().parents[2]

# Runs the CLI with `fastapi` unimportable: a meta-path finder in front of all others refuses
# it, so `import fastapi` and `find_spec("fastapi")` both raise ImportError.
BLOCKED_CLI = textwrap.dedent("""
    import sys

    class BlockWebFramework:
        def find_spec(self, name, path=None, target=None):
            if name == "fastapi" or name.startswith("fastapi."):
                raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
            return None

    sys.meta_path.insert(0, BlockWebFramework())
    from atom_host_stub.cli import main
    code = main(sys.argv[1:])
    assert "fastapi" not in sys.modules, "something imported the blocked web framework"
    sys.exit(code)
""")
PLAIN_CLI = "import sys; from atom_host_stub.cli import main; sys.exit(main(sys.argv[1:]))"


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The current environment without any ATOM_/HUBSPOT_ setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATOM_", "HUBSPOT_"))}
    env.update({"PYTHONPATH": str(REPO), "ATOM_DATA_DIR": str(tmp_path / "data"), **extra})
    return env


def run_cli(
    tmp_path: Path, *args: str, blocked: bool = False, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKED_CLI if blocked else PLAIN_CLI, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean_env(tmp_path, **env),
        timeout=120,
    )


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """In-process CLI runs: only the `good` test plugin, a clean environment, no .env."""
    for key in list(os.environ):
        if key.startswith(("ATOM_", "HUBSPOT_", "GOOD_", "RIVAL_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ATOM_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("ATOM_EXTRA_PLUGINS", plugin_modules("good"))
    monkeypatch.setenv("ATOM_API_KEYS", f"{API_KEY}:t:u")
    monkeypatch.setenv("ATOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GOOD_TOKEN", GOOD_TOKEN)
    return tmp_path


def json_out(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


# --------------------------------------------------------------------------- real install


def test_plugins_json_lists_the_installed_hubspot_plugin(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "plugins", "--json")
    assert done.returncode == EXIT_OK, done.stderr
    report = json.loads(done.stdout)
    hubspot = next(i for i in report["integrations"] if i["name"] == "hubspot")
    assert hubspot["version"] == report["host"]["version"]
    assert hubspot["source"] == "entry_point"
    assert {"atom_features", "atom_validate_config"} <= set(hubspot["hooks"])
    routes = next(f for f in hubspot["features"] if f["name"] == "http_routes")
    assert routes["enabled"] is True
    assert report["host"]["web"] is True


def test_check_config_without_hubspot_credentials_fails_naming_the_variable(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "check-config")
    assert done.returncode == EXIT_PROBLEMS
    assert "hubspot: HUBSPOT_CLIENT_ID: HUBSPOT_CLIENT_ID is not set" in done.stdout
    assert "Copy the client id from your HubSpot app" in done.stdout


def test_check_config_json_names_each_variable(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ATOM_DISABLE_PLUGIN_AUTOLOAD")  # the installed hubspot plugin too
    assert main(["check-config", "--json"]) == EXIT_PROBLEMS
    report = json_out(capsys)
    assert report["ok"] is False
    keys = {i["key"] for i in report["issues"] if i["owner"] == "hubspot"}
    assert {"HUBSPOT_CLIENT_ID", "HUBSPOT_CLIENT_SECRET", "ATOM_HUBSPOT_ENCRYPTION_KEYS"} <= keys
    assert all(i["hint"] for i in report["issues"] if i["owner"] == "hubspot")


# --------------------------------------------------------------------------- no web framework


def test_without_the_web_framework_plugins_lists_hubspot_with_routes_off(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "plugins", "--json", blocked=True)
    assert done.returncode == EXIT_OK, done.stderr
    report = json.loads(done.stdout)
    assert report["host"]["web"] is False
    hubspot = next(i for i in report["integrations"] if i["name"] == "hubspot")
    assert hubspot["status"] == "misconfigured"  # loaded and validated, just not configured
    routes = next(f for f in hubspot["features"] if f["name"] == "http_routes")
    assert (routes["enabled"], routes["extra"]) == (False, "api")
    assert hubspot["distribution"] == "atom-hubspot"  # so: pip install 'atom-hubspot[api]'


def test_plugins_text_says_which_extra_turns_a_feature_on(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plugins"]) == EXIT_OK
    # `good` is loaded by module name, so no distribution is known: the extra is named.
    assert "feature sparkles: off — needs the extra 'sparkle'" in capsys.readouterr().out


def test_without_the_web_framework_check_config_and_health_still_run(tmp_path: Path) -> None:
    env = {
        "ATOM_EXTRA_PLUGINS": plugin_modules("good"),
        "ATOM_PLUGINS": "none",
        "GOOD_TOKEN": GOOD_TOKEN,
        "ATOM_API_KEYS": f"{API_KEY}:t:u",
    }
    check = run_cli(tmp_path, "check-config", "--json", blocked=True, **env)
    assert check.returncode == EXIT_OK, check.stdout + check.stderr
    health = run_cli(tmp_path, "health", "--json", blocked=True, **env)
    assert health.returncode == EXIT_OK, health.stderr
    good = next(i for i in json.loads(health.stdout)["integrations"] if i["name"] == "good")
    assert [(h["name"], h["status"]) for h in good["health"]] == [("good-ok", "ok")]
    assert good["capabilities"] == ["greeting"]  # services built without the web framework
    serve = run_cli(tmp_path, "serve", blocked=True, **env)
    assert serve.returncode == EXIT_MISSING_EXTRA
    assert "pip install 'atom-hubspot[api]'" in serve.stderr


def test_without_the_web_framework_hubspot_migrates_starts_and_builds_its_services(
    tmp_path: Path, hubspot_env: dict[str, str]
) -> None:
    env = {**hubspot_env, "ATOM_PLUGINS": "hubspot", "ATOM_API_KEYS": f"{API_KEY}:t:u"}
    migrate = run_cli(tmp_path, "migrate", blocked=True, **env)
    assert migrate.returncode == EXIT_OK, migrate.stdout + migrate.stderr
    assert migrate.stdout.startswith("hubspot: ")
    health = run_cli(tmp_path, "health", "--json", blocked=True, **env)
    assert health.returncode == EXIT_OK, health.stdout + health.stderr
    report = json.loads(health.stdout)
    hubspot = next(i for i in report["integrations"] if i["name"] == "hubspot")
    assert hubspot["status"] == "not_connected"  # healthy, and no portal connected yet
    # connection, mirror, feed
    assert [h["status"] for h in hubspot["health"]] == ["ok", "ok", "ok"]
    assert report["host"]["capabilities"] == {"crm": ["hubspot"], "marketing": ["hubspot"]}
    assert hubspot["routes"] == []  # no web framework, no routes


# --------------------------------------------------------------------------- in process


def test_check_config_passes_with_a_complete_configuration(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", "--json"]) == EXIT_OK
    report = json_out(capsys)
    # The test plugin provides no CRM: only that is said, as a warning.
    assert report["ok"] is True
    assert [(i["owner"], i["key"], i["severity"]) for i in report["issues"]] == [
        ("host", "ATOM_CRM_PROVIDER", "warning")
    ]
    assert report["in_effect"] == {
        "good": [{"key": "GOOD_MODE", "name": "Greeting mode", "value": "plain"}]
    }


def test_hook_config_summary_is_printed_by_check_config(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GOOD_MODE", "shouting")
    assert main(["check-config"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "good, in effect:\n    Greeting mode  shouting  (GOOD_MODE)\n" in out
    assert out.rstrip().splitlines()[-1].startswith("Configuration OK")


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (
            "2026-09",
            {"CRM objects": "2026-09", "Marketing single-send": "2026-03", "OAuth": "2026-09"},
        ),
        ("2025-09", {"CRM objects": "2025-09", "Marketing single-send": "v4", "OAuth": "v1"}),
        ("v3", {"CRM associations, batch": "v4", "Webhooks Journal": "not available under v3"}),
    ],
)
def test_check_config_shows_the_hubspot_api_version_of_each_family(
    tmp_path: Path, hubspot_env: dict[str, str], version: str, expected: dict[str, str]
) -> None:
    env = {**hubspot_env, "ATOM_PLUGINS": "hubspot", "HUBSPOT_API_VERSION": version}
    done = run_cli(tmp_path, "check-config", "--json", **env)
    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    values = json.loads(done.stdout)["in_effect"]["hubspot"]
    values = [v for v in values if v["key"] == "HUBSPOT_API_VERSION"]
    shown = {v["name"].removeprefix("HubSpot API: ").split(" (")[0]: v["value"] for v in values}
    assert expected.items() <= shown.items()


def test_check_config_names_an_ambiguous_crm_provider(
    cli_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    memory_crm_example: Path,
) -> None:
    plugins = "memory=atom_memory_crm.plugin," + plugin_modules("second_crm")
    monkeypatch.setenv("ATOM_EXTRA_PLUGINS", plugins)
    assert main(["check-config"]) == EXIT_PROBLEMS
    out = capsys.readouterr().out
    assert (
        "error   host: ATOM_CRM_PROVIDER: capability 'crm' is provided by both 'memory' and "
        "'second_crm'; /api/crm answers 503\n"
        "        → Set ATOM_CRM_PROVIDER to the one callers should get."
    ) in out
    monkeypatch.setenv("ATOM_CRM_PROVIDER", "second_crm")
    assert main(["check-config"]) == EXIT_OK
    assert "ATOM_CRM_PROVIDER" not in capsys.readouterr().out


def test_check_config_lists_failed_plugins_as_errors(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATOM_EXTRA_PLUGINS", plugin_modules("good", "broken_import"))
    assert main(["check-config"]) == EXIT_PROBLEMS
    assert (
        "error   broken_import: (plugin): plugin failed: import failed" in capsys.readouterr().out
    )


def test_plugins_exits_1_when_a_plugin_failed(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATOM_EXTRA_PLUGINS", plugin_modules("good", "broken_import"))
    assert main(["plugins"]) == EXIT_PROBLEMS
    out = capsys.readouterr().out
    assert "good 1.2.3  [ok]  Good Example" in out
    assert "broken_import 0.0.1  [failed]  Broken on import" in out


def test_health_exit_codes(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["health"]) == EXIT_OK
    assert "good-ok: ok" in capsys.readouterr().out
    monkeypatch.setenv("ATOM_EXTRA_PLUGINS", plugin_modules("good", "raising_startup"))
    assert main(["health"]) == EXIT_PROBLEMS
    assert (
        "raising_startup: failed — atom_startup raised ConnectionError" in capsys.readouterr().out
    )


def test_hook_register_cli_commands_adds_the_plugins_group(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["good", "hello"]) == EXIT_OK
    assert capsys.readouterr().out == "hello from the good plugin\n"
    assert main(["--help"]) == EXIT_OK
    helptext = capsys.readouterr().out
    assert "good" in helptext and "Exit codes:" in helptext


def test_a_plugin_command_clashing_with_a_host_command_fails_that_plugin(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin = cli_env / "clashing_cli"
    plugin.mkdir()
    (plugin / "plugin.toml").write_text(
        'name = "clashing"\ndisplay_name = "C"\nversion = "1"\ncategory = "crm"\n'
    )
    (plugin / "__init__.py").write_text(
        textwrap.dedent("""
        import click, pluggy
        hookimpl = pluggy.HookimplMarker("atom")

        @hookimpl
        def atom_register_cli_commands(cli):
            @cli.command("plugins")
            def hijack():
                click.echo("hijacked")
    """)
    )
    monkeypatch.syspath_prepend(str(cli_env))
    monkeypatch.setenv("ATOM_EXTRA_PLUGINS", "clashing_cli")
    assert main(["plugins"]) == EXIT_PROBLEMS
    out = capsys.readouterr().out
    assert "hijacked" not in out
    assert "CLI command 'plugins' of plugin 'clashing' clashes with the one of 'host'" in out


def _named_commands_plugin(root: Path, package: str, commands: dict[str, str]) -> None:
    """A plugin `package` naming `commands` (atom_cli_commands); its module `package.cmds`
    holds a click command `hello` that says so when it runs."""
    (root / package).mkdir()
    (root / package / "plugin.toml").write_text(
        f'name = "{package}"\ndisplay_name = "N"\nversion = "1"\ncategory = "crm"\n'
    )
    (root / package / "__init__.py").write_text(
        textwrap.dedent(f"""
        import pluggy
        hookimpl = pluggy.HookimplMarker("atom")

        @hookimpl
        def atom_cli_commands():
            return {commands!r}
    """)
    )
    (root / package / "cmds.py").write_text(
        textwrap.dedent("""
        import click

        @click.command()
        def hello():
            \"\"\"Say hello from a named command.\"\"\"
            click.echo("hello from a named command")
    """)
    )


def test_hook_cli_commands_run_and_load_their_module_only_then(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _named_commands_plugin(cli_env, "named_cli", {"greet": "named_cli.cmds:hello"})
    monkeypatch.syspath_prepend(str(cli_env))
    monkeypatch.setenv("ATOM_EXTRA_PLUGINS", "named_cli")
    assert main(["plugins", "--json"]) == EXIT_OK
    listed = next(i for i in json_out(capsys)["integrations"] if i["name"] == "named_cli")
    assert listed["hooks"] == ["atom_cli_commands"] and listed["status"] == "ok"
    assert "named_cli.cmds" not in sys.modules
    assert main(["--help"]) == EXIT_OK
    assert "Say hello from a named command." in capsys.readouterr().out
    assert main(["greet"]) == EXIT_OK
    assert capsys.readouterr().out == "hello from a named command\n"


@pytest.mark.parametrize("args", [["plugins", "--json"], ["plugins"]])
def test_hook_cli_commands_clashing_with_a_host_command_fail_the_plugin(
    cli_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
) -> None:
    # `plugins --json` is answered without click, `plugins` with it: the clash is the same.
    _named_commands_plugin(cli_env, "clash_cli", {"plugins": "clash_cli.cmds:hello"})
    monkeypatch.syspath_prepend(str(cli_env))
    monkeypatch.setenv("ATOM_EXTRA_PLUGINS", "clash_cli")
    assert main(args) == EXIT_PROBLEMS
    out = capsys.readouterr().out
    assert "hello from a named command" not in out
    assert "CLI command 'plugins' of plugin 'clash_cli' clashes with the one of 'host'" in out


def test_the_listing_without_click_is_the_listing_with_click(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from atom_host_stub.cli_commands import cli, run
    from atom_host_stub.cli_common import HOST_COMMANDS
    from atom_host_stub.host import Host

    assert set(HOST_COMMANDS) == set(cli.commands)
    # The installed plugins, configured: HubSpot names its commands, so no click is needed.
    monkeypatch.delenv("ATOM_DISABLE_PLUGIN_AUTOLOAD")
    monkeypatch.delenv("ATOM_EXTRA_PLUGINS")
    monkeypatch.setenv("ATOM_CRM_PROVIDER", "hubspot")
    outputs = []
    for runner in (main, lambda args: run(Host.from_env(), args)):
        assert runner(["plugins", "--json"]) == EXIT_OK
        report = json_out(capsys)
        report.pop("generated_at")
        outputs.append(report)
    assert outputs[0] == outputs[1]
    assert {i["name"] for i in outputs[0]["integrations"]} >= {"hubspot", "memory"}


def test_hook_migrate_runs_each_plugins_migrations(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == EXIT_OK
    assert capsys.readouterr().out == (
        "good: good schema at revision 7\nhost: schema migrated empty -> host_0002_mcp_oauth\n"
    )
    # Run again, the host's tables are already there.
    assert main(["migrate"]) == EXIT_OK
    assert capsys.readouterr().out.endswith("host: schema already at host_0002_mcp_oauth\n")


def test_serve_strict_refuses_a_misconfigured_plugin(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GOOD_TOKEN")
    assert main(["serve", "--strict", "--port", "1"]) == EXIT_REFUSED
    err = capsys.readouterr().err
    assert "error good: GOOD_TOKEN: GOOD_TOKEN is not set" in err
    assert "Refusing to start (--strict)." in err


def test_usage_errors_exit_2(cli_env: Path) -> None:
    assert main(["plugins", "--no-such-option"]) == EXIT_USAGE


def test_check_config_refuses_a_short_api_key_naming_the_variable(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATOM_API_KEYS", "x:t:u")
    assert main(["check-config", "--json"]) == EXIT_PROBLEMS
    issues = json_out(capsys)["issues"]
    (issue,) = [i for i in issues if i["key"] == "ATOM_API_KEYS"]
    assert issue["severity"] == "error" and "at least 16" in issue["message"]
