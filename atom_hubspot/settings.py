"""The plugin's settings: environment (and `.env`) validated into one object.

Every key here is listed in plugin.toml with the same name, default and secrecy (a test keeps
the two equal). Problems are reported all at once as ConfigIssues naming the variable; secret
values never appear in them.

One module on purpose: one settings model, described field by field; the README's table,
`.env.hubspot.template` and plugin.toml are checked against it, and the cross-field rules
(environments, features, keys) read every field.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.exceptions import SettingsError

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

DEFAULT_API_BASE_URL = "https://api.hubapi.com"
DEFAULT_AUTHORIZE_URL = "https://app.hubspot.com/oauth/authorize"


class Environment(StrEnum):
    """Which HubSpot app the host runs as: the production app, or the QA one (installed in a
    HubSpot developer test account). Connections remember theirs and are used only in it."""

    PRODUCTION = "production"
    QA = "qa"


@dataclass(frozen=True)
class AppCredentials:
    """The HubSpot app in force under HUBSPOT_ENVIRONMENT: what every OAuth call, webhook
    signature check and API call uses. `variable()` names the variables the values come from,
    so a message about a missing one names the variable the operator must set."""

    environment: Environment
    client_id: str
    client_secret: SecretStr
    redirect_uri: str | None
    api_base_url: str
    authorize_url: str
    prefix: str  # of the variables the values come from: HUBSPOT_ or HUBSPOT_QA_

    @property
    def secret(self) -> str:
        return self.client_secret.get_secret_value()

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


class HubSpotSettings(BaseSettings):
    """All HubSpot plugin settings. Field aliases are the environment variable names."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, case_sensitive=True
    )

    client_id: str | None = Field(default=None, alias="HUBSPOT_CLIENT_ID")
    client_secret: SecretStr | None = Field(default=None, alias="HUBSPOT_CLIENT_SECRET")
    redirect_uri: str | None = Field(
        default=None,
        alias="HUBSPOT_REDIRECT_URI",
        description="OAuth callback URL registered with the app; default: host URL + "
        "/auth/hubspot/callback",
    )
    return_url: str | None = Field(
        default=None,
        alias="HUBSPOT_RETURN_URL",
        description="Where the browser goes after connecting; default: a small 'connected' page",
    )
    use_pkce: bool = Field(
        default=True,
        alias="HUBSPOT_USE_PKCE",
        description="Send a PKCE challenge and verifier in the OAuth flow (HubSpot accepts "
        "code_verifier at the token endpoint)",
    )
    # NoDecode: the environment gives a comma-separated list, not JSON (pydantic-settings
    # would otherwise JSON-decode a list field read from the environment and fail).
    features: Annotated[list[Feature], NoDecode] = Field(
        default_factory=lambda: [
            Feature.CRM,
            Feature.LISTS,
            Feature.CAMPAIGNS,
            Feature.MARKETING_EMAIL,
        ],
        alias="HUBSPOT_FEATURES",
    )
    api_version: str = Field(default=DEFAULT_RELEASE, alias="HUBSPOT_API_VERSION")
    api_base_url: str = Field(default=DEFAULT_API_BASE_URL, alias="HUBSPOT_API_BASE_URL")
    authorize_url: str = Field(default=DEFAULT_AUTHORIZE_URL, alias="HUBSPOT_AUTHORIZE_URL")
    environment: Environment = Field(
        default=Environment.PRODUCTION,
        alias="HUBSPOT_ENVIRONMENT",
        description="Which HubSpot app is in force: production (HUBSPOT_CLIENT_ID, ...) or qa "
        "(HUBSPOT_QA_CLIENT_ID, ...); connections made in one are not used in the other",
    )
    qa_client_id: str | None = Field(default=None, alias="HUBSPOT_QA_CLIENT_ID")
    qa_client_secret: SecretStr | None = Field(default=None, alias="HUBSPOT_QA_CLIENT_SECRET")
    qa_redirect_uri: str | None = Field(default=None, alias="HUBSPOT_QA_REDIRECT_URI")
    qa_api_base_url: str = Field(default=DEFAULT_API_BASE_URL, alias="HUBSPOT_QA_API_BASE_URL")
    qa_authorize_url: str = Field(default=DEFAULT_AUTHORIZE_URL, alias="HUBSPOT_QA_AUTHORIZE_URL")
    rate_limit_tier: str = Field(default="public-app", alias="HUBSPOT_RATE_LIMIT_TIER")
    rate_limit_backend: str = Field(default="memory", alias="HUBSPOT_RATE_LIMIT_BACKEND")
    redis_url: SecretStr | None = Field(default=None, alias="HUBSPOT_REDIS_URL")
    search_rate_per_second: int = Field(default=5, alias="HUBSPOT_SEARCH_RATE_PER_SECOND", ge=1)
    connect_timeout_s: float = Field(default=5.0, alias="HUBSPOT_CONNECT_TIMEOUT", gt=0)
    read_timeout_s: float = Field(default=30.0, alias="HUBSPOT_READ_TIMEOUT", gt=0)
    total_timeout_s: float = Field(default=60.0, alias="HUBSPOT_TOTAL_TIMEOUT", gt=0)
    retry_max_attempts: int = Field(default=5, alias="HUBSPOT_RETRY_MAX_ATTEMPTS", ge=1, le=20)
    retry_max_seconds: float = Field(default=60.0, alias="HUBSPOT_RETRY_MAX_SECONDS", gt=0)
    token_refresh_margin_s: int = Field(
        default=300, alias="HUBSPOT_TOKEN_REFRESH_MARGIN_SECONDS", ge=0
    )
    encryption_keys: SecretStr | None = Field(default=None, alias="ATOM_HUBSPOT_ENCRYPTION_KEYS")
    cross_tenant_database_url: SecretStr | None = Field(
        default=None,
        alias="ATOM_HUBSPOT_CROSS_TENANT_DATABASE_URL",
        description="PostgreSQL: the same database reached as a role WITH BYPASSRLS, for work "
        "across tenants (scheduled sends, the mirror's sync, key rotation, health counts)",
    )
    send_concurrency: int = Field(default=5, alias="HUBSPOT_SEND_CONCURRENCY", ge=1, le=50)
    scheduler_interval_s: float = Field(default=5.0, alias="HUBSPOT_SCHEDULER_INTERVAL", gt=0)
    analytics_cache_s: float = Field(default=60.0, alias="HUBSPOT_ANALYTICS_CACHE_SECONDS", ge=0)
    health_cache_s: float = Field(default=10.0, alias="HUBSPOT_HEALTH_CACHE_SECONDS", ge=0)
    sync_rate_share: float = Field(default=0.3, alias="HUBSPOT_SYNC_RATE_SHARE", gt=0, le=1)
    sync_interval_s: float = Field(default=300.0, alias="HUBSPOT_SYNC_INTERVAL", ge=0)
    sync_overlap_s: float = Field(default=120.0, alias="HUBSPOT_SYNC_OVERLAP_SECONDS", ge=0)
    sync_reconcile_s: float = Field(default=86_400.0, alias="HUBSPOT_SYNC_RECONCILE_SECONDS", ge=0)
    mirror_max_lag_s: float = Field(default=900.0, alias="HUBSPOT_MIRROR_MAX_LAG_SECONDS", ge=0)
    feed_mode: Literal["push", "pull", "polling"] = Field(default="push", alias="HUBSPOT_FEED_MODE")
    journal_poll_s: float = Field(default=5.0, alias="HUBSPOT_JOURNAL_POLL_SECONDS", gt=0)
    webhook_url: str | None = Field(
        default=None,
        alias="HUBSPOT_WEBHOOK_URL",
        description="The webhook target URL exactly as set in the HubSpot app (HubSpot signs "
        "it); default: the URL the request arrived on",
    )
    webhook_allow_v1: bool = Field(default=False, alias="HUBSPOT_WEBHOOK_ALLOW_V1")

    @field_validator("features", mode="before")
    @classmethod
    def _split_features(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [p.strip() for p in v.split(",") if p.strip()]
        return v

    @field_validator("environment", mode="before")
    @classmethod
    def _fold_environment(cls, v: Any) -> Any:
        # `QA`, ` production ` are meant as the names; anything else is refused by name.
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("api_version")
    @classmethod
    def _check_version(cls, v: str) -> str:
        if not is_known_choice(v):
            raise ValueError(
                f"use one of HubSpot's releases {', '.join(RELEASES)} (each API family then "
                f"uses its newest release not later than it), or {LEGACY} for the legacy paths"
            )
        return v

    @field_validator("rate_limit_tier")
    @classmethod
    def _check_tier(cls, v: str) -> str:
        if v not in RATE_LIMIT_TIERS:
            raise ValueError(f"use one of {', '.join(RATE_LIMIT_TIERS)}")
        return v

    @field_validator("rate_limit_backend")
    @classmethod
    def _check_backend(cls, v: str) -> str:
        if v not in ("memory", "postgres", "redis"):
            raise ValueError("use memory, postgres or redis")
        return v

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"https?://[^/\s]+\S*", v):
            raise ValueError("must be the absolute http(s) URL HubSpot calls")
        return v

    @field_validator("redirect_uri", "qa_redirect_uri")
    @classmethod
    def _check_redirect_uri(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"https?://[^/\s]+\S*", v):
            raise ValueError("must be the absolute http(s) callback URL registered with the app")
        return v

    @field_validator("api_base_url", "authorize_url", "qa_api_base_url", "qa_authorize_url")
    @classmethod
    def _check_url(cls, v: str) -> str:
        # Whole: a space or a line break anywhere would reach every request line.
        if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", v):
            raise ValueError("must be an absolute http(s) URL")
        return v.rstrip("/")

    # ------------------------------------------------------------------ derived

    @property
    def app(self) -> AppCredentials:
        """The app credentials, redirect URI and URLs in force under HUBSPOT_ENVIRONMENT: the
        one place the rest of the plugin reads them from."""
        qa = self.environment is Environment.QA
        prefix = "HUBSPOT_QA_" if qa else "HUBSPOT_"
        return AppCredentials(
            environment=self.environment,
            client_id=(self.qa_client_id if qa else self.client_id) or "",
            client_secret=(self.qa_client_secret if qa else self.client_secret) or SecretStr(""),
            redirect_uri=self.qa_redirect_uri if qa else self.redirect_uri,
            api_base_url=self.qa_api_base_url if qa else self.api_base_url,
            authorize_url=self.qa_authorize_url if qa else self.authorize_url,
            prefix=prefix,
        )

    @property
    def requests_per_10s(self) -> int:
        return RATE_LIMIT_TIERS[self.rate_limit_tier]

    @property
    def scopes(self) -> list[str]:
        """Scopes asked for as `scope` (required by the enabled features)."""
        out = list(BASE_SCOPES)
        for f in self.features:
            out += [s for s in FEATURE_SCOPES[f] if s not in out]
        return out

    @property
    def optional_scope_names(self) -> list[str]:
        """Scopes of the features not enabled, asked for as `optional_scope`."""
        req = set(self.scopes)
        out: list[str] = []
        for f in Feature:
            if f not in self.features:
                out += [s for s in FEATURE_SCOPES[f] if s not in req and s not in out]
        return out

    def key_ring(self) -> list[tuple[str, bytes]]:
        if self.encryption_keys is None:
            raise ValueError("ATOM_HUBSPOT_ENCRYPTION_KEYS is not set")
        return parse_encryption_keys(self.encryption_keys.get_secret_value())


