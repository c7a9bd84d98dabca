"""`atom-host`: the stub ATOM host's command line.

The commands are click commands (`cli_commands`), imported when a command line needs them:
`atom-host plugins --json`, which parses nothing, is answered without click (see
`cli_common.plugins_json_without_click`). Only `serve` needs the web framework (extra `api`);
`plugins`, `check-config`, `health` and `migrate` work without it, importing nothing from
FastAPI.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from atom_host_stub.cli_common import (
    EXIT_MISSING_EXTRA,
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_REFUSED,
    EXIT_USAGE,
    configure_logging,
    demo_api_key,
    plugins_json_without_click,
)
from atom_host_stub.host import Host

__all__ = [
    "EXIT_MISSING_EXTRA",
    "EXIT_OK",
    "EXIT_PROBLEMS",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "demo_api_key",
    "main",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point: build the host, add plugin commands, run; return the code."""
    args = list(sys.argv[1:] if argv is None else argv)
    host = Host.from_env()
    if args == ["plugins", "--json"]:
        code = plugins_json_without_click(host)
        if code is not None:
            return code
    configure_logging()
    from atom_host_stub.cli_commands import run

    return run(host, args)
