"""The HubSpot API client: versioned paths, rate-limit governor, safe retries, typed errors,
paging, batch and search.

One `HubSpotHTTP` per process (shared httpx client and governor); one cheap `HubSpotClient`
per connection; `OAuthAPI` for the token endpoints::

    http = HubSpotHTTP(settings)                        # at startup; `await http.aclose()` at exit
    client = HubSpotClient(http, StaticToken(token), portal_id=123)
    page = await client.contacts.search(
        SearchRequest().where(Filter.eq("lifecyclestage", "lead")).select("email")
    )
    async for contact in client.contacts.iter_search(SearchRequest()):  # past 10,000 too
        ...
    result = await client.contacts.batch_upsert([("ann@example.com", {"firstname": "Ann"})])
    result.errors                                       # per-input failures, never dropped

Errors are `atom_hubspot.errors` classes; a create or a send whose answer was lost raises
`OutcomeUnknown` and is never re-sent.
"""

from atom_hubspot.client.auth import StaticToken, TokenProvider
from atom_hubspot.client.client import HubSpotClient
from atom_hubspot.client.governor import INTERACTIVE, LANES, SYNC, LanePolicy, RateLimitGovernor
from atom_hubspot.client.http import Call, HubSpotHTTP
from atom_hubspot.client.lists import ListsAPI
from atom_hubspot.client.marketing import (
    CAMPAIGNS_TIER,
    SINGLE_SEND_TIER,
    TRANSACTIONAL_TIER,
    CampaignsAPI,
    MarketingEmailsAPI,
    SendsAPI,
)
from atom_hubspot.client.models import (
    AccountDetails,
    AssociationPage,
    AssociationRef,
    BatchItemError,
    BatchResult,
    Campaign,
    CampaignMetrics,
    CampaignPage,
    CrmObject,
    EmailPage,
    EmailStatistics,
    ListMember,
    ListMemberPage,
    ListModel,
    ListSearchPage,
    MarketingEmail,
    MembershipChange,
    ObjectPage,
    PipelineModel,
    PropertyDefinition,
    SendResult,
    StageModel,
    TokenInfo,
    TokenResponse,
)
from atom_hubspot.client.oauth import OAuthAPI
from atom_hubspot.client.objects import ObjectsAPI
from atom_hubspot.client.paths import Paths, Route
from atom_hubspot.client.rate_windows import (
    MemoryWindowBackend,
    PostgresWindowBackend,
    RedisWindowBackend,
    WindowBackend,
)
from atom_hubspot.client.resources import (
    COMPANY_TO_CONTACT,
    COMPANY_TO_DEAL,
    CONTACT_TO_COMPANY,
    CONTACT_TO_DEAL,
    DEAL_TO_COMPANY,
    DEAL_TO_CONTACT,
    DEFAULT_ASSOCIATION_TYPES,
    AccountAPI,
    AssociationsAPI,
    PipelinesAPI,
    PropertiesAPI,
    default_association_type,
    inline_association,
)
from atom_hubspot.client.search import Filter, FilterGroup, SearchRequest, Sort

__all__ = [
    "CAMPAIGNS_TIER",
    "COMPANY_TO_CONTACT",
    "COMPANY_TO_DEAL",
    "CONTACT_TO_COMPANY",
    "CONTACT_TO_DEAL",
    "DEAL_TO_COMPANY",
    "DEAL_TO_CONTACT",
    "DEFAULT_ASSOCIATION_TYPES",
    "INTERACTIVE",
    "LANES",
    "SINGLE_SEND_TIER",
    "SYNC",
    "TRANSACTIONAL_TIER",
    "AccountAPI",
    "AccountDetails",
    "AssociationPage",
    "AssociationRef",
    "AssociationsAPI",
    "BatchItemError",
    "BatchResult",
    "Call",
    "Campaign",
    "CampaignMetrics",
    "CampaignPage",
    "CampaignsAPI",
    "CrmObject",
    "EmailPage",
    "EmailStatistics",
    "Filter",
    "FilterGroup",
    "HubSpotClient",
    "HubSpotHTTP",
    "LanePolicy",
    "ListMember",
    "ListMemberPage",
    "ListModel",
    "ListSearchPage",
    "ListsAPI",
    "MarketingEmail",
    "MarketingEmailsAPI",
    "MembershipChange",
    "MemoryWindowBackend",
    "OAuthAPI",
    "ObjectPage",
    "ObjectsAPI",
    "Paths",
    "PipelineModel",
    "PipelinesAPI",
    "PostgresWindowBackend",
    "PropertiesAPI",
    "PropertyDefinition",
    "RateLimitGovernor",
    "RedisWindowBackend",
    "Route",
    "SearchRequest",
    "SendResult",
    "SendsAPI",
    "Sort",
    "StageModel",
    "StaticToken",
    "TokenInfo",
    "TokenProvider",
    "TokenResponse",
    "WindowBackend",
    "default_association_type",
    "inline_association",
]
