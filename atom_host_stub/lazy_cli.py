"""Plugin commands that import their module only when they run.

The host asks every plugin for its commands before it parses the command line, so whatever a
command's module imports (the sandbox's models, the storage layer) would otherwise be paid by
every `atom-host` command, `atom-host plugins` included. A plugin names its commands
(`atom_cli_commands`: name → "module:attribute") and the host puts a `LazyCommand` under each
name, which imports the real command on first use: when it runs, shows its help, or completes.
"""

from __future__ import annotations

import importlib
from typing import Any

import click


class LazyCommand(click.Command):
    """`module:attribute` (a click command or group) under `name`, imported on first use."""

    def __init__(self, name: str, target: str) -> None:
        super().__init__(name)
        self.target = target
        self._command: click.Command | None = None

    def resolve(self) -> click.Command:
        """The real command (imported once)."""
        if self._command is None:
            module, _, attribute = self.target.partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.target} is not a click command")
            self._command = command
        return self._command

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        # The context belongs to the real command: click then invokes, helps and completes
        # through it.
        return self.resolve().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        return self.resolve().invoke(ctx)

    def get_short_help_str(self, limit: int = 45) -> str:
        return self.resolve().get_short_help_str(limit)

    def to_info_dict(self, ctx: click.Context) -> dict[str, Any]:
        return self.resolve().to_info_dict(ctx)

    def __getattr__(self, attribute: str) -> Any:
        # What only the real command has (a group's `commands`, say).
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        return getattr(self.resolve(), attribute)
