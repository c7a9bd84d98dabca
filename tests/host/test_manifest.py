"""The manifest: schema, found and read without importing the plugin, shipped as one file."""

from __future__ import annotations

import re
import string
import subprocess
import sys
import tempfile
from importlib.metadata import Distribution, distributions
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from atom_host_stub.manifest import (
    ManifestError,
    _validated,
    distribution_defaults,
    distribution_fields,
    load_manifest,
    locate_manifest,
    parse_manifest,
)
from tests.plugin_dist import write_distribution

REPO = Path(__file__).resolve().parents[2]


def test_the_hubspot_manifest_is_valid_and_read_without_importing_the_plugin() -> None:
    code = (
        "import sys; from atom_host_stub.manifest import load_manifest; "
        "m, p = load_manifest('atom_hubspot.plugin'); "
        "print(m.name, m.category, ','.join(m.capabilities), "
        "any(k == 'atom_hubspot' or k.startswith('atom_hubspot.') for k in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.split() == ["hubspot", "crm", "crm,marketing", "False"]


def test_the_installed_manifest_is_the_top_level_file() -> None:
    installed = locate_manifest("atom_hubspot.plugin")
    assert installed.read_bytes() == (REPO / "plugin.toml").read_bytes()
    manifest, _ = load_manifest("atom_hubspot.plugin")
    import atom_hubspot

    assert manifest.version == atom_hubspot.__version__


def test_every_config_key_has_a_description_and_secrets_have_no_default() -> None:
    manifest, _ = load_manifest("atom_hubspot.plugin")
    assert {"HUBSPOT_CLIENT_ID", "HUBSPOT_CLIENT_SECRET"} <= {k.name for k in manifest.config}
    assert all(k.default is None for k in manifest.config if k.secret)
    assert {f.extra for f in manifest.features} <= {"api", "postgres", "redis"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("display_name = 'X'", "name: Field required"),
        (
            'name = "x"\ndisplay_name="X"\nversion="1"\ncategory="crm"\nroute_prefixes=["api/x"]',
            "route prefix 'api/x' must start with /",
        ),
        (
            'name = "x"\ndisplay_name="X"\nversion="1"\ncategory="crm"\n'
            '[[config]]\nname="A"\ndescription="a"\n[[config]]\nname="A"\ndescription="b"',
            "config key A is listed twice",
        ),
        (
            'name = "x"\ndisplay_name="X"\nversion="1"\ncategory="crm"\n'
            '[[config]]\nname="lower"\ndescription="a"',
            "config.0.name",
        ),
        ("name = ", "is not valid TOML"),
    ],
)
def test_malformed_manifests_are_rejected_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(ManifestError) as error:
        parse_manifest(text, "plugin.toml")
    assert problem in str(error.value)
    assert str(error.value).startswith("plugin.toml is")


def test_a_module_without_a_manifest_says_where_it_looked() -> None:
    with pytest.raises(
        ManifestError, match=re.escape("no plugin.toml found for module 'tests.host'")
    ):
        locate_manifest("tests.host")
    with pytest.raises(ManifestError, match="module 'no_such_top_level' is not installed"):
        locate_manifest("no_such_top_level.plugin")


# --------------------------------------------------------------------------- distribution fields

FIELDS = ("Name", "Version", "Summary", "Home-page", "Project-URL")


def fields_of(message: Any) -> dict[str, list[str]]:
    return {field: [str(v) for v in message.get_all(field) or []] for field in FIELDS}


def test_distribution_fields_match_the_full_metadata_of_every_installed_distribution() -> None:
    # The fields are read without the long description; they must be the ones importlib's
    # full parse gives, for every distribution installed here (this project's, with its
    # whole README in METADATA, among them).
    checked = 0
    for dist in distributions():
        assert fields_of(distribution_fields(dist)) == fields_of(dist.metadata), dist.name
        checked += 1
    assert checked > 20


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    description=st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"),
        max_size=400,
    ),
    summary=st.text(alphabet=string.ascii_letters + string.digits + " .,-", max_size=60),
)
def test_a_long_description_never_changes_the_fields(
    tmp_path: Path, description: str, summary: str
) -> None:
    # Whatever the README says — lines that look like fields included — the fields are the
    # ones before it.
    site = Path(tempfile.mkdtemp(dir=tmp_path))
    folder = write_distribution(site, "acme-crm", "1.2.3", {"acme": "acme_crm"}, summary=summary)
    metadata = folder / "METADATA"
    body = f"Version: 9.9.9\nName: other\n\n{description}\nSummary: not this\n"
    metadata.write_text(metadata.read_text(encoding="utf-8") + "\n" + body, encoding="utf-8")
    dist = Distribution.at(folder)
    defaults = distribution_defaults("acme", distribution_fields(dist))
    assert defaults["display_name"] == "acme-crm"
    assert defaults["version"] == "1.2.3"
    assert defaults.get("description") == (summary.lstrip(" ") or None)
    assert fields_of(distribution_fields(dist)) == fields_of(dist.metadata)


