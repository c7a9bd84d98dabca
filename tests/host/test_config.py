"""The host's own settings: API keys, data dir and database defaults, .env, driver checks."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from atom_host_stub.config import HostSettings, parse_api_keys, read_environment
from atom_host_stub.contract import Principal, Severity

KEY_SPEC = "k-0123456789abcdef:t:u"


def test_api_keys_parse_into_principals() -> None:
    k1, k2 = "k1-0123456789abcdef", "k2-0123456789abcdef"
    keys, problems = parse_api_keys(f" {k1}:t1:u1 , {k2}:t2:u2 ")
    assert keys == {
        k1: Principal(tenant_id="t1", user_id="u1"),
        k2: Principal(tenant_id="t2", user_id="u2"),
    }
    assert problems == []


def test_malformed_api_keys_are_reported_by_position_never_by_value() -> None:
    ok = "ok-0123456789abcdef"
    settings = HostSettings.from_env(
        {"ATOM_API_KEYS": f"sekrit-one:t1,{ok}:t:u,{ok}:t2:u2,:t:u,sekrit:t:u"}
    )
    issues = settings.validate()
    messages = [i.message for i in issues if i.key == "ATOM_API_KEYS"]
    assert messages == [
        "ATOM_API_KEYS is invalid: entry 1 is not of the form key:tenant:user",
        "ATOM_API_KEYS is invalid: entry 3 repeats an earlier key",
        "ATOM_API_KEYS is invalid: entry 4 is not of the form key:tenant:user",
        "ATOM_API_KEYS is invalid: entry 5 has a key of 6 characters; keys need at least 16 "
        "(the key is not accepted)",
    ]
    assert all("sekrit" not in i.message for i in issues)
    assert list(settings.api_keys) == [ok]


def test_no_api_keys_is_a_warning() -> None:
    (issue,) = HostSettings.from_env({}).validate()
    assert (issue.key, issue.severity) == ("ATOM_API_KEYS", Severity.WARNING)


def test_defaults_put_the_sqlite_database_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = HostSettings.from_env({})
    assert settings.data_dir == tmp_path / ".atom"
    assert settings.database_url == f"sqlite:///{tmp_path / '.atom' / 'atom.sqlite3'}"
    assert settings.autoload and settings.allowed_plugins is None
    custom = HostSettings.from_env(
        {
            "ATOM_DATA_DIR": str(tmp_path / "d"),
            "ATOM_PLUGINS": "hubspot, memory",
            "ATOM_DISABLE_PLUGIN_AUTOLOAD": "true",
        }
    )
    assert custom.database_url == f"sqlite:///{tmp_path / 'd' / 'atom.sqlite3'}"
    assert custom.allowed_plugins == {"hubspot", "memory"}
    assert not custom.autoload


def test_dotenv_values_apply_under_the_real_environment(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("ATOM_PUBLIC_URL=http://from-dotenv\nATOM_DATA_DIR=/from/dotenv\n")
    env = read_environment({"ATOM_DATA_DIR": "/from/env"}, dotenv_path=dotenv)
    assert env["ATOM_PUBLIC_URL"] == "http://from-dotenv"
    assert env["ATOM_DATA_DIR"] == "/from/env"


def test_a_postgresql_url_is_the_hosts_to_accept_and_the_drivers_the_plugins_to_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The HubSpot plugin reports a missing psycopg with its own extra (tests/api/test_plugin.py);
    # the host saying it too would show the same problem twice.
    url = "postgresql://app@db:5432/atom"
    monkeypatch.setitem(sys.modules, "psycopg", None)  # what an uninstalled driver looks like
    assert (
        HostSettings.from_env({"ATOM_API_KEYS": KEY_SPEC, "ATOM_DATABASE_URL": url}).validate()
        == []
    )


def test_an_unknown_database_scheme_is_an_error() -> None:
    issues = HostSettings.from_env(
        {"ATOM_API_KEYS": KEY_SPEC, "ATOM_DATABASE_URL": "mysql://x/y"}
    ).validate()
    assert [i.key for i in issues] == ["ATOM_DATABASE_URL"]
