"""Plugin manifests: the schema, and reading one without importing the plugin.

A plugin needs no manifest file to load. Its defaults come from what the host already knows:
the entry point's name and the installed distribution's metadata (version, summary, homepage).
A `plugin.toml` beside the plugin's module adds to them (capabilities, route prefixes, config
keys, features) and overrides what it sets.

The host reads a plugin's manifest before it imports any of the plugin's code, so a plugin that
is broken, heavy or misconfigured can still be listed by name, version and config keys. The
file is located on disk from the module path alone: `importlib.util.find_spec` of the
*top-level* package only (that never imports anything), then the remaining dotted parts are
walked as directories. A submodule's find_spec would import its parent packages.
"""

from __future__ import annotations

import importlib.util
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from atom_host_stub._records import Record

if TYPE_CHECKING:
    from collections.abc import Mapping

MANIFEST_FILE = "plugin.toml"


class ManifestError(Exception):
    """A manifest is missing or invalid; the message says which file and what is wrong."""


@dataclass(kw_only=True)
class ConfigKey(Record):
    """One environment variable a plugin reads."""

    name: str
    required: bool = False
    secret: bool = False
    default: str | None = None
    description: str


@dataclass(kw_only=True)
class FeatureSpec(Record):
    """An optional part of a plugin and the pip extra that enables it."""

    name: str
    extra: str | None = None
    description: str = ""


@dataclass(kw_only=True)
class PluginManifest(Record):
    """The schema of `plugin.toml`. Unknown top-level keys are kept in `extra`, so a newer
    manifest field does not fail an older host. Build one with `parse_manifest` or
    `load_manifest`, which check every field (see `_check_manifest`)."""

    name: str
    display_name: str = ""  # defaults to the distribution's name, else to `name`
    version: str | None = None  # defaults to the distribution's version; None when unknown
    description: str = ""
    category: str = "integration"
    module: str | None = None
    capabilities: list[str] = field(default_factory=list)
    route_prefixes: list[str] = field(default_factory=list)
    homepage: str | None = None
    config: list[ConfigKey] = field(default_factory=list)
    features: list[FeatureSpec] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def secret_keys(self) -> set[str]:
        return {key.name for key in self.config if key.secret}


# --------------------------------------------------------------------------- checking
#
# The checks below say what pydantic's validation says for the same schema, word for word
# (`<field path>: <problem>`), so a plugin author reads the familiar messages; the host reads
# manifests before importing anything heavy, which is why it does not use pydantic itself.

PLUGIN_NAME = r"^[a-z][a-z0-9_-]*$"
CONFIG_KEY_NAME = r"^[A-Z][A-Z0-9_]*$"
FEATURE_NAME = r"^[a-z][a-z0-9_]*$"
VERSION = r"^\d+(\.\d+)*([.+-]?[A-Za-z0-9.]+)?$"
# The strings a boolean field takes (any case), as pydantic reads them.
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
_MISSING: Any = object()
Loc = tuple[str | int, ...]


class _Problems:
    def __init__(self) -> None:
        self.found: list[tuple[Loc, str]] = []

    def add(self, loc: Loc, message: str) -> None:
        self.found.append((loc, message))

    def __len__(self) -> int:
        return len(self.found)


def _matches(pattern: str, text: str) -> bool:
    # The whole text, as the anchors mean it: `$` before a final newline does not count.
    return re.fullmatch(pattern.removeprefix("^").removesuffix("$"), text) is not None


def _text(
    value: Any,
    loc: Loc,
    problems: _Problems,
    *,
    optional: bool = False,
    pattern: str | None = None,
    min_length: int = 0,
) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        problems.add(loc, "Input should be a valid string")
    elif len(value) < min_length:
        plural = "" if min_length == 1 else "s"
        problems.add(loc, f"String should have at least {min_length} character{plural}")
    elif pattern is not None and not _matches(pattern, value):
        problems.add(loc, f"String should match pattern '{pattern}'")
    return value


def _flag(value: Any, loc: Loc, problems: _Problems) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, float) and value in (0.0, 1.0):
        return bool(value)
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    # pydantic reads a string, or a whole number that fits 64 bits, and cannot interpret it;
    # anything else is not a boolean at all.
    readable = isinstance(value, str) or (
        isinstance(value, int | float)
        and -(2**63) <= value < 2**63
        and float(value).is_integer()
        and (isinstance(value, int) or value != -(2**63))
    )
    suffix = ", unable to interpret input" if readable else ""
    problems.add(loc, "Input should be a valid boolean" + suffix)
    return value


def _items(
    value: Any, loc: Loc, problems: _Problems, check: Callable[[Any, Loc, _Problems], Any]
) -> tuple[list[Any], bool]:
    """A list's items, each checked; whether the list and every item were valid."""
    if not isinstance(value, list):
        problems.add(loc, "Input should be a valid list")
        return [], False
    before = len(problems)
    items = [check(item, (*loc, i), problems) for i, item in enumerate(value)]
    return items, len(problems) == before


