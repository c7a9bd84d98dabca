"""The plugin's settings: environment (and `.env`) validated into one object.

Every key here is listed in plugin.toml with the same name, default and secrecy (a test keeps
the two equal). Problems are reported all at once as ConfigIssues naming the variable; secret
values never appear in them.

The settings are described once, field by field, in `settings_table.SETTINGS` (variable,
default, bounds, checks), which also reads and checks an environment without pydantic: that is
what `atom-host plugins` and `check-config` run. `HubSpotSettings` is the pydantic model the
running plugin uses, its fields built from that table; the README's table,
`.env.hubspot.template` and plugin.toml are checked against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from atom_host_stub.contract import ConfigIssue
from atom_hubspot.settings_table import (
    BASE_SCOPES,
    DEFAULT_API_BASE_URL,
    DEFAULT_AUTHORIZE_URL,
    FEATURE_SCOPES,
    RATE_LIMIT_TIERS,
    SETTINGS,
    VARIABLES,
    AppCredentials,
    Environment,
    Feature,
    app_credentials,
    check_settings,
    default_value,
    fold_environment,
    parse_encryption_keys,
    split_features,
)

__all__ = [
    "BASE_SCOPES",
    "DEFAULT_API_BASE_URL",
    "DEFAULT_AUTHORIZE_URL",
    "FEATURE_SCOPES",
    "RATE_LIMIT_TIERS",
    "AppCredentials",
    "Environment",
    "Feature",
    "HubSpotSettings",
    "load_settings",
    "parse_encryption_keys",
]


def _field(name: str) -> Any:
    """The pydantic field of setting `name`: its variable as alias, default, bounds and
    description, from the table."""
    setting = SETTINGS[name]
    args: dict[str, Any] = {"alias": setting.variable}
    if setting.kind == "features":
        args["default_factory"] = lambda: default_value(setting)
    else:
        args["default"] = setting.default
    args.update(
        {
            bound: getattr(setting, bound)
            for bound in ("ge", "gt", "le")
            if getattr(setting, bound) is not None
        }
    )
    if setting.description:
        args["description"] = setting.description
    return Field(**args)


_CHECKED = tuple(name for name, setting in SETTINGS.items() if setting.check is not None)


class HubSpotSettings(BaseSettings):
    """All HubSpot plugin settings. Field aliases are the environment variable names."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, case_sensitive=True
    )

    client_id: str | None = _field("client_id")
    client_secret: SecretStr | None = _field("client_secret")
    redirect_uri: str | None = _field("redirect_uri")
    return_url: str | None = _field("return_url")
    use_pkce: bool = _field("use_pkce")
    # NoDecode: the environment gives a comma-separated list, not JSON (pydantic-settings
    # would otherwise JSON-decode a list field read from the environment and fail).
    features: Annotated[list[Feature], NoDecode] = _field("features")
    api_version: str = _field("api_version")
    api_base_url: str = _field("api_base_url")
    authorize_url: str = _field("authorize_url")
    environment: Environment = _field("environment")
    qa_client_id: str | None = _field("qa_client_id")
    qa_client_secret: SecretStr | None = _field("qa_client_secret")
    qa_redirect_uri: str | None = _field("qa_redirect_uri")
    qa_api_base_url: str = _field("qa_api_base_url")
    qa_authorize_url: str = _field("qa_authorize_url")
    rate_limit_tier: str = _field("rate_limit_tier")
    rate_limit_backend: str = _field("rate_limit_backend")
    redis_url: SecretStr | None = _field("redis_url")
    search_rate_per_second: int = _field("search_rate_per_second")
    connect_timeout_s: float = _field("connect_timeout_s")
    read_timeout_s: float = _field("read_timeout_s")
    total_timeout_s: float = _field("total_timeout_s")
    retry_max_attempts: int = _field("retry_max_attempts")
    retry_max_seconds: float = _field("retry_max_seconds")
    token_refresh_margin_s: int = _field("token_refresh_margin_s")
    encryption_keys: SecretStr | None = _field("encryption_keys")
    cross_tenant_database_url: SecretStr | None = _field("cross_tenant_database_url")
    send_concurrency: int = _field("send_concurrency")
    scheduler_interval_s: float = _field("scheduler_interval_s")
    analytics_cache_s: float = _field("analytics_cache_s")
    health_cache_s: float = _field("health_cache_s")
    sync_rate_share: float = _field("sync_rate_share")
    sync_interval_s: float = _field("sync_interval_s")
    sync_overlap_s: float = _field("sync_overlap_s")
    sync_reconcile_s: float = _field("sync_reconcile_s")
    mirror_max_lag_s: float = _field("mirror_max_lag_s")
    feed_mode: Literal["push", "pull", "polling"] = _field("feed_mode")
    journal_poll_s: float = _field("journal_poll_s")
    webhook_url: str | None = _field("webhook_url")
    webhook_allow_v1: bool = _field("webhook_allow_v1")

    @field_validator("features", mode="before")
    @classmethod
    def _split_features(cls, v: Any) -> Any:
        return split_features(v)

    @field_validator("environment", mode="before")
    @classmethod
    def _fold_environment(cls, v: Any) -> Any:
        return fold_environment(v)

    @field_validator(*_CHECKED)
    @classmethod
    def _check(cls, v: str | None, info: ValidationInfo) -> str | None:
        check = SETTINGS[str(info.field_name)].check
        return v if v is None or check is None else check(v)

    # ------------------------------------------------------------------ derived

    def _value(self, name: str) -> Any:
        return getattr(self, name)

    @property
    def app(self) -> AppCredentials:
        """The app credentials, redirect URI and URLs in force under HUBSPOT_ENVIRONMENT: the
        one place the rest of the plugin reads them from."""
        return app_credentials(self._value)

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
    """Build the settings from `env` and list every problem at once (values never echoed):
    `settings_table.check_settings` finds the problems; the settings are None when a value is
    invalid, and built (whatever issues between values remain) otherwise."""
    checked = check_settings(env)
    if not checked.valid:
        return None, checked.issues
    given: dict[str, Any] = {key: value for key, value in env.items() if key in VARIABLES}
    return _GivenSettings(**given), checked.issues
