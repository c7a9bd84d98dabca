"""The offline HubSpot sandbox: a stateful stand-in for HubSpot's API (like moto or
stripe-mock), run in-process through httpx.ASGITransport or standalone over HTTP
(`atom-host sandbox`).

It is an independent implementation of HubSpot's documented behaviour and imports nothing of
`atom_hubspot.client`, so that it catches the client's mistakes instead of sharing them.

    app = create_sandbox_app(SandboxConfig(clock=ManualClock()))
    transport = httpx.ASGITransport(app=app)       # or testing.sandbox_transport(config)
    sandbox = app.state.sandbox                     # state, tokens, calls, sends

Endpoints (each under its legacy path and the date releases HubSpot has published of its API
family, `atom_hubspot.releases`: 2025-09, 2026-03, 2026-09; any other version is a 404): OAuth
authorize page (GET, POST decision), token (code, refresh), introspect (POST; legacy GET
access-tokens/{t}), revoke (POST; legacy DELETE refresh-tokens/{t}); CRM objects
contacts/companies/deals (list, get, create, update, archive, batch
read/create/update/upsert/archive, search, merge, GDPR delete); their properties (read all,
create a custom one); associations v4 (read, default link, labelled create, delete, batch
read/create/archive/associate-default); deal pipelines and stages; lists (create, search, get,
delete, memberships, add/remove/add-and-remove); campaigns (+ metrics); marketing emails (+
statistics); single-send; transactional send; account details.

Knobs (SandboxConfig, set at start): seed, seed_value, portals, client_id, client_secret,
app_id, app_name, access_token_ttl_s, auth_code_ttl_s, rotate_refresh_tokens,
private_app_tokens, requests_per_10s, private_app_requests_per_10s, window_s, search_per_s,
search_window_s, daily_limit, retry_after, api_versions, search_lag_s, faults (FaultConfig:
latency_ms, latency_jitter_ms, error_rate_5xx, timeout_rate, reset_rate, lost_answer_rate,
lost_answer_as, paths, methods, script, seed, hang_s), fault_style ("raise" in-process,
"wire" standalone), clock, extra_properties.

Admin endpoints (never rate-limited or faulted): GET /_sandbox; GET|PUT|PATCH /_sandbox/faults;
GET|PUT /_sandbox/limits, POST /_sandbox/limits/reset; PATCH /_sandbox/config; GET|DELETE
/_sandbox/sends; POST /_sandbox/email-events (an open or click: statistics and campaign
metrics follow); GET|DELETE /_sandbox/calls; POST /_sandbox/reset; GET|POST /_sandbox/portals,
PATCH /_sandbox/portals/{id}; POST /_sandbox/portals/{id}/records (many records at once, optionally
all with one modification time); POST /_sandbox/private-app-tokens; POST /_sandbox/tokens/expire;
POST /_sandbox/clock/advance.
"""

from __future__ import annotations

import importlib
from typing import Any

# Names resolve on first use (PEP 562): importing the package — e.g. for its click command or
# its config — must not import the web framework, so `atom-host` starts quickly and runs
# without the `api` extra.
_EXPORTS = {
    "ASSOCIATION_TYPES": "atom_hubspot.sandbox.state",
    "DEMO_HUB_DOMAIN": "atom_hubspot.sandbox.config",
    "DEMO_PORTAL_ID": "atom_hubspot.sandbox.config",
    "FaultConfig": "atom_hubspot.sandbox.config",
    "LimitConfig": "atom_hubspot.sandbox.limits",
    "ManualClock": "atom_hubspot.sandbox.clock",
    "PortalConfig": "atom_hubspot.sandbox.config",
    "Sandbox": "atom_hubspot.sandbox.app",
    "SandboxApp": "atom_hubspot.sandbox.app",
    "SandboxConfig": "atom_hubspot.sandbox.config",
    "SystemClock": "atom_hubspot.sandbox.clock",
    "create_sandbox_app": "atom_hubspot.sandbox.app",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'atom_hubspot.sandbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
