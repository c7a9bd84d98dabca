"""The settings table's plain reading says what pydantic says: for every setting and any text
an environment may hold, the same value or the same message, so `check-config` (which reads
the table, importing no pydantic) and the running plugin (the pydantic model) never disagree."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from atom_hubspot.settings import HubSpotSettings, _GivenSettings, load_settings
from atom_hubspot.settings_table import (
    SETTINGS,
    Secret,
    Setting,
    check_settings,
    default_value,
    read_value,
)

# Texts that probe each way of reading a value: numbers in every spelling pydantic accepts or
# refuses, booleans, URLs, the choices, whitespace of every kind.
TRICKY = [
    "",
    " ",
    "0",
    "1",
    "-1",
    "+1",
    "01",
    "1_0",
    "_1",
    "1_",
    "1__0",
    "+_1",
    "1.0",
    "1.00",
    "1.",
    ".5",
    "1.5",
    " 1_0",
    "1_0 ",
    " 1_0.5 ",
    "1_0.5",
    "-0",
    "-0.0",
    "1e3",
    "1E-3",
    "1_e1",
    "in_f",
    "inf",
    "-inf",
    "+inf",
    "Infinity",
    "nan",
    "NaN",
    "1e400",
    "1e-400",
    "0x10",
    "\u0661",
    " 5 ",
    "\xa05",
    "5\u2028",
    "\x1c5",
    "\t3\n",
    "20",
    "21",
    "50",
    "51",
    "0.3",
    "1.01",
    "9" * 30,
    "true",
    "True",
    "TRUE",
    "yes",
    "on",
    "off",
    "t",
    "f",
    "y",
    "n",
    "no",
    "false",
    " true",
    "crm",
    "crm,lists",
    " crm , lists ,",
    "crm,bogus",
    ",",
    "production",
    "QA",
    " qa ",
    "staging",
    "push",
    "pull",
    "polling",
    "Push",
    "memory",
    "postgres",
    "redis",
    "public-app",
    "gold",
    "v3",
    "2026-03",
    "2026-09",
    "2027-01",
    "https://x.example",
    "https://x.example/",
    "http://x/y z",
    "ftp://x",
    "https://",
    "x",
    "https://a.example/cb?x=1",
]


def pydantic_reading(variable: str, raw: str) -> tuple[str, Any]:
    """("value", the parsed value) or ("error", pydantic's first message) for one variable."""
    try:
        model = _GivenSettings(**{variable: raw})
    except ValidationError as exc:
        return "error", exc.errors(include_input=False, include_url=False)[0]["msg"]
    name = next(n for n, s in SETTINGS.items() if s.variable == variable)
    return "value", getattr(model, name)


def plain_reading(setting: Setting, raw: str) -> tuple[str, Any]:
    try:
        return "value", read_value(setting, raw)
    except ValueError as exc:
        return "error", str(exc)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, SecretStr | Secret) and isinstance(b, SecretStr | Secret):
        return a.get_secret_value() == b.get_secret_value()
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b) and type(a) is type(b)


def assert_reads_alike(setting: Setting, raw: str) -> None:
    ours, theirs = plain_reading(setting, raw), pydantic_reading(setting.variable, raw)
    assert ours[0] == theirs[0] and same(ours[1], theirs[1]), (setting.variable, raw, ours, theirs)


@pytest.mark.parametrize("setting", SETTINGS.values(), ids=lambda s: s.variable)
def test_every_setting_reads_every_tricky_text_as_pydantic_does(setting: Setting) -> None:
    for raw in TRICKY:
        assert_reads_alike(setting, raw)


NUMBERISH = st.text(alphabet="0123456789_.+-eEinfatyNIF \t\xa0\u2028\x1c", max_size=12)


@settings(max_examples=300, deadline=None)
@given(raw=NUMBERISH, name=st.sampled_from(sorted(SETTINGS)))
def test_any_text_reads_as_pydantic_reads_it(raw: str, name: str) -> None:
    assert_reads_alike(SETTINGS[name], raw)


def test_the_table_is_the_models_fields_in_order() -> None:
    fields = HubSpotSettings.model_fields
    assert list(fields) == list(SETTINGS)
    for name, setting in SETTINGS.items():
        field = fields[name]
        assert field.alias == setting.variable
        default = field.get_default(call_default_factory=True)
        assert same(default, default_value(setting)) or default == default_value(setting), name


def test_load_settings_and_check_settings_report_the_same_issues() -> None:
    env = {
        "HUBSPOT_API_VERSION": "2027-01",
        "HUBSPOT_READ_TIMEOUT": "abc",
        "HUBSPOT_FEATURES": "crm,bogus",
        "HUBSPOT_ENVIRONMENT": "QA",
        "HUBSPOT_QA_CLIENT_ID": "qa-id",
        "HUBSPOT_RATE_LIMIT_BACKEND": "redis",
    }
    settings_, issues = load_settings(env)
    assert settings_ is None
    assert [(i.key, i.message) for i in issues] == [
        (i.key, i.message) for i in check_settings(env).issues
    ]
    assert [i.key for i in issues] == [
        "HUBSPOT_FEATURES",
        "HUBSPOT_API_VERSION",
        "HUBSPOT_READ_TIMEOUT",
        "HUBSPOT_QA_CLIENT_SECRET",
        "ATOM_HUBSPOT_ENCRYPTION_KEYS",
        "HUBSPOT_REDIS_URL",
    ]
    assert issues[0].message == (
        "HUBSPOT_FEATURES is invalid: Input should be 'crm', 'lists', 'campaigns', "
        "'marketing_email', 'single_send', 'transactional', 'automation' or 'sequences'"
    )
    assert issues[2].message == (
        "HUBSPOT_READ_TIMEOUT is invalid: Input should be a valid number, unable to parse "
        "string as a number"
    )


def test_valid_settings_build_the_model_with_the_checked_values() -> None:
    env = {"HUBSPOT_READ_TIMEOUT": "1_0.5", "HUBSPOT_FEATURES": "crm, lists"}
    built, issues = load_settings(env)
    checked = check_settings(env)
    assert built is not None and checked.valid
    assert built.read_timeout_s == checked("read_timeout_s") == 10.5
    assert built.features == checked("features")
    assert built.app == checked.app
    assert [i.key for i in issues] == [i.key for i in checked.issues]
