"""Our side of the benchmarks: settings and governor pointed at a sandbox URL."""

from __future__ import annotations

from typing import Any

from atom_hubspot.settings import HubSpotSettings


def bench_settings(base_url: str, **extra: Any) -> HubSpotSettings:
    values: dict[str, Any] = {
        "HUBSPOT_API_BASE_URL": base_url,
        "HUBSPOT_AUTHORIZE_URL": base_url + "/oauth/authorize",
        "HUBSPOT_CLIENT_ID": "sandbox-client-id",
        "HUBSPOT_CLIENT_SECRET": "sandbox-client-secret",
        # Bulk jobs through a rate-limited sandbox may wait a full window per call.
        "HUBSPOT_TOTAL_TIMEOUT": "600",
        "HUBSPOT_RETRY_MAX_SECONDS": "600",
        "HUBSPOT_READ_TIMEOUT": "60",
        **extra,
    }
    return HubSpotSettings(_env_file=None, **values)  # type: ignore[call-arg]


def make_governor(
    settings: HubSpotSettings, rate_limit: int, window_s: float, backend: Any = None
) -> Any:
    """The client's governor with the sandbox's limit and (possibly scaled) window."""
    from atom_hubspot.client.governor import RateLimitGovernor

    return RateLimitGovernor(
        requests_per_10s=rate_limit,
        search_per_s=settings.search_rate_per_second,
        window_ms=int(window_s * 1000),
        backend=backend,
    )
