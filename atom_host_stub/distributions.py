"""Installed distributions and their entry points, read from the `*.dist-info` and `*.egg-info`
folders on sys.path.

This is how plugins are found (the `atom.plugins` entry points) and how the host learns its own
version. `importlib.metadata` gives the same answers, but importing it and asking it cost more
than the rest of `atom-host plugins` together, so the host reads the folders itself, the way
importlib.metadata does: every sys.path entry in order, a distribution's first folder on the
path wins (names compared normalised, `Foo.Bar` as `foo_bar`), `entry_points.txt` read as
importlib reads it. Where the path holds what only importlib.metadata reads (a zip file or an
egg on sys.path, or an import hook that finds distributions of its own) the host asks it
instead, so the answer is always importlib's.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Iterator
from functools import reduce
from importlib import import_module
from importlib.machinery import PathFinder
from pathlib import Path
from typing import Any, Protocol

_SUFFIXES = (".dist-info", ".egg-info")
# An entry point's value: `module[:attr]` with optional `[extras]` (importlib.metadata's).
_VALUE = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")


class Distribution(Protocol):
    """An installed distribution, as far as the host reads one: importlib.metadata's
    `Distribution` is one, and so is `InstalledDistribution`."""

    def read_text(self, filename: str) -> str | None: ...


class EntryPoint(Protocol):
    """An entry point, as far as the host uses one (importlib.metadata's `EntryPoint` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def module(self) -> str: ...

    @property
    def dist(self) -> Distribution | None: ...

    def load(self) -> Any: ...


class InstalledDistribution:
    """One `*.dist-info` (or `*.egg-info`) folder; `key` is its distribution's normalised
    name."""

    __slots__ = ("folder", "key")

    def __init__(self, folder: str, key: str) -> None:
        self.folder = folder
        self.key = key

    @property
    def path(self) -> Path:
        return Path(self.folder)

    def read_text(self, filename: str) -> str | None:
        try:
            with open(os.path.join(self.folder, filename), encoding="utf-8") as f:
                return f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
            return None

    def __repr__(self) -> str:
        return f"InstalledDistribution({self.folder!r})"


class PluginEntryPoint:
    """One line of an `entry_points.txt`: `name = module[:attr]` in section `group`."""

    __slots__ = ("dist", "group", "name", "value")

    def __init__(
        self, name: str, value: str, group: str, dist: InstalledDistribution | None = None
    ) -> None:
        self.name = name
        self.value = value
        self.group = group
        self.dist = dist

    def __repr__(self) -> str:
        return f"PluginEntryPoint(name={self.name!r}, value={self.value!r}, group={self.group!r})"

    @property
    def module(self) -> str:
        return self._parts()["module"]

    def load(self) -> Any:
        """Import the module and return the object the entry point names."""
        parts = self._parts()
        attributes = filter(None, (parts["attr"] or "").split("."))
        return reduce(getattr, attributes, import_module(parts["module"]))

    def _parts(self) -> dict[str, str]:
        match = _VALUE.match(self.value)
        if match is None:
            raise ValueError(f"entry point {self.name!r} has an invalid value {self.value!r}")
        return match.groupdict()


def normalized(name: str) -> str:
    """A distribution name as importlib.metadata compares them: `Foo.Bar-baz` → `foo_bar_baz`."""
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _only_path_finder() -> bool:
    """Whether distributions are found by sys.path alone (no import hook adds its own)."""
    return not any(
        finder is not PathFinder and hasattr(finder, "find_distributions")
        for finder in sys.meta_path
    )


# Each path entry's distribution folders by normalised name, kept while the entry's
# modification time (which any folder added or removed changes) stays the same, as
# importlib.metadata keeps them.
_listings: dict[str, tuple[int, dict[str, list[str]] | None]] = {}


def _listing(root: str) -> dict[str, list[str]] | None:
    """The distribution folders in `root` by normalised name, in the order importlib.metadata
    takes them; None when `root` is what only importlib.metadata reads (a zip file, an egg)."""
    try:
        status = os.stat(root)
    except OSError:
        return {}
    modified = status.st_mtime_ns
    known = _listings.get(root)
    if known is not None and known[0] == modified:
        return known[1]
    by_name: dict[str, list[str]] | None = None
    if not root.lower().endswith(".egg") and stat.S_ISDIR(status.st_mode):
        by_name = {}
        try:
            children = os.listdir(root)
        except OSError:
            children = []
        for child in children:
            low = child.lower()
            if low.endswith(_SUFFIXES):
                key = normalized(low.rpartition(".")[0].partition("-")[0])
                by_name.setdefault(key, []).append(child)
    _listings[root] = (modified, by_name)
    return by_name


def installed_distributions() -> list[InstalledDistribution] | None:
    """Every distribution on sys.path, each once (its first folder on the path), in the order
    importlib.metadata finds them; None when the path holds what only importlib.metadata
    reads (a zip file or an egg, or an import hook that finds distributions)."""
    if not _only_path_finder():
        return None
    seen: set[str] = set()
    found: list[InstalledDistribution] = []
    for entry in sys.path:
        root = os.fspath(entry) or "."
        by_name = _listing(root)
        if by_name is None:
            return None
        for folders in by_name.values():
            for folder in folders:
                stem, suffix = os.path.splitext(folder)
                if suffix not in _SUFFIXES:
                    return None  # named by its metadata alone: importlib reads that
                key = normalized(stem.partition("-")[0])
                if key not in seen:
                    seen.add(key)
                    found.append(InstalledDistribution(os.path.join(root, folder), key))
    return found


def parse_entry_points(
    text: str, group: str, dist: InstalledDistribution | None = None
) -> Iterator[PluginEntryPoint]:
    """The entry points of `group` in an `entry_points.txt`, read as importlib.metadata reads
    it: `[section]` lines, `name = value` lines, blank lines and `#` comments skipped."""
    section: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
            continue
        if section != group:
            continue
        name, _, value = line.partition("=")
        yield PluginEntryPoint(name.strip(), value.strip(), section, dist)


def entry_points(group: str) -> list[EntryPoint]:
    """Every installed entry point of `group`, as `importlib.metadata.entry_points(group=...)`
    lists them."""
    distributions = installed_distributions()
    if distributions is None:
        from importlib.metadata import entry_points as importlib_entry_points

        return list(importlib_entry_points(group=group))
    found: list[EntryPoint] = []
    for dist in distributions:
        text = dist.read_text("entry_points.txt")
        if text:
            found.extend(parse_entry_points(text, group, dist))
    return found


def find_distribution(name: str) -> Distribution | None:
    """The installed distribution `name` (compared normalised), or None when there is none."""
    distributions = installed_distributions()
    if distributions is None:
        from importlib.metadata import PackageNotFoundError, distribution

        try:
            return distribution(name)
        except PackageNotFoundError:
            return None
    wanted = normalized(name)
    return next((d for d in distributions if d.key == wanted), None)
