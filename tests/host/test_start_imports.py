"""What `atom-host plugins --json` imports: only what it uses.

The command discovers the installed plugins, checks their configuration and prints the report;
it serves nothing and handles no record. So neither the web framework, the HTTP client, the
database layer, the MCP server nor the CRM models may be imported on the way — whatever a
module a plugin or the host imports at start-up costs every `atom-host` command. This checks
the property itself (the modules loaded when the real console script exits), not a time;
`python -m bench.serving` measures the time beside the HubSpot SDK's import.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.host.test_cli import clean_env

ATOM_HOST = Path(sys.executable).parent / "atom-host"

# Runs the installed `atom-host` console script as the shell would, then prints (to stderr,
# after the command's own output) every module the process had loaded.
RUN_AND_LIST_MODULES = """
import json, runpy, sys
sys.argv = [sys.argv[1], *sys.argv[2:]]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as exit_:
    code = exit_.code
else:
    code = 0
print("\\nMODULES " + json.dumps(sorted(sys.modules)), file=sys.stderr)
sys.exit(code)
"""

# Packages the command must not import (top-level names), and this project's modules that
# only serving, storage or record handling need. pydantic (and pydantic-settings, which
# brings it) alone takes longer to import than the whole command may: the contract's records,
# the status report, manifests and the HubSpot settings are read without it. Nor does listing
# need an event loop, email parsing or importlib.metadata (entry points are read from the
# dist-info folders directly; see distributions.py), nor click: the command parses nothing,
# and plugins name their commands (cli_common.plugins_json_without_click). Logging is
# imported only once something logs (a plugin failing).
NOT_IMPORTED_PACKAGES = {
    "alembic",
    "anyio",
    "asyncio",
    "click",
    "cryptography",
    "dotenv",
    "email",
    "fastapi",
    "httpcore",
    "httpx",
    "jinja2",
    "logging",
    "mcp",
    "pydantic",
    "pydantic_core",
    "pydantic_settings",
    "sqlalchemy",
    "starlette",
    "typing_extensions",
    "uvicorn",
    "zipfile",
}
NOT_IMPORTED_MODULES = {
    "importlib.metadata",
    "importlib.resources",
    "atom_host_stub._contract_models",  # the CRM models, built on first use
    "atom_host_stub.agent_tools",
    "atom_host_stub.app",
    "atom_host_stub.auth",
    "atom_host_stub.crm_routes",
    "atom_host_stub.mcp_server",
    "atom_host_stub.sessions",
    "atom_hubspot.api",
    "atom_hubspot.cli",
    "atom_hubspot.client",
    "atom_hubspot.feed",
    "atom_hubspot.oauth",
    "atom_hubspot.runtime",
    "atom_hubspot.sandbox",
    "atom_hubspot.service",
    "atom_hubspot.settings",  # the settings model (pydantic); settings_table checks without it
    "atom_hubspot.storage",
    "atom_hubspot.sync",
    "atom_memory_crm.service",
}


def loaded_modules(tmp_path: Path, *args: str, **env: str) -> tuple[str, set[str]]:
    """The command's stdout and every module loaded when it exited."""
    done = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST_MODULES, str(ATOM_HOST), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean_env(tmp_path, **env),
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    listed = done.stderr.rsplit("\nMODULES ", 1)[1]
    return done.stdout, set(json.loads(listed))


def unwanted(modules: set[str]) -> list[str]:
    return sorted(
        name
        for name in modules
        if name.split(".")[0] in NOT_IMPORTED_PACKAGES
        or any(name == m or name.startswith(m + ".") for m in NOT_IMPORTED_MODULES)
    )


@pytest.mark.parametrize("configured", [True, False], ids=["configured", "unconfigured"])
def test_plugins_json_imports_nothing_it_does_not_use(
    tmp_path: Path, hubspot_env: dict[str, str], configured: bool
) -> None:
    env = hubspot_env if configured else {"ATOM_DATA_DIR": hubspot_env["ATOM_DATA_DIR"]}
    out, modules = loaded_modules(tmp_path, "plugins", "--json", **env)
    report = json.loads(out)
    by_name = {i["name"]: i for i in report["integrations"]}
    # The work was done: both installed plugins loaded, configuration checked through their
    # hooks (a configured HubSpot reports the API version of each family), features asked.
    assert {"hubspot", "memory"} <= set(by_name)
    hubspot = by_name["hubspot"]
    assert "atom_cli_commands" in hubspot["hooks"]
    assert {f["name"] for f in hubspot["features"]} >= {"http_routes", "postgres_storage"}
    if configured:
        assert hubspot["status"] == "ok" and hubspot["config_summary"]
    else:
        assert hubspot["status"] == "misconfigured"
    assert report["host"]["mcp"]["name"] == "mcp"
    # The plugins' modules were imported (hooks are registered), the rest was not.
    assert {"atom_hubspot.plugin", "atom_memory_crm.plugin"} <= modules
    assert unwanted(modules) == []


def test_plugin_commands_load_their_module_when_they_run(tmp_path: Path) -> None:
    out, modules = loaded_modules(tmp_path, "--help")
    # Listed with their own help text, which is read from the real command.
    assert "hubspot" in out and "encryption keys" in out
    assert "sandbox-edit" in out
    out, modules = loaded_modules(tmp_path, "hubspot", "--help")
    assert "rotate-keys" in out
    assert "atom_hubspot.cli" in modules
    assert "atom_hubspot.sandbox" not in modules
    out, modules = loaded_modules(tmp_path, "hubspot", "generate-key", "--key-id", "k9")
    assert out.startswith("k9:")
