"""`.env.hubspot.template` is what `atom-host hubspot env-template` prints: every setting of the
settings model, with its default and a one-line description."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from atom_hubspot.cli import hubspot
from atom_hubspot.env_template import env_template
from atom_hubspot.settings import HubSpotSettings

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_template_is_the_generators_output() -> None:
    committed = (ROOT / ".env.hubspot.template").read_text(encoding="utf-8")
    assert committed == env_template(), (
        ".env.hubspot.template is stale: run "
        "`atom-host hubspot env-template > .env.hubspot.template`"
    )
    done = CliRunner().invoke(hubspot, ["env-template"])
    assert done.exit_code == 0 and done.output == committed


def test_every_setting_appears_with_its_default_and_a_description() -> None:
    lines = env_template().splitlines()
    for field in HubSpotSettings.model_fields.values():
        name = str(field.alias)
        at = next(i for i, line in enumerate(lines) if line.lstrip("# ").startswith(f"{name}="))
        description = lines[at - 1]
        assert description.startswith("# ") and len(description) > 20, name
        default = field.get_default(call_default_factory=True)
        if isinstance(default, list):
            default = ",".join(str(v) for v in default)
        if default is not None and not description.endswith("required]"):
            assert lines[at] == f"# {name}={default}", name
            assert f"default: {default}" in description, name
    # Required settings are left to fill in, uncommented.
    assert "HUBSPOT_CLIENT_ID=" in lines and "ATOM_HUBSPOT_ENCRYPTION_KEYS=" in lines
