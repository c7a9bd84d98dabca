"""The manifest: schema, found and read without importing the plugin, shipped as one file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from atom_host_stub.manifest import ManifestError, load_manifest, locate_manifest, parse_manifest

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
