"""The host's click commands (`atom-host plugins`, `check-config`, `health`, `migrate`,
`serve`, `mcp`) and the plugins' own; `cli.main` runs them.

Only `serve` needs the web framework (extra `api`); `plugins`, `check-config`, `health` and
`migrate` work without it, importing nothing from FastAPI.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from atom_host_stub.cli_common import (
    EXIT_CODES_HELP,
    EXIT_MISSING_EXTRA,
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_REFUSED,
    EXIT_USAGE,
    as_json,
    demo_api_key,
    named_commands,
    plugins_report,
)
from atom_host_stub.config import HOST_NAME, STRICT_VARIABLE, WORKERS_VARIABLE, ensure_private_dir
from atom_host_stub.contract import FeatureState, HealthStatus, Principal, Severity
from atom_host_stub.host import ConfigReport, Host, StartupRefused, web_available
from atom_host_stub.lazy_cli import LazyCommand
from atom_host_stub.status import IntegrationsReport, IntegrationState, IntegrationStatus


def _run(coro: Any) -> Any:
    import asyncio  # commands that list or check (plugins, check-config) never need it

    return asyncio.run(coro)


def _echo_json(data: Any) -> None:
    click.echo(as_json(data))


def _issue_rows(report: ConfigReport, host: Host) -> list[dict[str, str]]:
    rows = [
        {"owner": owner, **issue.model_dump(mode="json")}
        for owner, issues in report.issues.items()
        for issue in issues
    ]
    for record in host.plugins.records.values():
        if record.failure:
            rows.append(
                {
                    "owner": record.name,
                    "key": "(plugin)",
                    "severity": "error",
                    "message": f"plugin failed: {record.failure}",
                    "hint": "",
                }
            )
    return rows


@click.group(epilog=EXIT_CODES_HELP)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """The stub ATOM host: runs integration plugins, checks their configuration, shows their
    status.

    Plugins come from the `atom.plugins` entry points (ATOM_PLUGINS limits them,
    ATOM_DISABLE_PLUGIN_AUTOLOAD=1 turns autoload off; ATOM_EXTRA_PLUGINS=module,... adds
    plugins by module name). Configuration is read from the environment and ./.env.
    """
    ctx.ensure_object(dict)


def _host(ctx: click.Context) -> Host:
    host: Host = ctx.find_root().obj["host"]
    return host


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def plugins_command(ctx: click.Context, as_json: bool) -> None:
    """List plugins: version, status, hooks, features off and the extra that brings each back."""
    report, code = plugins_report(_host(ctx))
    if as_json:
        _echo_json(report)
    else:
        _print_plugins(report)
    ctx.exit(code)


def _print_plugins(report: IntegrationsReport) -> None:
    if not report.integrations:
        click.echo("No plugins found (entry-point group atom.plugins).")
    for item in report.integrations:
        click.echo(f"{item.name} {item.version or '?'}  [{item.status}]  {item.display_name}")
        if item.reason:
            click.echo(f"    reason: {item.reason}")
        if item.hooks:
            click.echo(f"    hooks: {', '.join(item.hooks)}")
        for feature in item.features:
            click.echo(f"    feature {feature.name}: {_feature_state(item, feature)}")
    if not report.host.web:
        click.echo(
            "host: web framework not importable — `serve` and routes need "
            "pip install 'atom-hubspot[api]'"
        )


def _feature_state(item: IntegrationStatus, feature: FeatureState) -> str:
    if feature.enabled:
        return "on"
    if feature.extra and item.distribution:
        return f"off — pip install '{item.distribution}[{feature.extra}]'"
    if feature.extra:
        return f"off — needs the extra {feature.extra!r}"
    return f"off — {feature.reason}" if feature.reason else "off"


@cli.command("check-config")
@click.option("--json", "as_json", is_flag=True, help="Print the issues as JSON.")
@click.pass_context
def check_config_command(ctx: click.Context, as_json: bool) -> None:
    """Check the host's and every plugin's configuration; exit 1 on any error."""
    host = _host(ctx)
    report = host.check_config_now()
    rows = _issue_rows(report, host)
    has_errors = any(row["severity"] == Severity.ERROR for row in rows)
    in_effect = {
        record.name: record.config_summary
        for record in host.plugins.records.values()
        if record.config_summary
    }
    if as_json:
        _echo_json(
            {
                "ok": not has_errors,
                "issues": rows,
                "in_effect": {
                    name: [v.model_dump(mode="json") for v in values]
                    for name, values in in_effect.items()
                },
            }
        )
        ctx.exit(EXIT_PROBLEMS if has_errors else EXIT_OK)
    for name, values in in_effect.items():
        click.echo(f"{name}, in effect:")
        width = max(len(v.name) for v in values)
        for v in values:
            click.echo(f"    {v.name.ljust(width)}  {v.value}  ({v.key})")
    if not rows:
        click.echo("Configuration OK.")
    else:
        for row in rows:
            mark = "error  " if row["severity"] == Severity.ERROR else "warning"
            click.echo(f"{mark} {row['owner']}: {row['key']}: {row['message']}")
            if row["hint"]:
                click.echo(f"        → {row['hint']}")
        click.echo("Configuration has errors." if has_errors else "Configuration OK (warnings).")
    ctx.exit(EXIT_PROBLEMS if has_errors else EXIT_OK)


@cli.command("health")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.pass_context
def health_command(ctx: click.Context, as_json: bool) -> None:
    """Start the plugins, run every health check once, shut down; exit 1 when a check is
    down or a plugin failed or is misconfigured."""
    host = _host(ctx)

    async def check() -> IntegrationsReport:
        try:
            await host.start()
            await host.health.results(fresh=True)
            return await host.report()
        finally:
            await host.stop()

    report = _run(check())
    if as_json:
        _echo_json(report.model_dump(mode="json"))
    else:
        for item in report.integrations:
            click.echo(f"{item.name}: {item.status}" + (f" — {item.reason}" if item.reason else ""))
            for result in item.health:
                click.echo(
                    f"    {result.name}: {result.status} ({result.duration_ms:.0f} ms) "
                    f"{result.message}"
                )
    bad_states = {IntegrationState.FAILED, IntegrationState.MISCONFIGURED}
    down = any(
        item.status in bad_states or any(h.status == HealthStatus.DOWN for h in item.health)
        for item in report.integrations
    )
    ctx.exit(EXIT_PROBLEMS if down else EXIT_OK)


@cli.command("migrate")
@click.pass_context
def migrate_command(ctx: click.Context) -> None:
    """Bring every plugin's database schema, and the host's own tables, up to date
    (ATOM_DATABASE_URL)."""
    from atom_host_stub.host_db import HostDatabaseError
    from atom_host_stub.host_db import migrate as migrate_host_tables

    host = _host(ctx)
    ensure_private_dir(host.settings.data_dir)
    summaries = _run(host.migrate())
    for name, summary in summaries.items():
        click.echo(f"{name}: {summary}")
    failed = [r for r in host.plugins.records.values() if r.failure and r.loaded]
    for record in failed:
        click.echo(f"{record.name}: failed: {record.failure}", err=True)
    if not summaries and not failed:
        click.echo("No plugin has migrations.")
    # The MCP server's tables (confirmations, OAuth). It would create them on first use, but a
    # deployment whose serving role may not create tables needs them made here.
    try:
        click.echo(f"{HOST_NAME}: {migrate_host_tables(host.settings.database_url)}")
    except HostDatabaseError as exc:
        click.echo(f"{HOST_NAME}: failed: {exc}", err=True)
        ctx.exit(EXIT_PROBLEMS)
    ctx.exit(EXIT_PROBLEMS if failed else EXIT_OK)


@cli.command("serve")
@click.option("--demo", is_flag=True, help="Offline demo: plugins bring up their sandboxes.")
@click.option("--host", "bind_host", default="127.0.0.1", show_default=True, help="Bind address.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port.")
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse to start (exit 3) on any config error "
    "or failed plugin, instead of disabling the plugin at fault.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes sharing the port (needs PostgreSQL; see the README's production "
    "section).",
)
@click.option(
    "--forwarded-allow-ips",
    default=None,
    help="Proxies whose X-Forwarded-For/-Proto are trusted (comma-separated IPs or *); "
    "default $FORWARDED_ALLOW_IPS or 127.0.0.1.",
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="Log one line per request (method, path without query string, status).",
)
@click.pass_context
def serve_command(
    ctx: click.Context,
    demo: bool,
    bind_host: str,
    port: int,
    strict: bool,
    workers: int,
    forwarded_allow_ips: str | None,
    access_log: bool,
) -> None:
    """Serve plugin routes, GET /api/integrations and the status dashboard at GET /."""
    if not web_available():
        click.echo("serve needs the web framework: pip install 'atom-hubspot[api]'", err=True)
        ctx.exit(EXIT_MISSING_EXTRA)
    import uvicorn

    host = _host(ctx)
    if workers > 1:
        refusal = _several_workers_refusal(host, demo, workers)
        if refusal:
            click.echo(refusal, err=True)
            ctx.exit(EXIT_USAGE)
        host.settings = dataclasses.replace(host.settings, workers=workers)
        host.context.workers = workers
    host.context.demo = demo
    if "ATOM_PUBLIC_URL" not in host.settings.env:
        shown = "127.0.0.1" if bind_host in ("0.0.0.0", "::") else bind_host  # noqa: S104
        host.context.public_url = f"http://{shown}:{port}"
    if demo and not host.settings.api_keys:
        key, path = _use_demo_key(host)
        click.echo(
            f"Demo mode: use `Authorization: Bearer {key}` (tenant demo; kept in {path}; "
            "set ATOM_API_KEYS to choose your own)."
        )
    if strict or workers > 1:
        # Several workers: report problems once here, not once per worker.
        report = _run(host.check_config())
        rows = [r for r in _issue_rows(report, host) if r["severity"] == Severity.ERROR]
        for row in rows:
            click.echo(f"error {row['owner']}: {row['key']}: {row['message']}", err=True)
        if rows and strict:
            click.echo("Refusing to start (--strict).", err=True)
            ctx.exit(EXIT_REFUSED)
    if strict:
        refused = _run(_strict_preflight(host))
        if refused is not None:
            for name in refused.failed:
                reason = host.plugins.records[name].failure or "startup failed"
                click.echo(f"error {name}: {reason}", err=True)
            click.echo("Refusing to start (--strict).", err=True)
            ctx.exit(EXIT_REFUSED)
    click.echo(f"Dashboard: {host.context.public_url}/")
    options: dict[str, Any] = {
        "host": bind_host,
        "port": port,
        "log_level": "info",
        "log_config": access_log_config(),
        "access_log": access_log,
        "forwarded_allow_ips": forwarded_allow_ips,
    }
    if workers > 1:
        # Each worker builds its own host from the environment (uvicorn spawns them).
        os.environ.update(
            {
                WORKERS_VARIABLE: str(workers),
                "ATOM_PUBLIC_URL": host.context.public_url,
                STRICT_VARIABLE: "1" if strict else "",
            }
        )
        from atom_host_stub import reuseport

        if not reuseport.available():
            uvicorn.run(
                "atom_host_stub.app:app_from_environment", factory=True, workers=workers, **options
            )
            ctx.exit(EXIT_OK)
        # Linux: a socket per worker, so the kernel spreads connections over the workers.
        config = uvicorn.Config(
            "atom_host_stub.app:app_from_environment", factory=True, workers=workers, **options
        )
        code = reuseport.ReusePortSupervisor(config, workers).run()
        ctx.exit(EXIT_OK if code == 0 else EXIT_REFUSED)
    from atom_host_stub.app import create_app

    server = uvicorn.Server(
        uvicorn.Config(create_app(host, strict=strict, serving_process=True), **options)
    )
    server.run()
    ctx.exit(EXIT_OK if server.started else EXIT_REFUSED)


async def _strict_preflight(host: Host) -> StartupRefused | None:
    """Start and stop every plugin once, so a plugin that cannot start (an unmigrated
    database, say) refuses `serve --strict` with its reason instead of a server traceback."""
    try:
        await host.start(strict=True)
    except StartupRefused as refused:
        return refused
    await host.stop()
    return None


def _several_workers_refusal(host: Host, demo: bool, workers: int) -> str | None:
    """Why `serve --workers N` cannot run with this configuration, or None."""
    if demo:
        return (
            f"--workers {workers} with --demo: demo mode runs each plugin's sandbox inside the "
            "process, so every worker would show different data. Run the demo with one worker."
        )
    if host.settings.database_url.split(":", 1)[0].lower().startswith("sqlite"):
        return (
            f"--workers {workers} needs PostgreSQL (ATOM_DATABASE_URL=postgresql://...): on "
            "SQLite one process writes at a time, so several workers would wait on each other's "
            "writes (token refreshes, OAuth, scheduled sends) instead of serving in parallel. "
            "Serve SQLite with one worker."
        )
    return None


def access_log_config() -> dict[str, Any]:
    """uvicorn's logging config with the access log's query strings dropped (access_log.py),
    applied in every worker process."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["drop_query_strings"] = {
        "()": "atom_host_stub.access_log.DropQueryStrings"
    }
    config["handlers"]["access"]["filters"] = ["drop_query_strings"]
    return config


