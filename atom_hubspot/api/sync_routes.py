"""`GET /api/hubspot/sync`: the state of the mirror of each of the caller's portals."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from atom_host_stub.contract import HostContext, Principal
from atom_hubspot.api.deps import PortalQuery, principal_dependency, runtime_of
from atom_hubspot.api.envelope import Envelope, envelope_router
from atom_hubspot.service.mirror import PortalSyncStatus
from atom_hubspot.service.sync_status import mirror_status


class SyncStatus(BaseModel):
    portals: list[PortalSyncStatus]


def build_router(context: HostContext) -> APIRouter:
    """The sync status route; mount under the prefix `/api/hubspot`."""
    router = envelope_router()
    principal_dep = principal_dependency(context)

    @router.get(
        "/sync",
        response_model=Envelope[SyncStatus],
        operation_id="hubspot_sync_status",
        summary="The mirror's sync state per object type for your portals",
        tags=["HubSpot"],
    )
    async def sync_status(
        principal: Annotated[Principal, Depends(principal_dep)],
        portal_id: PortalQuery = None,
    ) -> dict[str, Any]:
        portals = await mirror_status(runtime_of(context), principal, portal_id)
        data = SyncStatus(portals=portals)
        return {"ok": True, "data": data, "meta": {}}

    return router
