"""HUBSPOT_ENVIRONMENT: which app credentials, redirect URI and API base URL are in force, the
problems reported at start (all at once, by variable), and what check-config prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atom_hubspot.settings import Environment, load_settings
from tests.conftest import make_key
from tests.host.test_cli import run_cli

KEYS = {"ATOM_HUBSPOT_ENCRYPTION_KEYS": f"k1:{make_key()}"}
PRODUCTION = {"HUBSPOT_CLIENT_ID": "prod-id", "HUBSPOT_CLIENT_SECRET": "prod-secret-value"}
QA = {
    "HUBSPOT_QA_CLIENT_ID": "qa-id",
    "HUBSPOT_QA_CLIENT_SECRET": "qa-secret-value",
    "HUBSPOT_QA_REDIRECT_URI": "https://qa.atom.example/auth/hubspot/callback",
    "HUBSPOT_QA_API_BASE_URL": "https://qa-hubspot.example",
}


def test_production_is_the_default_and_uses_the_production_app() -> None:
    s, issues = load_settings({**KEYS, **PRODUCTION, **QA})
    assert s is not None and issues == []
    app = s.app
    assert app.environment is Environment.PRODUCTION
    assert (app.client_id, app.secret) == ("prod-id", "prod-secret-value")
    assert app.api_base_url == "https://api.hubapi.com" and app.redirect_uri is None
    assert app.callback_url("https://atom.example/", "/cb") == "https://atom.example/cb"


def test_qa_uses_the_qa_app_only() -> None:
    s, issues = load_settings({**KEYS, **PRODUCTION, **QA, "HUBSPOT_ENVIRONMENT": "qa"})
    assert s is not None and issues == []
    app = s.app
    assert app.environment is Environment.QA
    assert (app.client_id, app.secret) == ("qa-id", "qa-secret-value")
    assert app.api_base_url == "https://qa-hubspot.example"
    assert app.callback_url("https://x", "/cb") == QA["HUBSPOT_QA_REDIRECT_URI"]
    assert "qa-secret-value" not in repr(app)


def test_qa_without_its_credentials_names_every_missing_setting_at_once() -> None:
    # The production app's credentials are not needed (nor asked for) under QA.
    _s, issues = load_settings({"HUBSPOT_ENVIRONMENT": "qa"})
    assert [i.key for i in issues] == [
        "HUBSPOT_QA_CLIENT_ID",
        "HUBSPOT_QA_CLIENT_SECRET",
        "ATOM_HUBSPOT_ENCRYPTION_KEYS",
    ]
    assert all(i.severity == "error" and i.hint for i in issues)
    assert "HUBSPOT_ENVIRONMENT=qa" in issues[0].message


def test_qa_with_the_production_client_id_is_warned_about() -> None:
    env = {**KEYS, **PRODUCTION, **QA, "HUBSPOT_ENVIRONMENT": "qa"}
    _s, issues = load_settings({**env, "HUBSPOT_QA_CLIENT_ID": "prod-id"})
    assert [(i.key, i.severity) for i in issues] == [("HUBSPOT_QA_CLIENT_ID", "warning")]


def test_bad_qa_urls_are_named_with_the_other_problems() -> None:
    _s, issues = load_settings(
        {
            "HUBSPOT_ENVIRONMENT": "qa",
            "HUBSPOT_QA_API_BASE_URL": "ftp://nope",
            "HUBSPOT_QA_REDIRECT_URI": "/relative",
        }
    )
    keys = {i.key for i in issues}
    assert {"HUBSPOT_QA_API_BASE_URL", "HUBSPOT_QA_REDIRECT_URI", "HUBSPOT_QA_CLIENT_ID"} <= keys


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_environment_value_is_taken_by_name_or_refused_by_name(value: str) -> None:
    env = {**KEYS, **PRODUCTION, **QA, "HUBSPOT_ENVIRONMENT": value}
    s, issues = load_settings(env)
    folded = value.strip().lower()
    if folded in ("production", "qa"):
        assert s is not None and s.app.environment.value == folded and issues == []
    else:
        assert s is None
        [issue] = [i for i in issues if i.key == "HUBSPOT_ENVIRONMENT"]
        assert "'production' or 'qa'" in issue.message
        if len(value.strip()) > 3:
            assert value not in issue.message + issue.hint


@pytest.mark.parametrize("environment", ["production", "qa"])
def test_check_config_shows_the_environment_in_force(
    tmp_path: Path, hubspot_env: dict[str, str], environment: str
) -> None:
    env = {
        **hubspot_env,
        **QA,
        "ATOM_PLUGINS": "hubspot",
        "HUBSPOT_ENVIRONMENT": environment,
    }
    done = run_cli(tmp_path, "check-config", **env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _line(done.stdout, "HubSpot environment").split()[2:] == [
        environment,
        "(HUBSPOT_ENVIRONMENT)",
    ]
    api = _line(done.stdout, "HubSpot API ")
    expected = QA["HUBSPOT_QA_API_BASE_URL"] if environment == "qa" else "http://sandbox.local"
    assert expected in api
    assert ("HUBSPOT_QA_API_BASE_URL" in api) == (environment == "qa")


def _line(out: str, starts: str) -> str:
    return next(line.strip() for line in out.splitlines() if line.strip().startswith(starts))


def test_check_config_names_the_missing_qa_credentials(
    tmp_path: Path, hubspot_env: dict[str, str]
) -> None:
    env = {**hubspot_env, "ATOM_PLUGINS": "hubspot", "HUBSPOT_ENVIRONMENT": "qa"}
    done = run_cli(tmp_path, "check-config", "--json", **env)
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    errors = [(i["key"], i["severity"]) for i in report["issues"] if i["owner"] == "hubspot"]
    assert errors == [("HUBSPOT_QA_CLIENT_ID", "error"), ("HUBSPOT_QA_CLIENT_SECRET", "error")]
    in_effect = {v["key"]: v["value"] for v in report["in_effect"]["hubspot"]}
    assert in_effect["HUBSPOT_ENVIRONMENT"] == "qa"
    assert in_effect["HUBSPOT_QA_CLIENT_ID"] == "not set"


@settings(max_examples=200, deadline=None)
@given(
    key=st.sampled_from(
        ["HUBSPOT_QA_API_BASE_URL", "HUBSPOT_QA_AUTHORIZE_URL", "HUBSPOT_QA_REDIRECT_URI"]
    ),
    value=st.one_of(
        st.text(max_size=60),
        st.builds(lambda s: "https://" + s, st.text(max_size=30)),
    ),
)
def test_any_qa_url_is_taken_as_an_absolute_url_or_refused_by_name(key: str, value: str) -> None:
    env = {**KEYS, **QA, "HUBSPOT_ENVIRONMENT": "qa", key: value}
    s, issues = load_settings(env)
    if s is None:
        [issue] = [i for i in issues if i.key == key]
        assert "absolute http(s)" in issue.message
        if len(value) > 8:
            assert value not in issue.message + issue.hint
        return
    app = s.app
    used = {
        "HUBSPOT_QA_API_BASE_URL": app.api_base_url,
        "HUBSPOT_QA_AUTHORIZE_URL": app.authorize_url,
        "HUBSPOT_QA_REDIRECT_URI": app.redirect_uri or "",
    }[key]
    assert used.startswith(("http://", "https://")) and used.split("://", 1)[1][:1] not in "/ "
    assert not any(c.isspace() for c in used.split("://", 1)[1].split("/", 1)[0])


def test_only_settings_py_reads_an_apps_credentials_and_urls_directly() -> None:
    """Everything else asks `settings.app`, so nothing can use the production app under QA."""
    import re

    root = Path(__file__).resolve().parents[2] / "atom_hubspot"
    direct = re.compile(
        r"settings\.(client_id|client_secret|redirect_uri|api_base_url|authorize_url|qa_\w+)\b"
    )
    offenders = [
        f"{path.relative_to(root)}:{n}"
        for path in root.rglob("*.py")
        if path.name != "settings.py" and "sandbox" not in path.parts
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if direct.search(line)
    ]
    assert offenders == []
