"""What an API group (ObjectsAPI, ListsAPI, …) needs of the client, and the query-string and
paging helpers they share.

The groups depend on this small Protocol rather than on `HubSpotClient`, which builds them:
so the imports run one way (client → groups → caller).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from atom_hubspot.client.http import HubSpotHTTP
from atom_hubspot.client.paths import Route


class ApiCaller(Protocol):
    """One connection's way to HubSpot: the shared HTTP layer, and one call with its token."""

    http: HubSpotHTTP

    async def json(
        self,
        method: str,
        route: Route,
        *,
        params: Any = None,
        json: Any = None,
        repeatable: bool = True,
        search: bool = False,
        tier: str | None = None,
    ) -> Any: ...


def query_params(**kw: Any) -> dict[str, Any]:
    """Query parameters without the ones not given (None)."""
    return {k: v for k, v in kw.items() if v is not None}


def csv_param(values: Iterable[str] | None) -> str | None:
    """Names as one comma-separated parameter (HubSpot's `properties=a,b`); None when empty."""
    if values is None:
        return None
    joined = ",".join(v for v in values if v)
    return joined or None


def next_after(body: Mapping[str, Any]) -> str | None:
    """HubSpot's cursor of the next page (`paging.next.after`); None on the last page."""
    paging = body.get("paging") or {}
    nxt = paging.get("next") if isinstance(paging, dict) else None
    after = nxt.get("after") if isinstance(nxt, dict) else None
    return None if after in (None, "") else str(after)