def _use_demo_key(host: Host) -> tuple[str, Path]:
    """Demo mode without ATOM_API_KEYS: the data folder's demo key, for tenant demo."""
    key, path = demo_api_key(host.settings.data_dir)
    host.settings = dataclasses.replace(
        host.settings, api_keys={key: Principal(tenant_id="demo", user_id="demo")}
    )
    host.redact.add([key])
    host.context.env = {**host.context.env, "ATOM_API_KEYS": f"{key}:demo:demo"}
    return key, path


@cli.command("mcp")
@click.option(
    "--key-env",
    default="ATOM_MCP_API_KEY",
    show_default=True,
    help="The environment variable holding the API key every tool call acts as.",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Offline demo: plugins bring up their sandboxes (without a key: the demo key).",
)
@click.pass_context
def mcp_command(ctx: click.Context, key_env: str, demo: bool) -> None:
    """Serve the agent tools over MCP on stdin/stdout (for a desktop assistant)."""
    from atom_host_stub.auth import Unauthorized
    from atom_host_stub.mcp_server import EXTRA, available, serve_stdio

    if not available():
        click.echo(f"mcp needs the MCP SDK: pip install 'atom-hubspot[{EXTRA}]'", err=True)
        ctx.exit(EXIT_MISSING_EXTRA)
    host = _host(ctx)
    host.context.demo = demo
    key = os.environ.get(key_env, "")
    if demo and not host.settings.api_keys:
        key = key or _use_demo_key(host)[0]
    if not key:
        click.echo(f"Set {key_env} to an ATOM API key: the tools act as its principal.", err=True)
        ctx.exit(EXIT_USAGE)
    try:
        _run(serve_stdio(host, key))
    except Unauthorized as exc:
        click.echo(exc.message, err=True)
        ctx.exit(EXIT_USAGE)