# --------------------------------------------------------------------------- schema checks
#
# The host checks manifests without pydantic (it reads them on every command); plugin authors
# get pydantic's words all the same. The reference below is the schema as pydantic models;
# every manifest is judged alike by both.


class ConfigKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    required: bool = False
    secret: bool = False
    default: str | None = None
    description: str = Field(min_length=1)


class FeatureSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    extra: str | None = None
    description: str = ""


class PluginManifest(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    display_name: str = ""
    version: str | None = Field(default=None, pattern=r"^\d+(\.\d+)*([.+-]?[A-Za-z0-9.]+)?$")
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


def _reference(data: dict[str, Any]) -> str | dict[str, Any]:
    """What pydantic makes of `data`: the problems as the host words them, else the values."""
    try:
        model = PluginManifest.model_validate(data)
    except ValidationError as exc:
        return "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
    dumped = model.model_dump()
    extra = {k: dumped.pop(k) for k in list(dumped) if k not in PluginManifest.model_fields}
    dumped["display_name"] = dumped["display_name"].strip() and dumped["display_name"]
    return {**dumped, "display_name": dumped["display_name"] or dumped["name"], "extra": extra}


def _ours(data: dict[str, Any]) -> str | dict[str, Any]:
    try:
        manifest = _validated(data, "m")
    except ManifestError as exc:
        return str(exc).removeprefix("m is invalid: ")
    return manifest.model_dump()


MANIFEST_CASES: list[dict[str, Any]] = [
    {},
    {"name": 5},
    {"name": "X"},
    {"name": "x\n"},
    {"name": "x", "version": 1},
    {"name": "x", "version": "1.0\n"},
    {"name": "x", "version": None, "display_name": "  "},
    {"name": "x", "version": "1.2.3-rc1", "category": ""},
    {"name": "x", "capabilities": "crm"},
    {"name": "x", "capabilities": ["crm", 1, True, None]},
    {"name": "x", "capabilities": {"a": 1}},
    {"name": "x", "route_prefixes": ["api/x", "/"]},
    {"name": "x", "route_prefixes": ["/a/"], "config": [{"name": "a"}]},
    {"name": "x", "route_prefixes": [1]},
    {"name": "x", "config": [{"name": "A"}]},
    {"name": "x", "config": [{"name": "A", "description": "d", "bogus": 1, "zz": 2}]},
    {"name": "x", "config": [{"name": "A", "description": "d", "required": "yes", "secret": 1}]},
    {"name": "x", "config": [{"name": "A", "description": "d", "required": 2, "secret": 1.5}]},
    {"name": "x", "config": [{"name": "A", "description": "d", "required": None, "default": 5}]},
    {"name": "x", "config": [{"name": "A", "description": "d", "required": "Maybe"}]},
    {"name": "x", "config": [{"name": "A", "description": "d", "secret": 0.0}]},
    {"name": "x", "config": ["A"]},
    {"name": "x", "config": "A"},
    {"name": "x", "config": [{"name": "A", "description": "d"}, {"name": "A", "description": "e"}]},
    {"name": "x", "version": 3, "config": [{"name": "A", "description": ""}, {"name": "A"}]},
    {"name": "x", "features": [{"name": "F"}, {"name": "f", "extra": 1, "x": 1}]},
    {"name": "x", "features": [{"name": "f", "extra": "api", "description": None}]},
    {"name": "x", "homepage": 1, "module": [], "display_name": 2, "description": 1.5},
    {"name": "x", "unknown": 1, "other": {"a": 1}, "display_name": "X", "version": "2.0+local"},
]


@pytest.mark.parametrize("data", MANIFEST_CASES, ids=range(len(MANIFEST_CASES)))
def test_manifests_are_judged_as_pydantic_judges_them(data: dict[str, Any]) -> None:
    assert _ours(data) == _reference(data)


TOML_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-2, 3)
    | st.floats(allow_nan=False)
    | st.text(alphabet="aAzZ09_-./ \n", max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["name", "description", "required", "secret", "default", "extra", "x"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(
    data=st.dictionaries(
        st.sampled_from(
            [
                "name",
                "version",
                "category",
                "capabilities",
                "route_prefixes",
                "config",
                "features",
                "display_name",
                "homepage",
                "other",
            ]
        ),
        TOML_VALUES,
        max_size=5,
    )
)
def test_any_manifest_is_judged_as_pydantic_judges_it(data: dict[str, Any]) -> None:
    assert _ours(data) == _reference(data)
