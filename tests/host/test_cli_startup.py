"""Start-up and configuration from a user's shell: settings read from the environment,
`check-config` reporting every problem at once, `serve --strict` on an unmigrated database,
and `sandbox` without the web framework."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from atom_host_stub.cli import EXIT_MISSING_EXTRA, EXIT_OK, EXIT_PROBLEMS, EXIT_REFUSED
from tests.host.conftest import API_KEY
from tests.host.test_cli import clean_env, run_cli

# `fastapi`, `starlette` and `uvicorn` unimportable, as without the `api` extra.
NO_WEB_CLI = textwrap.dedent("""
    import sys

    class BlockWeb:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("fastapi", "starlette", "uvicorn"):
                raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
            return None

    sys.meta_path.insert(0, BlockWeb())
    from atom_host_stub.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def test_hubspot_features_can_be_set_in_the_environment(
    tmp_path: Path, hubspot_env: dict[str, str]
) -> None:
    env = {**hubspot_env, "ATOM_PLUGINS": "hubspot", "ATOM_API_KEYS": f"{API_KEY}:t:u"}
    for value in ("crm,lists,campaigns,marketing_email", "crm", " crm , single_send "):
        done = run_cli(tmp_path, "check-config", "--json", HUBSPOT_FEATURES=value, **env)
        assert done.returncode == EXIT_OK, done.stdout + done.stderr
        out = json.loads(done.stdout)
        assert (out["ok"], out["issues"]) == (True, [])
    done = run_cli(tmp_path, "check-config", "--json", HUBSPOT_FEATURES="crm,bogus", **env)
    assert done.returncode == EXIT_PROBLEMS
    keys = [i["key"] for i in json.loads(done.stdout)["issues"]]
    assert keys == ["HUBSPOT_FEATURES"]


def test_check_config_reports_every_problem_at_once(
    tmp_path: Path, hubspot_env: dict[str, str]
) -> None:
    env = {
        **hubspot_env,
        "ATOM_PLUGINS": "hubspot",
        "ATOM_API_KEYS": f"{API_KEY}:t:u",
        "HUBSPOT_API_VERSION": "2026-13",
        "ATOM_HUBSPOT_ENCRYPTION_KEYS": "k1:not-a-key",
        "HUBSPOT_RATE_LIMIT_TIER": "gold",
        "HUBSPOT_READ_TIMEOUT": "90",
        "HUBSPOT_CLIENT_ID": "",
    }
    done = run_cli(tmp_path, "check-config", "--json", **env)
    assert done.returncode == EXIT_PROBLEMS
    keys = {i["key"] for i in json.loads(done.stdout)["issues"] if i["owner"] == "hubspot"}
    assert {
        "HUBSPOT_API_VERSION",
        "HUBSPOT_RATE_LIMIT_TIER",
        "ATOM_HUBSPOT_ENCRYPTION_KEYS",
        "HUBSPOT_READ_TIMEOUT",
        "HUBSPOT_CLIENT_ID",
    } <= keys
    assert "not-a-key" not in done.stdout


def test_serve_strict_exits_3_when_the_database_is_not_migrated(
    tmp_path: Path, hubspot_env: dict[str, str]
) -> None:
    env = {**hubspot_env, "ATOM_PLUGINS": "hubspot", "ATOM_API_KEYS": f"{API_KEY}:t:u"}
    done = run_cli(tmp_path, "serve", "--strict", "--port", "8597", **env)
    assert done.returncode == EXIT_REFUSED, done.stdout + done.stderr
    assert "atom-host migrate" in done.stderr
    assert "Traceback" not in done.stderr


def test_sandbox_without_the_api_extra_exits_4_naming_it(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", NO_WEB_CLI, "sandbox", "--port", "8598"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean_env(tmp_path),
        timeout=120,
    )
    assert done.returncode == EXIT_MISSING_EXTRA, done.stdout + done.stderr
    assert "pip install 'atom-hubspot[api]'" in done.stderr
    assert "Traceback" not in done.stderr
