"""The plugin's settings: every problem reported at once, by variable name, secrets never shown;
and plugin.toml's config section is the same list of keys, defaults and secrecy."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import SecretStr

from atom_hubspot.settings import (
    FEATURE_SCOPES,
    Feature,
    HubSpotSettings,
    load_settings,
    parse_encryption_keys,
)
from tests.conftest import make_key

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = tomllib.loads((ROOT / "plugin.toml").read_text())


def test_manifest_lists_exactly_the_settings_keys() -> None:
    declared = {c["name"] for c in MANIFEST["config"]}
    fields = {f.alias for f in HubSpotSettings.model_fields.values()}
    assert declared == fields


@pytest.mark.parametrize("entry", MANIFEST["config"], ids=lambda c: c["name"])
def test_manifest_entry_matches_field(entry: dict) -> None:
    field = next(f for f in HubSpotSettings.model_fields.values() if f.alias == entry["name"])
    is_secret = field.annotation is not None and "SecretStr" in str(field.annotation)
    assert entry["secret"] == is_secret
    assert entry["description"]
    if "default" in entry:
        default = field.get_default(call_default_factory=True)
        if isinstance(default, list):
            default = ",".join(str(v) for v in default)
        assert str(default) == entry["default"]


def test_missing_credentials_are_all_reported_by_name() -> None:
    settings, issues = load_settings({})
    assert settings is not None
    keys = [i.key for i in issues]
    assert keys == ["HUBSPOT_CLIENT_ID", "HUBSPOT_CLIENT_SECRET", "ATOM_HUBSPOT_ENCRYPTION_KEYS"]
    assert all(i.hint for i in issues)


def test_type_errors_name_the_variable_and_never_echo_the_value() -> None:
    _, issues = load_settings(
        {
            "HUBSPOT_API_VERSION": "v9-secret-looking",
            "HUBSPOT_RATE_LIMIT_TIER": "gold",
            "HUBSPOT_READ_TIMEOUT": "-1",
        }
    )
    keys = {i.key for i in issues}
    assert {"HUBSPOT_API_VERSION", "HUBSPOT_RATE_LIMIT_TIER", "HUBSPOT_READ_TIMEOUT"} <= keys
    assert not any("v9-secret-looking" in (i.message + i.hint) for i in issues)


def test_bad_encryption_key_is_an_issue_not_a_crash_and_is_not_echoed() -> None:
    secret = "k1:" + "A" * 10
    _, issues = load_settings(
        {
            "HUBSPOT_CLIENT_ID": "x",
            "HUBSPOT_CLIENT_SECRET": "y",
            "ATOM_HUBSPOT_ENCRYPTION_KEYS": secret,
        }
    )
    [issue] = issues
    assert issue.key == "ATOM_HUBSPOT_ENCRYPTION_KEYS"
    assert "AAAAAAAAAA" not in issue.message


def test_key_ring_first_key_encrypts_and_duplicates_are_refused() -> None:
    a, b = make_key(), make_key()
    ring = parse_encryption_keys(f"new:{a}, old:{b}")
    assert [kid for kid, _ in ring] == ["new", "old"]
    assert all(len(k) == 32 for _, k in ring)
    with pytest.raises(ValueError, match="twice"):
        parse_encryption_keys(f"k:{a},k:{b}")


def test_scopes_follow_enabled_features() -> None:
    s = HubSpotSettings(
        HUBSPOT_FEATURES="crm,campaigns", HUBSPOT_CLIENT_SECRET=SecretStr("x"), _env_file=None
    )
    assert "crm.objects.contacts.write" in s.scopes
    assert "marketing.campaigns.read" in s.scopes
    # What is not enabled is asked for as optional_scope, never as scope.
    assert set(FEATURE_SCOPES[Feature.LISTS]) <= set(s.optional_scope_names)
    assert not set(s.scopes) & set(s.optional_scope_names)
    assert s.requests_per_10s == 110
