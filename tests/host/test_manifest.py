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

from atom_host_stub.manifest import (
    ManifestError,
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
