"""HubSpot's official SDK (`hubspot-api-client`), configured the way its README documents.

The SDK is synchronous (urllib3) and reaches the sandbox over real HTTP. Its README shows two
retry set-ups, both urllib3 `Retry` objects:
  "internal error retry":  Retry(total=3, backoff_factor=0.3, status_forcelist=(500, 502, 504))
  "rate limit retry":      Retry(total=5, status_forcelist=(429,))
urllib3's Retry only repeats its default allowed methods (GET, PUT, DELETE, HEAD, OPTIONS,
TRACE), so a POST (batch upsert, search) that gets a 429 or 5xx is handed to the caller as an
ApiException. We use the documented objects unchanged and count what reaches the caller.
"""

from __future__ import annotations

from typing import Any

from urllib3.util.retry import Retry


def documented_retry(kind: str = "rate-limit") -> Retry:
    if kind == "rate-limit":
        return Retry(total=5, status_forcelist=(429,))
    if kind == "internal-error":
        return Retry(total=3, backoff_factor=0.3, status_forcelist=(500, 502, 504))
    if kind == "both":
        return Retry(total=5, backoff_factor=0.3, status_forcelist=(429, 500, 502, 504))
    raise ValueError(kind)


def sdk_client(base_url: str, token: str, *, retry: str | None = "both") -> Any:
    """A `hubspot.HubSpot` pointed at `base_url` (the SDK's Configuration has a `host` field)."""
    from hubspot import HubSpot

    return HubSpot(
        access_token=token,
        retry=documented_retry(retry) if retry else None,
        host=base_url.rstrip("/"),
    )


def sdk_upsert_inputs(rows: list[dict[str, str]]) -> Any:
    from hubspot.crm.contacts import (
        BatchInputSimplePublicObjectBatchInputUpsert,
        SimplePublicObjectBatchInputUpsert,
    )

    return BatchInputSimplePublicObjectBatchInputUpsert(
        inputs=[
            SimplePublicObjectBatchInputUpsert(id=r["email"], id_property="email", properties=r)
            for r in rows
        ]
    )


def is_rate_limited(exc: BaseException) -> bool:
    return getattr(exc, "status", None) == 429
