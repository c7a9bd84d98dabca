"""The plugin's hooks: config checks, lifecycle, registration, and degrading without extras.

Missing optional dependencies are simulated in a subprocess with an import blocker, never by
uninstalling anything.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import click
import pytest

from atom_host_stub.contract import HealthStatus, HostContext
from atom_hubspot import health, plugin
from atom_hubspot.errors import StorageError
from atom_hubspot.settings import HubSpotSettings

ROOT = Path(__file__).resolve().parents[2]

BLOCKER = textwrap.dedent(
    """
    import sys
    BLOCKED = set(sys.argv[1].split(",")) if sys.argv[1] else set()
    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"blocked for the test: {name}")
            return None
    sys.meta_path.insert(0, Blocker())
    """
)


def _run_blocked(blocked: str, body: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    code = BLOCKER + textwrap.dedent(body)
    proc = subprocess.run(
        [sys.executable, "-c", code, blocked],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _ctx(tmp_path: Path, env: dict[str, str], url: str | None = None) -> HostContext:
    return HostContext(env=env, data_dir=tmp_path, database_url=url or f"sqlite:///{tmp_path}/a.db")


def test_validate_config_reports_every_missing_setting(tmp_path: Path) -> None:
    issues = plugin.atom_validate_config(env={}, context=_ctx(tmp_path, {}))
    keys = {i.key for i in issues}
    assert {"HUBSPOT_CLIENT_ID", "HUBSPOT_CLIENT_SECRET", "ATOM_HUBSPOT_ENCRYPTION_KEYS"} <= keys


def test_validate_config_is_clean_with_a_complete_env(tmp_path: Path, hubspot_env) -> None:
    assert plugin.atom_validate_config(env=hubspot_env, context=_ctx(tmp_path, hubspot_env)) == []


def test_postgres_url_without_driver_names_the_extra() -> None:
    out = _run_blocked(
        "psycopg",
        """
        import json
        from pathlib import Path
        from atom_host_stub.contract import HostContext
        from atom_hubspot import plugin
        url = "postgresql://u@db.example/atom"
        env = {"ATOM_DATABASE_URL": url}
        ctx = HostContext(env=env, data_dir=Path("/tmp"), database_url=url)
        issues = plugin.atom_validate_config(env=env, context=ctx)
        feats = {f.name: f.enabled for f in plugin.atom_features()}
        print(json.dumps({"issues": [i.model_dump(mode="json") for i in issues], "feats": feats}))
    """,
    )
    db = [i for i in out["issues"] if i["key"] == "ATOM_DATABASE_URL"]
    assert len(db) == 1 and db[0]["severity"] == "error"
    assert "postgres" in db[0]["hint"] and "psycopg" in db[0]["message"]
    assert out["feats"]["postgres_storage"] is False


def test_postgres_url_with_driver_is_fine(tmp_path: Path, hubspot_env) -> None:
    env = {**hubspot_env, "ATOM_DATABASE_URL": "postgresql://u@db.example/atom"}
    assert [
        i
        for i in plugin.atom_validate_config(env=env, context=_ctx(tmp_path, env))
        if i.key == "ATOM_DATABASE_URL"
    ] == []


def test_plugin_works_without_the_web_framework(tmp_path: Path, hubspot_env) -> None:
    out = _run_blocked(
        "fastapi,starlette",
        """
        import asyncio, json, sys
        from pathlib import Path
        from atom_host_stub.contract import HostContext, Principal
        from atom_hubspot import plugin
        env = json.loads(sys.argv[2])
        ctx = HostContext(env=env, data_dir=Path(env["ATOM_DATA_DIR"]), database_url="sqlite://")
        routes, checks, services = [], [], []
        plugin.atom_register_routes(register=lambda r, **k: routes.append(k), context=ctx)
        plugin.atom_register_health_checks(register=lambda n, c, **k: checks.append((n, c)),
                                           context=ctx)
        plugin.atom_register_services(register=lambda cap, f: services.append(cap), context=ctx)
        health = asyncio.run(checks[0][1]())
        print(json.dumps({
            "issues": [i.key for i in plugin.atom_validate_config(env=env, context=ctx)],
            "features": {f.name: [f.enabled, f.extra] for f in plugin.atom_features()},
            "routes": routes, "checks": [n for n, _ in checks], "services": services,
            "health": health.status,
            "host_machinery": sorted(m for m in sys.modules if m.startswith("atom_host_stub.")
                                     and m not in ("atom_host_stub.contract",
                                                   "atom_host_stub._contract_types",
                                                   "atom_host_stub._records")),
            "web": [m for m in ("fastapi", "starlette") if m in sys.modules],
        }))
    """.replace(
            "json.loads(sys.argv[2])", repr(json.dumps(hubspot_env)).join(("json.loads(", ")"))
        ),
    )
    assert out["issues"] == []
    assert out["features"]["http_routes"] == [False, "api"]
    assert out["routes"] == []
    assert out["checks"] == ["hubspot", "hubspot.mirror", "hubspot.feed"]
    assert out["services"] == ["crm", "marketing"]
    assert out["health"] == "down"  # not started: reported, not raised
    assert out["host_machinery"] == [] and out["web"] == []


def test_cli_commands_are_named_and_resolve_to_the_real_ones() -> None:
    from atom_host_stub.lazy_cli import LazyCommand

    named = plugin.atom_cli_commands()
    assert {"hubspot", "sandbox", "sandbox-edit"} <= set(named)
    group = LazyCommand("hubspot", named["hubspot"]).resolve()
    assert isinstance(group, click.Group) and "rotate-keys" in group.commands


async def test_migrate_then_startup_and_shutdown(tmp_path: Path, hubspot_env) -> None:
    url = f"sqlite:///{tmp_path}/plugin.sqlite3"
    ctx = _ctx(tmp_path, hubspot_env, url)
    # An unmigrated database is refused with what to run.
    with pytest.raises(StorageError, match="atom-host migrate"):
        await plugin.atom_startup(context=ctx)
    assert "hubspot" not in ctx.state
    summary = await plugin.atom_migrate(context=ctx)
    assert isinstance(summary, str) and summary
    await plugin.atom_startup(context=ctx)
    runtime = ctx.state["hubspot"]
    try:
        assert runtime.scheduler is not None
        result = await health.plugin_health(ctx)
        assert result.status == HealthStatus.OK
        assert result.tenant_details == {}
    finally:
        await plugin.atom_shutdown(context=ctx)
    assert "hubspot" not in ctx.state
    assert runtime.scheduler is None  # stopped first
    # Shutdown twice (host calls it even after a failed startup) is harmless.
    await plugin.atom_shutdown(context=ctx)


async def test_health_check_is_bounded_and_never_raises(tmp_path: Path) -> None:
    class SlowDB:
        def session(self, *a: Any, **k: Any) -> Any:
            raise ValueError("database exploded")

    class Runtime:
        db = SlowDB()
        settings = HubSpotSettings.model_construct()  # the defaults: production

    ctx = _ctx(tmp_path, {})
    ctx.state["hubspot"] = Runtime()
    r = await health.plugin_health(ctx)
    assert r.status == HealthStatus.DOWN and "ValueError" in r.message

    class Hanging:
        def session(self, *a: Any, **k: Any) -> Any:
            class CM:
                async def __aenter__(self) -> None:
                    await asyncio.sleep(3600)

                async def __aexit__(self, *exc: Any) -> None: ...

            return CM()

    Runtime.db = Hanging()  # type: ignore[assignment]
    r = await health.plugin_health(ctx, timeout_s=0.05)
    assert r.status == HealthStatus.DEGRADED and "did not finish" in r.message