def _alias_of(field_name: str) -> str:
    f = HubSpotSettings.model_fields.get(field_name)
    return (f.alias if f and f.alias else field_name) if f else field_name


class _GivenSettings(HubSpotSettings):
    """The settings from the values handed in only: no process environment, no .env (the
    host hands the plugin its environment; reading another one could hide or invent values)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def load_settings(env: Mapping[str, str]) -> tuple[HubSpotSettings | None, list[ConfigIssue]]:
    """Build the settings from `env` and list every problem at once (values never echoed)."""
    known = {f.alias for f in HubSpotSettings.model_fields.values() if f.alias}
    data: dict[str, Any] = {k: v for k, v in env.items() if k in known}
    issues: list[ConfigIssue] = []
    settings: HubSpotSettings | None = None
    # Every invalid value is reported, and the checks below still run on the rest: a bad
    # value is left out and validation repeats, so one mistake never hides another.
    for _ in range(len(known) + 1):
        try:
            settings = _GivenSettings(**data)
            break
        except SettingsError as exc:  # a source that cannot be read at all
            issues.append(
                ConfigIssue(
                    key="(environment)",
                    severity=Severity.ERROR,
                    message=f"The HubSpot settings cannot be read: {exc}",
                    hint="Check the HUBSPOT_* variables in the environment and .env.",
                )
            )
            return None, issues
        except ValidationError as exc:
            bad: set[str] = set()
            for err in exc.errors(include_input=False, include_url=False):
                loc = err.get("loc") or ("?",)
                key = str(loc[0])
                key = key if key in known else _alias_of(key)
                if key in bad:
                    continue
                bad.add(key)
                issues.append(
                    ConfigIssue(
                        key=key,
                        severity=Severity.ERROR,
                        message=f"{key} is invalid: {err.get('msg', 'bad value')}",
                        hint=f"Fix {key} in the environment or .env (see README, configuration).",
                    )
                )
            if not bad & set(data):
                return None, issues
            data = {k: v for k, v in data.items() if k not in bad}
    if settings is None:
        return None, issues
    invalid = bool(issues)
    issues += _consistency_issues(settings)
    return (None if invalid else settings), issues


def _consistency_issues(settings: HubSpotSettings) -> list[ConfigIssue]:
    """Problems between values that are each valid on their own."""
    issues: list[ConfigIssue] = _app_issues(settings)
    if settings.encryption_keys is None:
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
            settings.key_ring()
        except ValueError as exc:
            issues.append(
                ConfigIssue(
                    key="ATOM_HUBSPOT_ENCRYPTION_KEYS",
                    message=f"ATOM_HUBSPOT_ENCRYPTION_KEYS is invalid: {exc}",
                    hint="Use key_id:base64 of 32 random bytes; `atom-host hubspot "
                    "generate-key` prints one.",
                )
            )
    if settings.rate_limit_backend == "redis" and not settings.redis_url:
        issues.append(
            ConfigIssue(
                key="HUBSPOT_REDIS_URL",
                message="HUBSPOT_RATE_LIMIT_BACKEND=redis but HUBSPOT_REDIS_URL is not set",
                hint="Set HUBSPOT_REDIS_URL=redis://host:6379/0, or use the memory backend.",
            )
        )
    if settings.read_timeout_s > settings.total_timeout_s:
        issues.append(
            ConfigIssue(
                key="HUBSPOT_READ_TIMEOUT",
                message="HUBSPOT_READ_TIMEOUT is longer than HUBSPOT_TOTAL_TIMEOUT",
                hint="Make the read timeout at most the total timeout.",
            )
        )
    return issues


def _app_issues(settings: HubSpotSettings) -> list[ConfigIssue]:
    """The app credentials of the environment in force; the other environment's are not
    needed (a production host runs without QA credentials and the other way round)."""
    app = settings.app
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
    if qa and app.client_id and app.client_id == settings.client_id:
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
