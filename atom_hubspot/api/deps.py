"""Dependencies every plugin route shares: who is calling, and with which HubSpot connection.

The principal always comes from the host's dependency (never from a query or a body); the only
caller choice is `portal_id`, among the caller's own connected portals.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Depends, Query

from atom_host_stub.contract import HostContext, Principal
from atom_hubspot.api.envelope import ok
from atom_hubspot.runtime import HubSpotRuntime, PortalServices
from atom_hubspot.runtime import runtime_of as runtime_of  # routes take it from here too
from atom_hubspot.service.mirror import Sourced, now_utc

if TYPE_CHECKING:
    from atom_hubspot.client import HubSpotClient
    from atom_hubspot.oauth.connections import ConnectionInfo

AfterQuery = Annotated[
    str | None,
    Query(
        max_length=256,
        pattern=r"^[A-Za-z0-9_\-=]+$",
        description="Cursor from the previous page's `next_after`",
    ),
]
PortalQuery = Annotated[
    int | None,
    Query(
        ge=1,
        le=2**53,
        description="Which of your connected HubSpot portals to use (default: your default one).",
        examples=[1234567],
    ),
]


@dataclass
class RequestScope:
    """What a route needs: the plugin runtime and the services of the caller's connection."""

    runtime: HubSpotRuntime
    services: PortalServices

    @property
    def principal(self) -> Principal:
        return self.services.principal

    @property
    def client(self) -> "HubSpotClient":
        return self.services.client

    @property
    def connection(self) -> "ConnectionInfo":
        return self.services.connection


def principal_dependency(context: HostContext) -> Callable[..., Any]:
    dep = context.principal_dependency
    if dep is None:
        raise RuntimeError("the host gave no principal dependency; routes cannot be mounted")
    return dep


def scope_dependency(context: HostContext) -> Callable[..., Awaitable[RequestScope]]:
    """A FastAPI dependency resolving the caller's HubSpot connection (401 when there is none)."""
    principal_dep = principal_dependency(context)

    async def hubspot_scope(
        principal: Annotated[Principal, Depends(principal_dep)],
        portal_id: PortalQuery = None,
    ) -> RequestScope:
        runtime = runtime_of(context)
        return RequestScope(runtime, await runtime.services_for(principal, portal_id))

    return hubspot_scope


def answer(scope: RequestScope, data: object, **meta: object) -> dict[str, Any]:
    """The success envelope of a portal-scoped route: `meta` always names the portal used."""
    return ok(data, portal_id=scope.connection.portal_id, **meta)


SourceQuery = Annotated[
    Literal["mirror", "live", "auto"],
    Query(
        description="Where to read: the local mirror, HubSpot, or auto (the mirror while that "
        "object type's sync is current within the lag bound, HubSpot otherwise). The answer's "
        "`meta.source` and `meta.as_of` say which it was and as of when.",
    ),
]


def source_meta(sourced: Sourced) -> dict[str, Any]:
    as_of = sourced.as_of.isoformat().replace("+00:00", "Z") if sourced.as_of else None
    return {"source": sourced.source, "as_of": as_of}


def live_meta() -> dict[str, Any]:
    """A write's answer is HubSpot's own, as of now (the mirror has it too)."""
    return source_meta(Sourced(source="live", as_of=now_utc()))
