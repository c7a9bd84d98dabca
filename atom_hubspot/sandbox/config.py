"""Configuration of the offline sandbox: portals, OAuth app, limits and injected faults."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from atom_hubspot.releases import RELEASES
from atom_hubspot.sandbox.clock import SystemClock

_ACTIONS = ("CREATE", "UPDATE", "DELETE", "MERGE", "RESTORE")

# The seeded demo portal (a HubSpot "hub id").
DEMO_PORTAL_ID = 1234567
DEMO_HUB_DOMAIN = "atom-demo.hubspot.sandbox"
DEMO_USER_EMAIL = "demo@atom.example"
# How far HubSpot's search index trails writes, by default: HubSpot says a few seconds.
DEFAULT_SEARCH_LAG_S = 2.0

FaultKind = Literal["5xx", "500", "502", "503", "504", "timeout", "reset", "lost_answer", "429"]


class FaultConfig(BaseModel):
    """Faults injected into API calls (not into OAuth pages or admin endpoints).

    Rates are probabilities in [0, 1] drawn from a seeded generator, so a run is repeatable.
    `script` is a queue of faults applied, in order, to the next matching calls.
    """

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(default=0.0, ge=0)
    latency_jitter_ms: float = Field(default=0.0, ge=0)
    error_rate_5xx: float = Field(default=0.0, ge=0, le=1)
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    reset_rate: float = Field(default=0.0, ge=0, le=1)
    # The write happens, then the answer is lost (a reset or a timeout reaches the client).
    lost_answer_rate: float = Field(default=0.0, ge=0, le=1)
    lost_answer_as: Literal["reset", "timeout"] = "reset"
    # Only calls whose path contains one of these substrings are affected (None = all).
    paths: list[str] | None = None
    methods: list[str] | None = None
    script: list[FaultKind] = Field(default_factory=list)
    seed: int = 0
    # Standalone server only: how long a "timeout" hangs before giving up (seconds).
    hang_s: float = Field(default=120.0, ge=0)


class PortalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    portal_id: int
    hub_domain: str | None = None
    seed: bool = False
    account_type: str = "STANDARD"
    time_zone: str = "US/Eastern"
    company_currency: str = "USD"
    data_hosting_location: str = "na1"
    ui_domain: str = "app.hubspot.com"
    # Tier gates: campaigns need Professional, single-send Enterprise, transactional the add-on.
    marketing_tier: Literal["free", "starter", "professional", "enterprise"] = "enterprise"
    transactional_addon: bool = True
    # Workflows need a Professional hub (Marketing or Sales here); sequences a Sales Hub
    # (or Service Hub) Professional seat.
    sales_tier: Literal["free", "starter", "professional", "enterprise"] = "professional"


class SandboxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    seed: bool = True
    seed_value: int = 42
    portals: list[PortalConfig] | None = None  # None: the seeded demo portal only
    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"  # noqa: S105 - a fake for the offline sandbox
    app_id: int = 424242
    app_name: str = "ATOM HubSpot integration (sandbox)"
    # The app's registered redirect URLs: the authorize page redirects to no other (as HubSpot
    # does). None accepts any http(s) URL, for tests that point it at throw-away hosts.
    redirect_uris: list[str] | None = None
    access_token_ttl_s: int = Field(default=1800, ge=1)
    auth_code_ttl_s: int = Field(default=300, ge=1)
    # Refresh tokens are not rotated by HubSpot today; turn this on to test that the
    # client stores whatever refresh token each answer carries.
    rotate_refresh_tokens: bool = False
    # Private-app tokens accepted as bearer tokens: token -> portal id.
    private_app_tokens: dict[str, int] = Field(default_factory=dict)
    # Limits. requests_per_10s None = unlimited; window_s scales the "10 s" window.
    requests_per_10s: int | None = Field(default=110, ge=1)
    # Private-app tokens have their own tier budget (100/190/250); None = requests_per_10s.
    private_app_requests_per_10s: int | None = Field(default=None, ge=1)
    window_s: float = Field(default=10.0, gt=0)
    search_per_s: int | None = Field(default=5, ge=1)
    search_window_s: float = Field(default=1.0, gt=0)
    daily_limit: int | None = Field(default=None, ge=1)
    retry_after: bool = False  # HubSpot does not promise Retry-After; opt in to send it
    # Date releases served (each route also only those its API family has); legacy paths
    # are always served.
    api_versions: list[str] = Field(default_factory=lambda: list(RELEASES))
    # Search is eventually consistent at HubSpot ("a few seconds"): search sees records as they
    # were this many seconds ago, new ones not at all (0 = at once). Tests of something else
    # set 0; `atom-host sandbox --search-lag`.
    search_lag_s: float = Field(default=DEFAULT_SEARCH_LAG_S, ge=0)
    faults: FaultConfig = Field(default_factory=FaultConfig)
    # "raise": in-process faults raise httpx transport errors (for httpx.ASGITransport);
    # "wire": a standalone server hangs or drops the connection instead.
    fault_style: Literal["raise", "wire"] = "raise"
    clock: Any = Field(default_factory=SystemClock)  # sandbox.clock.Clock
    # Webhooks: where the sandbox delivers change events (None: it only journals them), how
    # often a failed delivery is tried in all, the first retry's delay (it doubles after), and
    # the share of deliveries sent twice and out of order (at least once, unordered, as HubSpot).
    webhook_url: str | None = None
    webhook_max_attempts: int = Field(default=10, ge=1, le=50)
    webhook_retry_base_s: float = Field(default=1.0, ge=0)
    webhook_disorder: float = Field(default=0.0, ge=0, le=1)
    # The app's Webhooks Journal subscriptions, as the journal's subscriptions API lists them.
    journal_subscriptions: list[dict[str, Any]] = Field(
        default_factory=lambda: [
            {"subscriptionType": "OBJECT", "objectTypeId": t, "actions": list(_ACTIONS)}
            for t in ("0-1", "0-2", "0-3")
        ]
    )
    # Properties the sandbox accepts besides HubSpot's defaults: object type -> names.
    extra_properties: dict[str, list[str]] = Field(default_factory=dict)
