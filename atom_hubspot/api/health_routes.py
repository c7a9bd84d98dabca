"""`GET /api/hubspot/health`: a bounded active check of the caller's own HubSpot connection.

HubSpot has no health endpoint, so the check is one cheap authenticated call (account
details). A missing or dead connection answers 401 like every other route; HubSpot being slow
or failing answers 200 with `status` down or degraded, so a dashboard can show it.
"""

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from atom_host_stub.contract import HostContext, Principal
from atom_hubspot.api.deps import PortalQuery, principal_dependency, runtime_of
from atom_hubspot.api.envelope import Envelope, envelope_router
from atom_hubspot.errors import (
    HubSpotError,
    MissingScopes,
    NotConnected,
    RateLimited,
    ReconnectRequired,
    TierRequired,
)

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


def build_router(context: HostContext) -> APIRouter:
    """The health route; mount under the prefix `/api/hubspot`."""
    router = envelope_router()
    principal_dep = principal_dependency(context)

    @router.get(
        "/health",
        response_model=Envelope[ConnectionHealth],
        operation_id="hubspot_health",
        summary="Check your HubSpot connection now (bounded to a few seconds)",
        tags=["HubSpot"],
    )
    async def health(
        principal: Annotated[Principal, Depends(principal_dep)],
        portal_id: PortalQuery = None,
    ) -> dict[str, Any]:
        runtime = runtime_of(context)
        client, conn = await runtime.connections.client_for(principal, portal_id)
        started = time.monotonic()
        status: Literal["ok", "degraded", "down"] = "ok"
        code: str | None = None
        account_type: str | None = None
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                details = await client.account.details()
            account_type = getattr(details, "account_type", None)
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
        data = ConnectionHealth(
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
        return {"ok": True, "data": data, "meta": {"portal_id": conn.portal_id}}

    return router