def _fields(
    data: Any,
    loc: Loc,
    problems: _Problems,
    kind: str,
    checks: dict[str, tuple[Any, Callable[[Any, Loc, _Problems], Any]]],
    *,
    extra_allowed: bool,
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Check each field of a table (name → (default, check)); unknown keys are kept (or,
    without `extra_allowed`, refused). None when `data` is not a table at all."""
    if not isinstance(data, dict):
        problems.add(loc, f"Input should be a valid dictionary or instance of {kind}")
        return None
    values: dict[str, Any] = {}
    for name, (default, check) in checks.items():
        if name in data:
            values[name] = check(data[name], (*loc, name), problems)
        elif default is _MISSING:
            problems.add((*loc, name), "Field required")
    extra = {k: v for k, v in data.items() if k not in checks}
    if not extra_allowed:
        for key in extra:
            problems.add((*loc, key), "Extra inputs are not permitted")
    return values, extra


def _table(
    cls: type[Record], checks: dict[str, tuple[Any, Callable[[Any, Loc, _Problems], Any]]]
) -> Callable[[Any, Loc, _Problems], Any]:
    """The check of a table in a list (a config key, a feature): its fields, nothing else."""

    def check(data: Any, loc: Loc, problems: _Problems) -> Any:
        before = len(problems)
        checked = _fields(data, loc, problems, cls.__name__, checks, extra_allowed=False)
        if checked is None or len(problems) > before:
            return None
        return cls(**checked[0])

    return check


_config_key = _table(
    ConfigKey,
    {
        "name": (_MISSING, lambda v, at, p: _text(v, at, p, pattern=CONFIG_KEY_NAME)),
        "required": (False, _flag),
        "secret": (False, _flag),
        "default": (None, lambda v, at, p: _text(v, at, p, optional=True)),
        "description": (_MISSING, lambda v, at, p: _text(v, at, p, min_length=1)),
    },
)
_feature = _table(
    FeatureSpec,
    {
        "name": (_MISSING, lambda v, at, p: _text(v, at, p, pattern=FEATURE_NAME)),
        "extra": (None, lambda v, at, p: _text(v, at, p, optional=True)),
        "description": ("", _text),
    },
)


def _prefixes(value: Any, loc: Loc, problems: _Problems) -> list[Any]:
    prefixes, valid = _items(value, loc, problems, _text)
    if valid:
        for prefix in prefixes:
            if not prefix.startswith("/") or prefix.endswith("/") or prefix == "/":
                problems.add(
                    loc,
                    f"Value error, route prefix {prefix!r} must start with / and not end with /",
                )
                break
    return prefixes


def _config(value: Any, loc: Loc, problems: _Problems) -> list[Any]:
    keys, valid = _items(value, loc, problems, _config_key)
    if valid:
        seen: set[str] = set()
        for key in keys:
            if key.name in seen:
                problems.add(loc, f"Value error, config key {key.name} is listed twice")
                break
            seen.add(key.name)
    return keys


def _check_manifest(data: Mapping[str, Any], problems: _Problems) -> PluginManifest | None:
    before = len(problems)
    checked = _fields(
        dict(data),
        (),
        problems,
        "PluginManifest",
        {
            "name": (_MISSING, lambda v, at, p: _text(v, at, p, pattern=PLUGIN_NAME)),
            "display_name": ("", _text),
            "version": (None, lambda v, at, p: _text(v, at, p, optional=True, pattern=VERSION)),
            "description": ("", _text),
            "category": ("integration", lambda v, at, p: _text(v, at, p, min_length=1)),
            "module": (None, lambda v, at, p: _text(v, at, p, optional=True)),
            "capabilities": ([], lambda v, at, p: _items(v, at, p, _text)[0]),
            "route_prefixes": ([], _prefixes),
            "homepage": (None, lambda v, at, p: _text(v, at, p, optional=True)),
            "config": ([], _config),
            "features": ([], lambda v, at, p: _items(v, at, p, _feature)[0]),
        },
        extra_allowed=True,
    )
    if checked is None or len(problems) > before:
        return None
    values, extra = checked
    manifest = PluginManifest(**values, extra=extra)
    if not manifest.display_name.strip():
        manifest.display_name = manifest.name
    return manifest


class Distribution(Protocol):
    """An installed distribution, as far as the host reads one (importlib.metadata's
    `Distribution` is one; so is `distributions.InstalledDistribution`)."""

    def read_text(self, filename: str) -> str | None: ...


class CoreFields:
    """A distribution's core metadata fields (Name, Version, Summary, Project-URL, ...), by
    name as written, any case; a field may occur more than once (Project-URL does)."""

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self._fields = fields

    def get_all(self, name: str) -> list[str] | None:
        """Every value of field `name`, in order; None when it has none (as
        `email.message.Message.get_all` answers)."""
        wanted = name.lower()
        found = [value for key, value in self._fields if key.lower() == wanted]
        return found or None

    def __getitem__(self, name: str) -> str | None:
        found = self.get_all(name)
        return found[0] if found else None


def module_directories(module: str) -> list[Path]:
    """Directories that may hold `module`'s manifest, innermost first, ending at its top-level
    package's directory; found by walking from the top-level package, importing nothing."""
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None:
        raise ManifestError(f"module {top!r} is not installed")
    if not spec.submodule_search_locations:
        if spec.origin:  # a single-file top-level module: its manifest sits beside it
            return [Path(spec.origin).parent]
        raise ManifestError(f"cannot tell where module {top!r} lives")
    directories = [Path(next(iter(spec.submodule_search_locations)))]
    for part in rest:
        here = directories[0]
        if (here / part).is_dir():
            directories.insert(0, here / part)
        elif (here / f"{part}.py").is_file():
            break
        else:
            raise ManifestError(f"module {module!r} not found under {here}")
    return directories


def find_manifest(module: str) -> Path | None:
    """The `plugin.toml` nearest to `module`, looking no higher than its top-level package;
    None when there is none (a manifest file is optional)."""
    for directory in module_directories(module):
        path = directory / MANIFEST_FILE
        if path.is_file():
            return path
    return None


def locate_manifest(module: str) -> Path:
    """The `plugin.toml` nearest to `module`, or ManifestError saying where it looked."""
    path = find_manifest(module)
    if path is None:
        raise ManifestError(
            f"no {MANIFEST_FILE} found for module {module!r} "
            f"(looked in {module_directories(module)[0]})"
        )
    return path


def distribution_fields(distribution: Distribution) -> CoreFields:
    """A distribution's core metadata fields (Name, Version, Summary, Project-URL, ...), read
    without its long description. METADATA carries the package's whole README after the
    fields, and `Distribution.metadata` runs all of it through the email parser on every
    access (`.name` and `.version` included): for a plugin with a long README that costs more
    than the rest of listing it. The fields end at the first blank line (core metadata
    specification), so only they are read, as the email parser reads headers: `Name: value`,
    and a line that starts with a space or a tab continues the field before it."""
    text = distribution.read_text("METADATA") or distribution.read_text("PKG-INFO") or ""
    head = re.split(r"\r?\n\r?\n", text, maxsplit=1)[0]
    fields: list[tuple[str, str]] = []
    for line in re.findall(r"[^\r\n]*(?:\r\n|\r|\n|$)", head):
        if not line:
            continue
        if line[0] in " \t":
            if fields:
                name, value = fields[-1]
                fields[-1] = (name, value + line)
            continue
        name, colon, value = line.partition(":")
        if not colon or not _HEADER_NAME.fullmatch(name):
            break  # not a field: where the email parser's body would begin
        fields.append((name, value.lstrip(" \t")))
    return CoreFields([(name, value.rstrip("\r\n")) for name, value in fields])


# A field name as the email parser takes it: printable ASCII except the colon.
_HEADER_NAME = re.compile(r"[\041-\071\073-\176]*")


def distribution_defaults(name: str, fields: CoreFields | None) -> dict[str, Any]:
    """Manifest fields known without a manifest file: the plugin's name and, when it comes
    from an installed distribution (`fields`: its `distribution_fields`), that distribution's
    name, version, summary and homepage."""
    defaults: dict[str, Any] = {"name": name}
    if fields is None:
        return defaults

    def first(field: str) -> str | None:
        values = fields.get_all(field)
        return str(values[0]) if values else None

    defaults["display_name"] = first("Name") or name
    defaults["version"] = first("Version")
    if first("Summary"):
        defaults["description"] = first("Summary")
    urls = [str(url).partition(",")[2].strip() for url in fields.get_all("Project-URL") or []]
    homepage = first("Home-page") or next(filter(None, urls), None)
    if homepage:
        defaults["homepage"] = homepage
    return defaults


def parse_manifest(
    text: str, source: str, defaults: dict[str, Any] | None = None
) -> PluginManifest:
    """Validate manifest text over `defaults`; the error names the file and every field at
    fault."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{source} is not valid TOML: {exc}") from None
    return _validated({**(defaults or {}), **data}, source)


def _validated(data: dict[str, Any], source: str) -> PluginManifest:
    problems = _Problems()
    manifest = _check_manifest(data, problems)
    if manifest is None:
        listed = "; ".join(
            f"{'.'.join(str(p) for p in loc) or '(top)'}: {message}"
            for loc, message in problems.found
        )
        raise ManifestError(f"{source} is invalid: {listed}")
    return manifest


def load_manifest(
    module: str, defaults: dict[str, Any] | None = None
) -> tuple[PluginManifest, Path | None]:
    """The manifest of the plugin whose hooks live in `module`: `defaults` (see
    `distribution_defaults`) with its `plugin.toml` over them, if it has one; the path is None
    when the manifest comes from the defaults alone."""
    path = find_manifest(module)
    if path is None:
        fallback = {"name": module.rsplit(".", 1)[-1].lower()}
        return _validated({**fallback, **(defaults or {})}, f"the metadata of {module}"), None
    return parse_manifest(path.read_text(encoding="utf-8"), str(path), defaults), path