def _add_plugin_commands(group: click.Group, host: Host) -> None:
    """Let each plugin add its own commands, named (`atom_cli_commands`, imported when they
    run) or added through click (`atom_register_cli_commands`); a clash with a host or other
    plugin command fails that plugin and keeps the first owner."""
    owners = {name: HOST_NAME for name in group.commands}
    for record in host.plugins.active():
        for name, target in named_commands(host, record, owners).items():
            group.add_command(LazyCommand(name, target))
        before = dict(group.commands)
        host.plugins.call_sync("atom_register_cli_commands", plugins=[record], cli=group)
        for name, command in list(group.commands.items()):
            if before.get(name) is command:
                continue
            if name in before:
                group.commands[name] = before[name]
                host.plugins.fail(
                    record,
                    f"CLI command {name!r} of plugin {record.name!r} clashes with the "
                    f"one of {owners[name]!r}",
                )
            else:
                owners[name] = record.name


def run(host: Host, args: Sequence[str]) -> int:
    """Run the command line `args` on `host`, the plugins' commands added; return the code."""
    # Plugins load before parsing: their command groups must exist for click to dispatch.
    # A copy of the group keeps one run's plugin commands out of the next (tests call main).
    group = copy.copy(cli)
    group.commands = dict(cli.commands)
    _add_plugin_commands(group, host)
    try:
        group.main(args=list(args), prog_name="atom-host", obj={"host": host}, standalone_mode=True)
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return EXIT_OK
