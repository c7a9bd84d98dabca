"""HubSpotClient: a cheap per-connection view on the shared HubSpotHTTP."""

from __future__ import annotations

from functools import cached_property

from atom_hubspot.client.automation import FlowsAPI, OwnersAPI, SequencesAPI
from atom_hubspot.client.caller import ApiCaller
from atom_hubspot.client.lists import ListsAPI
from atom_hubspot.client.marketing import CampaignsAPI, MarketingEmailsAPI, SendsAPI
from atom_hubspot.client.objects import ObjectsAPI
from atom_hubspot.client.resources import (
    AccountAPI,
    AssociationsAPI,
    PipelinesAPI,
    PropertiesAPI,
)


class HubSpotClient(ApiCaller):
    """The HubSpot API of one connection (one portal, one token provider)."""

    # The API groups, made on first use (a client is made per request).

    @cached_property
    def contacts(self) -> ObjectsAPI:
        return ObjectsAPI(self, "contacts")

    @cached_property
    def companies(self) -> ObjectsAPI:
        return ObjectsAPI(self, "companies")

    @cached_property
    def deals(self) -> ObjectsAPI:
        return ObjectsAPI(self, "deals")

    @cached_property
    def associations(self) -> AssociationsAPI:
        return AssociationsAPI(self)

    @cached_property
    def pipelines(self) -> PipelinesAPI:
        return PipelinesAPI(self)

    @cached_property
    def properties(self) -> PropertiesAPI:
        return PropertiesAPI(self)

    @cached_property
    def lists(self) -> ListsAPI:
        return ListsAPI(self)

    @cached_property
    def campaigns(self) -> CampaignsAPI:
        return CampaignsAPI(self)

    @cached_property
    def emails(self) -> MarketingEmailsAPI:
        return MarketingEmailsAPI(self)

    @cached_property
    def sends(self) -> SendsAPI:
        return SendsAPI(self)

    @cached_property
    def flows(self) -> FlowsAPI:
        return FlowsAPI(self)

    @cached_property
    def sequences(self) -> SequencesAPI:
        return SequencesAPI(self)

    @cached_property
    def owners(self) -> OwnersAPI:
        return OwnersAPI(self)

    @cached_property
    def account(self) -> AccountAPI:
        return AccountAPI(self)

    def in_lane(self, lane: str) -> HubSpotClient:
        """The same connection with its calls in another governor lane (e.g. `sync`)."""
        self.http.governor.lane(lane)  # unknown lanes fail here, not on the first call
        return HubSpotClient(self.http, self.token, portal_id=self.portal_id, lane=lane)

    def objects(self, object_type: str) -> ObjectsAPI:
        """Any other CRM object type by name or type id (e.g. `tickets`, `0-5`)."""
        return ObjectsAPI(self, object_type)
