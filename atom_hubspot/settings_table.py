"""The plugin's settings as a table: each variable, how its value is read, its default and its
bounds; and the environment read and checked with it, in plain Python.

Checking the configuration is part of every `atom-host` command (`plugins`, `check-config`, the
dashboard's status), and importing pydantic and pydantic-settings alone takes longer than that
whole command may. So the checks run here: every problem reported at once as a ConfigIssue
naming the variable, in the words pydantic uses for the same problem, secret values never in
them. The settings model the running plugin uses (`settings.HubSpotSettings`, pydantic) takes
its aliases, defaults, bounds and checks from this table; a test holds the two to the same
answers.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from atom_host_stub.contract import ConfigIssue, Severity
from atom_hubspot.releases import DEFAULT_RELEASE, LEGACY, RELEASES, is_known_choice

# Requests per 10 s per installed account, by app kind and tier.
# https://developers.hubspot.com/docs/guides/apps/api-usage/usage-details
RATE_LIMIT_TIERS: dict[str, int] = {
    "public-app": 110,
    "private-free": 100,
    "private-starter": 100,
    "private-professional": 190,
    "private-enterprise": 190,
    "private-api-addon": 250,
}
RATE_LIMIT_BACKENDS = ("memory", "postgres", "redis")
FEED_MODES = ("push", "pull", "polling")


class Feature(StrEnum):
    """Feature groups a deployment can enable; each needs its own OAuth scopes."""

    CRM = "crm"
    LISTS = "lists"
    CAMPAIGNS = "campaigns"
    MARKETING_EMAIL = "marketing_email"
    SINGLE_SEND = "single_send"
    TRANSACTIONAL = "transactional"
    AUTOMATION = "automation"
    SEQUENCES = "sequences"


# Scopes each feature needs. Required ones go into `scope`, the rest into `optional_scope`.
# https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/scopes
FEATURE_SCOPES: dict[Feature, tuple[str, ...]] = {
    Feature.CRM: (
        "crm.objects.contacts.read",
        "crm.objects.contacts.write",
        "crm.objects.companies.read",
        "crm.objects.companies.write",
        "crm.objects.deals.read",
        "crm.objects.deals.write",
        # Property definitions, so custom properties made in HubSpot's UI read back too.
        "crm.schemas.contacts.read",
        "crm.schemas.companies.read",
        "crm.schemas.deals.read",
    ),
    Feature.LISTS: ("crm.lists.read", "crm.lists.write"),
    Feature.CAMPAIGNS: ("marketing.campaigns.read", "marketing.campaigns.write"),
    Feature.MARKETING_EMAIL: ("content",),
    Feature.SINGLE_SEND: ("marketing-email",),
    Feature.TRANSACTIONAL: ("transactional-email",),
    # Workflows (automation v4 flows): https://developers.hubspot.com/docs/api-reference/legacy/automation/workflows/guide
    Feature.AUTOMATION: ("automation",),
    # Sequences, and the owners API that turns a sender's email into the HubSpot user id
    # sequences are read and enrolled as: https://developers.hubspot.com/docs/api-reference/latest/automation/sequences/guide.md
    Feature.SEQUENCES: (
        "automation.sequences.read",
        "automation.sequences.enrollments.write",
        "crm.objects.owners.read",
    ),
}
BASE_SCOPES: tuple[str, ...] = ("oauth",)
DEFAULT_FEATURES = (Feature.CRM, Feature.LISTS, Feature.CAMPAIGNS, Feature.MARKETING_EMAIL)

DEFAULT_API_BASE_URL = "https://api.hubapi.com"
DEFAULT_AUTHORIZE_URL = "https://app.hubspot.com/oauth/authorize"


class Environment(StrEnum):
    """Which HubSpot app the host runs as: the production app, or the QA one (installed in a
    HubSpot developer test account). Connections remember theirs and are used only in it."""

    PRODUCTION = "production"
    QA = "qa"


# --------------------------------------------------------------------------- value checks
#
# Each takes a value of the right type and gives it back (perhaps normalised) or raises
# ValueError saying what to do; the settings model runs the same ones as its validators.

_HTTP_URL = r"https?://[^/\s]+"


def check_api_version(value: str) -> str:
    if not is_known_choice(value):
        raise ValueError(
            f"use one of HubSpot's releases {', '.join(RELEASES)} (each API family then "
            f"uses its newest release not later than it), or {LEGACY} for the legacy paths"
        )
    return value


def check_tier(value: str) -> str:
    if value not in RATE_LIMIT_TIERS:
        raise ValueError(f"use one of {', '.join(RATE_LIMIT_TIERS)}")
    return value


def check_backend(value: str) -> str:
    if value not in RATE_LIMIT_BACKENDS:
        raise ValueError("use memory, postgres or redis")
    return value


def check_webhook_url(value: str) -> str:
    if not re.fullmatch(_HTTP_URL + r"\S*", value):
        raise ValueError("must be the absolute http(s) URL HubSpot calls")
    return value


def check_redirect_uri(value: str) -> str:
    if not re.fullmatch(_HTTP_URL + r"\S*", value):
        raise ValueError("must be the absolute http(s) callback URL registered with the app")
    return value


def check_url(value: str) -> str:
    # Whole: a space or a line break anywhere would reach every request line.
    if not re.fullmatch(_HTTP_URL + r"(/\S*)?", value):
        raise ValueError("must be an absolute http(s) URL")
    return value.rstrip("/")


def split_features(value: Any) -> Any:
    """HUBSPOT_FEATURES is a comma-separated list, not JSON."""
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    return value


def fold_environment(value: Any) -> Any:
    # `QA`, ` production ` are meant as the names; anything else is refused by name.
    return value.strip().lower() if isinstance(value, str) else value


# --------------------------------------------------------------------------- the table

Kind = Literal["text", "secret", "flag", "int", "float", "features", "environment", "choice"]


@dataclass
class Setting:
    """One setting: the variable it is read from and how. `text` and `secret` values are
    taken as they are (`default` None: optional); `flag`, `int` and `float` are parsed as
    pydantic parses them, within the bounds `ge`, `gt` and `le`; `choices` lists what a
    `choice` may be; `check` runs on a value of the right type (not on the default)."""

    variable: str
    kind: Kind
    default: Any = None
    ge: int | None = None
    gt: int | None = None
    le: int | None = None
    choices: tuple[str, ...] = ()
    check: Callable[[str], str] | None = None
    description: str | None = None


def _s(variable: str, kind: Kind = "text", default: Any = None, **more: Any) -> Setting:
    return Setting(variable, kind, default, **more)


# By field name of the settings model, in its order.
SETTINGS: dict[str, Setting] = {
    "client_id": _s("HUBSPOT_CLIENT_ID"),
    "client_secret": _s("HUBSPOT_CLIENT_SECRET", "secret"),
    "redirect_uri": _s(
        "HUBSPOT_REDIRECT_URI",
        check=check_redirect_uri,
        description="OAuth callback URL registered with the app; default: host URL + "
        "/auth/hubspot/callback",
    ),
    "return_url": _s(
        "HUBSPOT_RETURN_URL",
        description="Where the browser goes after connecting; default: a small 'connected' page",
    ),
    "use_pkce": _s(
        "HUBSPOT_USE_PKCE",
        "flag",
        True,
        description="Send a PKCE challenge and verifier in the OAuth flow (HubSpot accepts "
        "code_verifier at the token endpoint)",
    ),
    "features": _s("HUBSPOT_FEATURES", "features", DEFAULT_FEATURES),
    "api_version": _s("HUBSPOT_API_VERSION", "text", DEFAULT_RELEASE, check=check_api_version),
    "api_base_url": _s("HUBSPOT_API_BASE_URL", "text", DEFAULT_API_BASE_URL, check=check_url),
    "authorize_url": _s("HUBSPOT_AUTHORIZE_URL", "text", DEFAULT_AUTHORIZE_URL, check=check_url),
    "environment": _s(
        "HUBSPOT_ENVIRONMENT",
        "environment",
        Environment.PRODUCTION,
        description="Which HubSpot app is in force: production (HUBSPOT_CLIENT_ID, ...) or qa "
        "(HUBSPOT_QA_CLIENT_ID, ...); connections made in one are not used in the other",
    ),
    "qa_client_id": _s("HUBSPOT_QA_CLIENT_ID"),
    "qa_client_secret": _s("HUBSPOT_QA_CLIENT_SECRET", "secret"),
    "qa_redirect_uri": _s("HUBSPOT_QA_REDIRECT_URI", check=check_redirect_uri),
    "qa_api_base_url": _s("HUBSPOT_QA_API_BASE_URL", "text", DEFAULT_API_BASE_URL, check=check_url),
    "qa_authorize_url": _s(
        "HUBSPOT_QA_AUTHORIZE_URL", "text", DEFAULT_AUTHORIZE_URL, check=check_url
    ),
    "rate_limit_tier": _s("HUBSPOT_RATE_LIMIT_TIER", "text", "public-app", check=check_tier),
    "rate_limit_backend": _s("HUBSPOT_RATE_LIMIT_BACKEND", "text", "memory", check=check_backend),
    "redis_url": _s("HUBSPOT_REDIS_URL", "secret"),
    "search_rate_per_second": _s("HUBSPOT_SEARCH_RATE_PER_SECOND", "int", 5, ge=1),
    "connect_timeout_s": _s("HUBSPOT_CONNECT_TIMEOUT", "float", 5.0, gt=0),
    "read_timeout_s": _s("HUBSPOT_READ_TIMEOUT", "float", 30.0, gt=0),
    "total_timeout_s": _s("HUBSPOT_TOTAL_TIMEOUT", "float", 60.0, gt=0),
    "retry_max_attempts": _s("HUBSPOT_RETRY_MAX_ATTEMPTS", "int", 5, ge=1, le=20),
    "retry_max_seconds": _s("HUBSPOT_RETRY_MAX_SECONDS", "float", 60.0, gt=0),
    "token_refresh_margin_s": _s("HUBSPOT_TOKEN_REFRESH_MARGIN_SECONDS", "int", 300, ge=0),
    "encryption_keys": _s("ATOM_HUBSPOT_ENCRYPTION_KEYS", "secret"),
    "cross_tenant_database_url": _s(
        "ATOM_HUBSPOT_CROSS_TENANT_DATABASE_URL",
        "secret",
        description="PostgreSQL: the same database reached as a role WITH BYPASSRLS, for work "
        "across tenants (scheduled sends, the mirror's sync, key rotation, health counts)",
    ),
    "send_concurrency": _s("HUBSPOT_SEND_CONCURRENCY", "int", 5, ge=1, le=50),
    "scheduler_interval_s": _s("HUBSPOT_SCHEDULER_INTERVAL", "float", 5.0, gt=0),
    "analytics_cache_s": _s("HUBSPOT_ANALYTICS_CACHE_SECONDS", "float", 60.0, ge=0),
    "health_cache_s": _s("HUBSPOT_HEALTH_CACHE_SECONDS", "float", 10.0, ge=0),
    "sync_rate_share": _s("HUBSPOT_SYNC_RATE_SHARE", "float", 0.3, gt=0, le=1),
    "sync_interval_s": _s("HUBSPOT_SYNC_INTERVAL", "float", 300.0, ge=0),
    "sync_overlap_s": _s("HUBSPOT_SYNC_OVERLAP_SECONDS", "float", 120.0, ge=0),
    "sync_reconcile_s": _s("HUBSPOT_SYNC_RECONCILE_SECONDS", "float", 86_400.0, ge=0),
    "mirror_max_lag_s": _s("HUBSPOT_MIRROR_MAX_LAG_SECONDS", "float", 900.0, ge=0),
    "feed_mode": _s("HUBSPOT_FEED_MODE", "choice", "push", choices=FEED_MODES),
    "journal_poll_s": _s("HUBSPOT_JOURNAL_POLL_SECONDS", "float", 5.0, gt=0),
    "webhook_url": _s(
        "HUBSPOT_WEBHOOK_URL",
        check=check_webhook_url,
        description="The webhook target URL exactly as set in the HubSpot app (HubSpot signs "
        "it); default: the URL the request arrived on",
    ),
    "webhook_allow_v1": _s("HUBSPOT_WEBHOOK_ALLOW_V1", "flag", False),
}
VARIABLES = frozenset(s.variable for s in SETTINGS.values())


class Secret:
    """A secret value that never prints (pydantic's SecretStr, without pydantic)."""

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    def __bool__(self) -> bool:
        return bool(self._value)


# --------------------------------------------------------------------------- reading values
#
# A value from the environment is a string; these read it as pydantic's lax mode does, and
# say what pydantic says when it cannot.

# What pydantic trims around a number (Unicode's White_Space; not str.strip()'s \x1c-\x1f).
_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"  # noqa: E501
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
_INT = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*(?:\.0+)?")
NOT_AN_INT = "Input should be a valid integer, unable to parse string as an integer"
NOT_A_NUMBER = "Input should be a valid number, unable to parse string as a number"
NOT_A_FLAG = "Input should be a valid boolean, unable to interpret input"


def one_of(choices: tuple[str, ...]) -> str:
    """pydantic's words for a value not among `choices`: `Input should be 'a', 'b' or 'c'`."""
    quoted = [f"'{c}'" for c in choices]
    listed = ", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else quoted[0]
    return f"Input should be {listed}"


def _flag(raw: str) -> bool:
    low = raw.lower() if raw.isascii() else raw
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(NOT_A_FLAG)


def _int(raw: str) -> int:
    text = raw.strip(_SPACE)
    if not _INT.fullmatch(text):
        raise ValueError(NOT_AN_INT)
    return int(text.partition(".")[0].replace("_", ""))


def _float(raw: str) -> float:
    if "_" in raw:
        # Underscores only between other characters, and then no space around the number.
        if raw.startswith("_") or raw.endswith("_") or "__" in raw:
            raise ValueError(NOT_A_NUMBER)
        text = raw.replace("_", "")
    else:
        text = raw.strip(_SPACE)
    if not text.isascii() or text != text.strip():
        raise ValueError(NOT_A_NUMBER)
    try:
        return float(text)
    except ValueError:
        raise ValueError(NOT_A_NUMBER) from None


def _within(value: float, setting: Setting) -> None:
    # In pydantic's order: the upper bound first, so NaN fails it first.
    if setting.le is not None and not value <= setting.le:
        raise ValueError(f"Input should be less than or equal to {setting.le}")
    if setting.ge is not None and not value >= setting.ge:
        raise ValueError(f"Input should be greater than or equal to {setting.ge}")
    if setting.gt is not None and not value > setting.gt:
        raise ValueError(f"Input should be greater than {setting.gt}")


def read_value(setting: Setting, raw: str) -> Any:
    """`raw` read as `setting` says; ValueError carries pydantic's message for the problem."""
    value: Any
    if setting.kind == "secret":
        return Secret(raw)
    if setting.kind == "flag":
        return _flag(raw)
    if setting.kind in ("int", "float"):
        value = _int(raw) if setting.kind == "int" else _float(raw)
        _within(value, setting)
        return value
    if setting.kind == "features":
        features = []
        for part in split_features(raw):
            if part not in Feature._value2member_map_:
                raise ValueError(one_of(tuple(Feature)))
            features.append(Feature(part))
        return features
    if setting.kind == "environment":
        folded = fold_environment(raw)
        if folded not in Environment._value2member_map_:
            raise ValueError(one_of(tuple(Environment)))
        return Environment(folded)
    if setting.kind == "choice" and raw not in setting.choices:
        raise ValueError(one_of(setting.choices))
    if setting.check is not None:
        try:
            return setting.check(raw)
        except ValueError as exc:
            raise ValueError(f"Value error, {exc}") from None
    return raw


def default_value(setting: Setting) -> Any:
    return list(setting.default) if setting.kind == "features" else setting.default


# --------------------------------------------------------------------------- the whole check


@dataclass(frozen=True)
class AppCredentials:
    """The HubSpot app in force under HUBSPOT_ENVIRONMENT: what every OAuth call, webhook
    signature check and API call uses. `variable()` names the variables the values come from,
    so a message about a missing one names the variable the operator must set."""

    environment: Environment
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str | None
    api_base_url: str
    authorize_url: str
    prefix: str  # of the variables the values come from: HUBSPOT_ or HUBSPOT_QA_

    @property
    def secret(self) -> str:
        return self.client_secret

    def variable(self, name: str) -> str:
        """The variable `name` (e.g. CLIENT_ID) is read from under this environment."""
        return self.prefix + name

    @property
    def client_id_key(self) -> str:
        return self.variable("CLIENT_ID")

    @property
    def client_secret_key(self) -> str:
        return self.variable("CLIENT_SECRET")

    def callback_url(self, public_url: str, callback_path: str) -> str:
        """The OAuth callback: the configured redirect URI, else the host's own callback."""
        return self.redirect_uri or public_url.rstrip("/") + callback_path


# A setting's value by field name: the settings model's attribute, or a checked value.
Values = Callable[[str], Any]


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


def app_credentials(value: Values) -> AppCredentials:
    """The app credentials, redirect URI and URLs in force under HUBSPOT_ENVIRONMENT."""
    qa = value("environment") is Environment.QA
    of = (lambda name: value("qa_" + name)) if qa else value
    return AppCredentials(
        environment=value("environment"),
        client_id=of("client_id") or "",
        client_secret=_secret(of("client_secret")),
        redirect_uri=of("redirect_uri"),
        api_base_url=of("api_base_url"),
        authorize_url=of("authorize_url"),
        prefix="HUBSPOT_QA_" if qa else "HUBSPOT_",
    )


def parse_encryption_keys(raw: str) -> list[tuple[str, bytes]]:
    """`kid:base64key[,kid:base64key...]` → [(kid, 32-byte key)]; the first one encrypts."""
    keys: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    for n, part in enumerate(p.strip() for p in raw.split(",") if p.strip()):
        kid, sep, b64 = part.partition(":")
        if not sep or not kid or not b64:
            raise ValueError(f"entry {n + 1} is not of the form key_id:base64_key")
        if kid in seen:
            raise ValueError(f"key id {kid!r} appears twice")
        try:
            key = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
        except (binascii.Error, ValueError):
            raise ValueError(f"key {kid!r} is not valid base64") from None
        if len(key) != 32:
            raise ValueError(f"key {kid!r} is {len(key)} bytes; AES-256-GCM needs 32")
        seen.add(kid)
        keys.append((kid, key))
    if not keys:
        raise ValueError("no key given")
    return keys


@dataclass
class SettingsCheck:
    """The settings read from an environment: every issue, and each value by field name (an
    invalid one's default in its place). `valid`: no value was invalid, so the settings can
    be built (issues between valid values, such as a missing client id, may remain)."""

    values: Mapping[str, Any]
    issues: list[ConfigIssue]
    valid: bool

    def __call__(self, name: str) -> Any:
        return self.values[name]

    @property
    def app(self) -> AppCredentials:
        return app_credentials(self)


def check_settings(env: Mapping[str, str]) -> SettingsCheck:
    """Read every setting from `env` (only what it holds: no process environment, no .env)
    and list every problem at once, naming the variable; values are never echoed."""
    values: dict[str, Any] = {}
    issues: list[ConfigIssue] = []
    for name, setting in SETTINGS.items():
        raw = env.get(setting.variable)
        if raw is None:
            values[name] = default_value(setting)
            continue
        try:
            values[name] = read_value(setting, raw)
        except ValueError as exc:
            key = setting.variable
            values[name] = default_value(setting)
            issues.append(
                ConfigIssue(
                    key=key,
                    severity=Severity.ERROR,
                    message=f"{key} is invalid: {exc}",
                    hint=f"Fix {key} in the environment or .env (see README, configuration).",
                )
            )
    valid = not issues
    checked = SettingsCheck(values, issues, valid)
    issues += consistency_issues(checked)
    return checked


def consistency_issues(value: Values) -> list[ConfigIssue]:
    """Problems between values that are each valid on their own."""
    issues: list[ConfigIssue] = app_issues(value)
    keys = value("encryption_keys")
    if keys is None:
        issues.append(
            ConfigIssue(
                key="ATOM_HUBSPOT_ENCRYPTION_KEYS",
                message="ATOM_HUBSPOT_ENCRYPTION_KEYS is not set: tokens cannot be stored",
                hint="Generate one with `atom-host hubspot generate-key` and set "
                "ATOM_HUBSPOT_ENCRYPTION_KEYS=<key_id>:<base64 key>.",
            )
        )
    else:
        try:
            parse_encryption_keys(keys.get_secret_value())
        except ValueError as exc:
            issues.append(
                ConfigIssue(
                    key="ATOM_HUBSPOT_ENCRYPTION_KEYS",
                    message=f"ATOM_HUBSPOT_ENCRYPTION_KEYS is invalid: {exc}",
                    hint="Use key_id:base64 of 32 random bytes; `atom-host hubspot "
                    "generate-key` prints one.",
                )
            )
    if value("rate_limit_backend") == "redis" and not value("redis_url"):
        issues.append(
            ConfigIssue(
                key="HUBSPOT_REDIS_URL",
                message="HUBSPOT_RATE_LIMIT_BACKEND=redis but HUBSPOT_REDIS_URL is not set",
                hint="Set HUBSPOT_REDIS_URL=redis://host:6379/0, or use the memory backend.",
            )
        )
    if value("read_timeout_s") > value("total_timeout_s"):
        issues.append(
            ConfigIssue(
                key="HUBSPOT_READ_TIMEOUT",
                message="HUBSPOT_READ_TIMEOUT is longer than HUBSPOT_TOTAL_TIMEOUT",
                hint="Make the read timeout at most the total timeout.",
            )
        )
    return issues


def app_issues(value: Values) -> list[ConfigIssue]:
    """The app credentials of the environment in force; the other environment's are not
    needed (a production host runs without QA credentials and the other way round)."""
    app = app_credentials(value)
    qa = app.environment is Environment.QA
    which = (
        "your QA HubSpot app's (the app installed in your test account)"
        if qa
        else "your HubSpot app's"
    )
    during = " (HUBSPOT_ENVIRONMENT=qa)" if qa else ""
    issues: list[ConfigIssue] = []
    if not app.client_id:
        issues.append(
            ConfigIssue(
                key=app.client_id_key,
                message=f"{app.client_id_key} is not set{during}: users cannot connect HubSpot "
                "accounts",
                hint=f"Copy the client id from {which} Auth page"
                + (
                    ", or set HUBSPOT_ENVIRONMENT=production."
                    if qa
                    else " (or run `atom-host serve --demo` to use the offline sandbox)."
                ),
            )
        )
    if not app.secret:
        issues.append(
            ConfigIssue(
                key=app.client_secret_key,
                message=f"{app.client_secret_key} is not set{during}: codes cannot be exchanged "
                "for tokens",
                hint=f"Copy the client secret from {which} Auth page.",
            )
        )
    if qa and app.client_id and app.client_id == value("client_id"):
        issues.append(
            ConfigIssue(
                key="HUBSPOT_QA_CLIENT_ID",
                severity=Severity.WARNING,
                message="HUBSPOT_QA_CLIENT_ID is the production app's client id "
                "(HUBSPOT_CLIENT_ID): QA would act as the production app",
                hint="Create a separate HubSpot app for QA and use its client id and secret.",
            )
        )
    return issues
