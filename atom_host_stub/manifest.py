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

import email.parser
import importlib.util
import re
import tomllib
from email.message import Message
from importlib.metadata import Distribution
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

MANIFEST_FILE = "plugin.toml"


class ManifestError(Exception):
    """A manifest is missing or invalid; the message says which file and what is wrong."""


class ConfigKey(BaseModel):
    """One environment variable a plugin reads."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    required: bool = False
    secret: bool = False
    default: str | None = None
    description: str = Field(min_length=1)


class FeatureSpec(BaseModel):
    """An optional part of a plugin and the pip extra that enables it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    extra: str | None = None
    description: str = ""


class PluginManifest(BaseModel):
    """The schema of `plugin.toml`. Unknown top-level keys are kept, so a newer manifest field
    does not fail an older host."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    display_name: str = Field(default="", description="Defaults to the distribution's name")
    version: str | None = Field(
        default=None,
        pattern=r"^\d+(\.\d+)*([.+-]?[A-Za-z0-9.]+)?$",
        description="Defaults to the distribution's version; None when unknown",
    )
    description: str = ""
    category: str = Field(default="integration", min_length=1)
    module: str | None = None
    capabilities: list[str] = Field(default_factory=list)
    route_prefixes: list[str] = Field(default_factory=list)
    homepage: str | None = None
    config: list[ConfigKey] = Field(default_factory=list)
    features: list[FeatureSpec] = Field(default_factory=list)

    @field_validator("route_prefixes")
    @classmethod
    def _prefixes_are_paths(cls, prefixes: list[str]) -> list[str]:
        for prefix in prefixes:
            if not prefix.startswith("/") or prefix.endswith("/") or prefix == "/":
                raise ValueError(f"route prefix {prefix!r} must start with / and not end with /")
        return prefixes

    @field_validator("config")
    @classmethod
    def _config_names_unique(cls, keys: list[ConfigKey]) -> list[ConfigKey]:
        seen: set[str] = set()
        for key in keys:
            if key.name in seen:
                raise ValueError(f"config key {key.name} is listed twice")
            seen.add(key.name)
        return keys

    @model_validator(mode="after")
    def _display_name_defaults_to_name(self) -> PluginManifest:
        if not self.display_name.strip():
            self.display_name = self.name
        return self

    @property
    def secret_keys(self) -> set[str]:
        return {key.name for key in self.config if key.secret}


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


def distribution_fields(distribution: Distribution) -> Message:
    """A distribution's core metadata fields (Name, Version, Summary, Project-URL, ...), read
    without its long description. METADATA carries the package's whole README after the
    fields, and `Distribution.metadata` runs all of it through the email parser on every
    access (`.name` and `.version` included): for a plugin with a long README that costs more
    than the rest of listing it. The fields end at the first blank line (core metadata
    specification), so only they are parsed."""
    text = distribution.read_text("METADATA") or distribution.read_text("PKG-INFO") or ""
    fields = re.split(r"\r?\n\r?\n", text, maxsplit=1)[0]
    return email.parser.HeaderParser().parsestr(fields)


def distribution_defaults(name: str, fields: Message | None) -> dict[str, Any]:
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
    try:
        return PluginManifest.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise ManifestError(f"{source} is invalid: {problems}") from None


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
