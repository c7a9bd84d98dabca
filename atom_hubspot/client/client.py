"""HubSpotClient: a cheap per-connection view on the shared HubSpotHTTP."""

from __future__ import annotations

from typing import Any

from atom_hubspot.client.auth import TokenProvider
from atom_hubspot.client.governor import INTERACTIVE
from atom_hubspot.client.http import Call, HubSpotHTTP
from atom_hubspot.client.objects import ObjectsAPI
from atom_hubspot.client.paths import Route
from atom_hubspot.client.resources import (
    AccountAPI,
    AssociationsAPI,
    CampaignsAPI,
    ListsAPI,
    MarketingEmailsAPI,
    PipelinesAPI,
    PropertiesAPI,
    SendsAPI,
)


class HubSpotClient:
    """The HubSpot API of one connection (one portal, one token provider).

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
        self.contacts = ObjectsAPI(self, "contacts")
        self.companies = ObjectsAPI(self, "companies")
        self.deals = ObjectsAPI(self, "deals")
        self.associations = AssociationsAPI(self)
        self.pipelines = PipelinesAPI(self)
        self.properties = PropertiesAPI(self)
        self.lists = ListsAPI(self)
        self.campaigns = CampaignsAPI(self)
        self.emails = MarketingEmailsAPI(self)
        self.sends = SendsAPI(self)
        self.account = AccountAPI(self)

    @property
    def portal_key(self) -> str:
        return f"portal:{self.portal_id}" if self.portal_id is not None else "portal:unknown"

    def in_lane(self, lane: str) -> HubSpotClient:
        """The same connection with its calls in another governor lane (e.g. `sync`)."""
        self.http.governor.lane(lane)  # unknown lanes fail here, not on the first call
        return HubSpotClient(self.http, self.token, portal_id=self.portal_id, lane=lane)

    def objects(self, object_type: str) -> ObjectsAPI:
        """Any other CRM object type by name or type id (e.g. `tickets`, `0-5`)."""
        return ObjectsAPI(self, object_type)

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
