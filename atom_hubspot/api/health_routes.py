"""`GET /api/hubspot/health`: a bounded active check of the caller's own HubSpot connection
(`service.connection_health`). A missing or dead connection answers 401 like every other
route; HubSpot being slow or failing answers 200 with `status` down or degraded.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from atom_host_stub.contract import HostContext, Principal
from atom_hubspot.api.deps import PortalQuery, principal_dependency
from atom_hubspot.api.envelope import Envelope, envelope_router, ok
from atom_hubspot.runtime import runtime_of
from atom_hubspot.service.connection_health import ConnectionHealth, check_connection


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
        services = await runtime_of(context).services_for(principal, portal_id)
        data = await check_connection(services.client, services.connection)
        return ok(data, portal_id=services.connection.portal_id)

    return router
