"""What an API group (ObjectsAPI, ListsAPI, …) calls HubSpot through, and the query-string
and paging helpers they share.

The groups depend on `ApiCaller` rather than on `HubSpotClient` (an ApiCaller that builds
them), so the imports run one way: client → groups → caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from atom_hubspot.client.auth import TokenProvider
from atom_hubspot.client.governor import INTERACTIVE
from atom_hubspot.client.http import Call, HubSpotHTTP
from atom_hubspot.client.paths import Route


class ApiCaller:
    """One connection's way to HubSpot: the shared HTTP layer, the connection's token and
    rate-limit budget, and its governor lane. HubSpotClient adds the API groups to it.

    `portal_id` keys the rate-limit budget: HubSpot counts per installed account. When it is
    not known yet (a private-app token before its first account-details call) the calls share
    one "unknown portal" budget, which errs on the safe side.
    """

    def __init__(
        self,
        http: HubSpotHTTP,
        token: TokenProvider,
        *,
        portal_id: int | None,
        lane: str = INTERACTIVE,
    ) -> None:
        self.http = http
        self.token = token
        self.portal_id = portal_id
        self.lane = lane

    @property
    def portal_key(self) -> str:
        return f"portal:{self.portal_id}" if self.portal_id is not None else "portal:unknown"

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
    ) -> Any:
        return await self.http.json(
            Call(
                method=method,
                route=route,
                token=self.token,
                portal=self.portal_key,
                params=params,
                json=json,
                repeatable=repeatable,
                search=search,
                tier=tier,
                lane=self.lane,
            )
        )


class ApiGroup:
    """One group of HubSpot endpoints (lists, campaigns, …) over a connection's caller."""

    def __init__(self, client: ApiCaller) -> None:
        self._c = client


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
