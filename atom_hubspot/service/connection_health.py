"""A bounded active check of one HubSpot connection.

HubSpot has no health endpoint, so the check is one cheap authenticated call (account
details). A missing or dead connection raises like every other call; HubSpot being slow or
failing is an answer with `status` down or degraded, so a dashboard can show it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from atom_hubspot.client import HubSpotClient
from atom_hubspot.errors import (
    HubSpotError,
    MissingScopes,
    NotConnected,
    RateLimited,
    ReconnectRequired,
    TierRequired,
)
from atom_hubspot.oauth.connections import ConnectionInfo

CHECK_TIMEOUT_S = 5.0


class ConnectionHealth(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ok",
                    "message": "HubSpot answered in 84 ms",
                    "portal_id": 1234567,
                    "hub_domain": "example.hubspot.com",
                    "auth_kind": "oauth",
                    "latency_ms": 84.2,
                    "checked_at": "2026-11-25T12:00:00Z",
                    "account_type": "STANDARD",
                    "error_code": None,
                }
            ]
        }
    )

    status: Literal["ok", "degraded", "down"]
    message: str
    portal_id: int
    hub_domain: str | None = None
    auth_kind: str | None = None
    latency_ms: float | None = Field(default=None, description="Duration of the HubSpot call")
    checked_at: datetime
    account_type: str | None = None
    error_code: str | None = Field(default=None, description="The failure's stable code, if any")


async def check_connection(client: HubSpotClient, conn: ConnectionInfo) -> ConnectionHealth:
    """One account-details call, bounded by CHECK_TIMEOUT_S; NotConnected/ReconnectRequired
    raise (the caller must connect), every other failure is reported."""
    started = time.monotonic()
    status: Literal["ok", "degraded", "down"] = "ok"
    code: str | None = None
    account_type: str | None = None
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            details = await client.account.details()
        account_type = details.account_type
        message = "HubSpot answered"
    except (NotConnected, ReconnectRequired):
        raise
    except TimeoutError:
        status, code = "down", "timeout"
        message = f"HubSpot did not answer within {CHECK_TIMEOUT_S:g} s"
    except (MissingScopes, TierRequired, RateLimited) as exc:
        status, code, message = "degraded", exc.code, exc.message
    except HubSpotError as exc:
        status, code, message = "down", exc.code, exc.message
    latency = round((time.monotonic() - started) * 1000, 1)
    if status == "ok":
        message = f"{message} in {latency:g} ms"
    return ConnectionHealth(
        status=status,
        message=message,
        portal_id=conn.portal_id,
        hub_domain=conn.hub_domain,
        auth_kind=conn.auth_kind,
        latency_ms=latency,
        checked_at=datetime.now(UTC),
        account_type=account_type,
        error_code=code,
    )
