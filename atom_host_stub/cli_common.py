"""What `atom-host` needs before, or without, its click commands (`cli_commands`): the exit
codes, the host's command names, the plugins' named commands, the demo key, and the JSON
listing of plugins, which `atom-host plugins --json` prints without importing click at all."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from atom_host_stub._records import to_jsonable
from atom_host_stub.config import HOST_NAME, ensure_private_dir
from atom_host_stub.host import Host
from atom_host_stub.manager import PluginRecord
from atom_host_stub.status import IntegrationsReport, IntegrationState

# Exit codes; kept in one place because scripts and the README rely on them.
EXIT_OK = 0
EXIT_PROBLEMS = 1  # config errors, a failed plugin, a check down, a migration that failed
EXIT_USAGE = 2  # click's own code for bad options or arguments
EXIT_REFUSED = 3  # `serve --strict` refused to start
EXIT_MISSING_EXTRA = 4  # the command needs an extra that is not installed

EXIT_CODES_HELP = """\b
Exit codes:
  0  success; nothing wrong found
  1  problems found: a config error, a failed plugin, a health check down,
     a migration that failed
  2  usage error (unknown option, bad argument)
  3  serve --strict refused to start (config errors or failed plugins)
  4  the command needs an extra that is not installed (serve: 'atom-hubspot[api]')
"""

# The host's own commands (cli_commands defines them; a test keeps the two the same).
HOST_COMMANDS = ("plugins", "check-config", "health", "migrate", "serve", "mcp")
DEMO_KEY_FILE = "demo-api-key"  # demo mode only, when ATOM_API_KEYS is unset


def configure_logging() -> None:
    """Warnings and errors to stderr as `LEVEL logger: message`."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def named_commands(host: Host, record: PluginRecord, owners: dict[str, str]) -> dict[str, str]:
    """The commands plugin `record` names (`atom_cli_commands`): {name: "module:attribute"}.
    A name another owner has (`owners`: the host's commands, earlier plugins') fails the
    plugin and stays with its first owner; every name taken is added to `owners`."""
    answers = host.plugins.call_sync("atom_cli_commands", plugins=[record])
    if record.name not in answers:
        return {}
    named: Any = answers[record.name] or {}
    if not isinstance(named, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and ":" in v for k, v in named.items()
    ):
        host.plugins.fail(record, 'atom_cli_commands must return {name: "module:attribute"}')
        return {}
    taken: dict[str, str] = {}
    for name, target in named.items():
        if name in owners:
            host.plugins.fail(
                record,
                f"CLI command {name!r} of plugin {record.name!r} clashes with the one of "
                f"{owners[name]!r}",
            )
            continue
        owners[name] = record.name
        taken[name] = target
    return taken


def plugins_report(host: Host) -> tuple[IntegrationsReport, int]:
    """`atom-host plugins`: every plugin with its configuration checked, and the exit code
    (problems when a plugin failed)."""
    host.check_config_now()
    report = host.status_report()
    failed = any(i.status == IntegrationState.FAILED for i in report.integrations)
    return report, EXIT_PROBLEMS if failed else EXIT_OK


def as_json(data: Any) -> str:
    return json.dumps(to_jsonable(data), indent=2, default=str)


def plugins_json_without_click(host: Host) -> int | None:
    """`atom-host plugins --json`, printed without click: the command parses nothing, and
    the plugins' commands are known by name (`atom_cli_commands`), so their clashes fail a
    plugin here as they would under click. None when a plugin adds commands through click
    itself (`atom_register_cli_commands`): then only click can tell their names."""
    if host.plugins.implementers("atom_register_cli_commands"):
        return None
    # Logging is configured once something imports it (a plugin that logs does at load; the
    # host only when a plugin fails): listing healthy plugins never imports it.
    if "logging" in sys.modules:
        configure_logging()
    owners = dict.fromkeys(HOST_COMMANDS, HOST_NAME)
    for record in host.plugins.active():
        named_commands(host, record, owners)
    report, code = plugins_report(host)
    try:
        sys.stdout.write(as_json(report) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly with code 1, as click does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PROBLEMS
    return code


def demo_api_key(data_dir: Path) -> tuple[str, Path]:
    """The demo API key of this data folder: generated once (random, file mode 0600), then
    reused so a restarted demo keeps working with the key it printed before."""
    import secrets

    path = data_dir / DEMO_KEY_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip(), path
    ensure_private_dir(data_dir)
    key = "demo-" + secrets.token_urlsafe(18)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    return key, path
