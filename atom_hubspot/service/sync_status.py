"""The state of the mirror of each of a principal's portals: per object type, and the feed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from atom_hubspot.service.mirror import FeedStatusModel, PortalSyncStatus, portal_status

if TYPE_CHECKING:
    from atom_host_stub.contract import Principal
    from atom_hubspot.runtime import HubSpotRuntime


async def mirror_status(
    runtime: HubSpotRuntime, principal: Principal, portal_id: int | None = None
) -> list[PortalSyncStatus]:
    """`portal_id` (when given, it must be the principal's) or every portal they connected."""
    if portal_id is not None:
        portals = [(await runtime.connections.resolve(principal, portal_id)).portal_id]
    else:
        portals = sorted({c.portal_id for c in await runtime.connections.list(principal)})
    assert runtime.mirror is not None
    feeds = await runtime.feed.status(portals) if runtime.feed is not None else {}
    out: list[PortalSyncStatus] = []
    for p in portals:
        status = await portal_status(
            runtime.mirror, p, runtime.settings.mirror_max_lag_s, tenant_id=principal.tenant_id
        )
        if p in feeds:
            feed = FeedStatusModel.model_validate(feeds[p], from_attributes=True)
            status = status.model_copy(update={"feed": feed})
        out.append(status)
    return out
