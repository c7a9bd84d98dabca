"""Marketing routes under `/api/hubspot`: campaigns, analytics, lead lists, marketing emails,
sends and scheduled sends.

HubSpot has no analytics endpoint, no template resource and no lead-lists API: analytics are
computed (service/analytics.py), "email templates" are the marketing emails that can be sent,
and lead lists are CRM lists of contacts. Every route is scoped to the caller's own connection;
scheduled sends are the caller's own rows.
"""

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Response

from atom_host_stub.contract import HostContext, Principal
from atom_hubspot.api.deps import (
    AfterQuery,
    PortalQuery,
    RequestScope,
    SourceQuery,
    answer,
    principal_dependency,
    scope_dependency,
    source_meta,
)
from atom_hubspot.api.envelope import Envelope, envelope_router, ok
from atom_hubspot.api.marketing_bodies import (
    CampaignCreate,
    LeadListCreate,
    MembersBody,
    SendEmailBody,
)
from atom_hubspot.runtime import runtime_of
from atom_hubspot.service import mapping
from atom_hubspot.service.analytics import ContactAnalytics, DealAnalytics
from atom_hubspot.service.campaign_filters import CampaignFilter, filtered_campaigns
from atom_hubspot.service.campaigns import CampaignInfo, CampaignInfoPage, CampaignReport
from atom_hubspot.service.email_sends import EmailTemplatePage
from atom_hubspot.service.email_stats import EmailStatsService
from atom_hubspot.service.lead_lists import (
    LeadList,
    LeadListPage,
    MemberPage,
    MembershipResult,
)
from atom_hubspot.service.scheduler import ScheduledSendInfo, ScheduledSendList, ScheduledSends
from atom_hubspot.service.sends import SendEmailAnswer

TAG_CAMPAIGNS = "HubSpot campaigns"
TAG_ANALYTICS = "HubSpot analytics"
TAG_LISTS = "HubSpot lead lists"
TAG_EMAIL = "HubSpot email"

# --------------------------------------------------------------------------- parameters

CampaignIdPath = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9\-]{1,64}$",
        description="Campaign id (a GUID)",
        examples=["edb9b6c3-d2e2-4ca8-8396-832262aed0d4"],
    ),
]
ListIdPath = Annotated[
    str, Path(pattern=r"^[0-9]{1,20}$", description="HubSpot list id", examples=["123"])
]
SendIdPath = Annotated[
    str,
    Path(
        pattern=r"^[0-9a-fA-F\-]{36}$",
        description="Scheduled send id",
        examples=["3f1c2a9e-8d44-4b7a-9a51-0c7d9b0f1e22"],
    ),
]
LimitQuery = Annotated[int, Query(ge=1, le=100, description="Page size (at most 100)")]
DateQuery = Annotated[
    date | None,
    Query(
        ge=mapping.DAY_MIN,
        le=mapping.DAY_MAX,
        description=f"ISO date, e.g. 2026-01-31; {mapping.DATE_LIMIT}",
    ),
]


# --------------------------------------------------------------------------- answers


# --------------------------------------------------------------------------- router


def build_router(context: HostContext) -> APIRouter:
    """The marketing routes; mount under the prefix `/api/hubspot`."""
    router = envelope_router()
    Scope = Annotated[RequestScope, Depends(scope_dependency(context))]
    Caller = Annotated[Principal, Depends(principal_dependency(context))]

    def store() -> ScheduledSends:
        return runtime_of(context).scheduled_sends()

    # ------------------------------------------------------------------ campaigns

    @router.get(
        "/campaigns",
        response_model=Envelope[CampaignInfoPage],
        operation_id="list_campaigns",
        summary="List marketing campaigns",
        tags=[TAG_CAMPAIGNS],
        description="Needs Marketing Hub Professional (403 `hubspot_tier_required` otherwise). "
        "`status` (HubSpot's `hs_campaign_status`, e.g. active, completed) and the start-date "
        "range filter over HubSpot's pages (its list takes only a name); `total` is then null.",
    )
    async def list_campaigns(
        scope: Scope,
        limit: LimitQuery = 20,
        after: AfterQuery = None,
        name: Annotated[str | None, Query(max_length=255, description="Filter by name")] = None,
        status: Annotated[
            str | None,
            Query(
                max_length=64,
                pattern=r"^[A-Za-z_]+$",
                description="Only campaigns with this status",
                examples=["active"],
            ),
        ] = None,
        start_date_from: DateQuery = None,
        start_date_to: DateQuery = None,
    ) -> dict[str, Any]:
        flt = CampaignFilter(status=status, start_from=start_date_from, start_to=start_date_to)
        if flt.active:
            page = await filtered_campaigns(scope.client, flt, limit=limit, after=after, name=name)
        else:
            page = await scope.services.marketing.list_campaigns(
                limit=limit, after=after, name=name
            )
        return answer(scope, page)

    @router.post(
        "/campaigns",
        status_code=201,
        response_model=Envelope[CampaignInfo],
        operation_id="create_campaign",
        summary="Create a marketing campaign",
        tags=[TAG_CAMPAIGNS],
    )
    async def create_campaign(scope: Scope, body: CampaignCreate) -> dict[str, Any]:
        c = await scope.services.marketing.create_campaign(
            body.name, start_date=body.start_date, end_date=body.end_date, notes=body.notes
        )
        return answer(scope, c)

    @router.get(
        "/campaigns/{campaign_id}",
        response_model=Envelope[CampaignInfo],
        operation_id="get_campaign",
        summary="Read one campaign",
        tags=[TAG_CAMPAIGNS],
    )
    async def get_campaign(scope: Scope, campaign_id: CampaignIdPath) -> dict[str, Any]:
        return answer(scope, await scope.services.marketing.get_campaign(campaign_id))

    # ------------------------------------------------------------------ analytics

    @router.get(
        "/analytics/deals",
        response_model=Envelope[DealAnalytics],
        operation_id="deal_analytics",
        tags=[TAG_ANALYTICS],
        summary="Deals per pipeline and stage: counts, amounts, weighted amounts, win rate",
        description="Computed from the deals whose close date falls in the range (both ends "
        "inclusive, UTC); weighted amount uses each stage's probability; won/lost come from "
        "the stage metadata. Cached briefly (`meta.cached`).",
    )
    async def deal_analytics(
        scope: Scope,
        close_date_from: DateQuery = None,
        close_date_to: DateQuery = None,
        pipeline_id: Annotated[
            str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9_\-]+$", examples=["default"])
        ] = None,
        source: SourceQuery = "auto",
    ) -> dict[str, Any]:
        data, cached, sourced = await scope.services.analytics.deals_from(
            source, close_from=close_date_from, close_to=close_date_to, pipeline_id=pipeline_id
        )
        return answer(scope, data, cached=cached, **source_meta(sourced))

    @router.get(
        "/analytics/contacts",
        response_model=Envelope[ContactAnalytics],
        operation_id="contact_analytics",
        tags=[TAG_ANALYTICS],
        summary="Contacts per lifecycle stage and new contacts per day or week",
        description="From HubSpot search totals, one call per bucket (no contact is "
        "downloaded). Default range: the last 30 days (days) or 12 weeks (weeks). At most 62 "
        "day buckets or 53 week buckets.",
    )
    async def contact_analytics(
        scope: Scope,
        created_from: DateQuery = None,
        created_to: DateQuery = None,
        granularity: Annotated[Literal["day", "week"], Query()] = "day",
        source: SourceQuery = "auto",
    ) -> dict[str, Any]:
        data, cached, sourced = await scope.services.analytics.contacts_from(
            source, created_from=created_from, created_to=created_to, granularity=granularity
        )
        return answer(scope, data, cached=cached, **source_meta(sourced))

    @router.get(
        "/analytics/campaigns/{campaign_id}",
        response_model=Envelope[CampaignReport],
        operation_id="campaign_analytics",
        tags=[TAG_ANALYTICS],
        summary="HubSpot's metrics of one campaign over a date range",
        description="Sessions, new contacts (first and last touch) and influenced contacts, "
        "and the performance of the campaign's emails sent in the range (`emails`). "
        "Default range: the last 30 days. Needs Marketing Hub Professional.",
    )
    async def campaign_analytics(
        scope: Scope,
        campaign_id: CampaignIdPath,
        start_date: DateQuery = None,
        end_date: DateQuery = None,
    ) -> dict[str, Any]:
        data, cached = await scope.services.analytics.campaign(
            campaign_id, start=start_date, end=end_date
        )
        emails = await EmailStatsService(scope.client).for_campaign(
            campaign_id, date.fromisoformat(data.start_date), date.fromisoformat(data.end_date)
        )
        return answer(scope, data.model_copy(update={"emails": emails}), cached=cached)

    # ------------------------------------------------------------------ lead lists

    @router.get(
        "/lead-lists",
        response_model=Envelope[LeadListPage],
        operation_id="list_lead_lists",
        summary="Find lead lists (lists of contacts)",
        tags=[TAG_LISTS],
    )
    async def list_lead_lists(
        scope: Scope,
        query: Annotated[str | None, Query(max_length=255, description="Part of the name")] = None,
        limit: LimitQuery = 20,
        after: AfterQuery = None,
    ) -> dict[str, Any]:
        page = await scope.services.marketing.list_lead_lists(query=query, limit=limit, after=after)
        return answer(scope, page)

    @router.post(
        "/lead-lists",
        status_code=201,
        response_model=Envelope[LeadList],
        operation_id="create_lead_list",
        tags=[TAG_LISTS],
        summary="Create a MANUAL lead list, or a DYNAMIC one from a segment",
        description="A segment is conditions on contact properties (`eq`, `neq`, `in`, "
        "`not_in`, `contains`, `gt`, `gte`, `lt`, `lte`, `known`, `unknown`), all or "
        "any of which must hold; it becomes HubSpot's list filter definition.",
    )
    async def create_lead_list(scope: Scope, body: LeadListCreate) -> dict[str, Any]:
        lst = await scope.services.marketing.create_lead_list(
            body.name, processing_type=body.processing_type, segment=body.segment
        )
        return answer(scope, lst)

    @router.get(
        "/lead-lists/{list_id}",
        response_model=Envelope[LeadList],
        operation_id="get_lead_list",
        summary="Read one lead list",
        tags=[TAG_LISTS],
    )
    async def get_lead_list(scope: Scope, list_id: ListIdPath) -> dict[str, Any]:
        return answer(scope, await scope.services.marketing.get_lead_list(list_id))

    @router.get(
        "/lead-lists/{list_id}/members",
        response_model=Envelope[MemberPage],
        operation_id="list_lead_list_members",
        summary="Contact ids in a lead list",
        tags=[TAG_LISTS],
    )
    async def list_members(
        scope: Scope,
        list_id: ListIdPath,
        limit: LimitQuery = 100,
        after: AfterQuery = None,
    ) -> dict[str, Any]:
        svc = scope.services.marketing
        await svc.get_lead_list(list_id)  # 404 for a list that is not a contacts list
        page = await svc.list_members(list_id, limit=limit, after=after)
        return answer(scope, page)

    @router.post(
        "/lead-lists/{list_id}/members",
        response_model=Envelope[MembershipResult],
        operation_id="add_lead_list_members",
        tags=[TAG_LISTS],
        summary="Add contacts to a MANUAL lead list",
        description="Answers which ids were added, which HubSpot does not know "
        "(missing) and which were members already (unchanged).",
    )
    async def add_members(scope: Scope, list_id: ListIdPath, body: MembersBody) -> dict[str, Any]:
        res = await scope.services.marketing.add_members(list_id, body.contact_ids)
        return answer(scope, res)

    @router.delete(
        "/lead-lists/{list_id}/members",
        response_model=Envelope[MembershipResult],
        operation_id="remove_lead_list_members",
        tags=[TAG_LISTS],
        summary="Remove contacts from a MANUAL lead list",
        description="Answers which ids were removed, which HubSpot does not know "
        "(missing) and which were not members (unchanged).",
    )
    async def remove_members(
        scope: Scope, list_id: ListIdPath, body: Annotated[MembersBody, Body()]
    ) -> dict[str, Any]:
        res = await scope.services.marketing.remove_members(list_id, body.contact_ids)
        return answer(scope, res)

    # ------------------------------------------------------------------ email

    @router.get(
        "/email-templates",
        response_model=Envelope[EmailTemplatePage],
        operation_id="list_email_templates",
        tags=[TAG_EMAIL],
        summary="Marketing emails that can be sent",
        description="HubSpot has no template resource: what a send uses is a marketing "
        "email, by its id. Only published emails unless `include_unpublished`.",
    )
    async def list_email_templates(
        scope: Scope,
        limit: LimitQuery = 20,
        after: AfterQuery = None,
        include_unpublished: bool = False,
    ) -> dict[str, Any]:
        page = await scope.services.marketing.list_email_templates(
            limit=limit, after=after, include_unpublished=include_unpublished
        )
        return answer(scope, page)

    @router.post(
        "/send-email",
        response_model=Envelope[SendEmailAnswer],
        operation_id="send_email",
        tags=[TAG_EMAIL],
        summary="Send a marketing email now or at `send_at`",
        responses={
            202: {
                "model": Envelope[SendEmailAnswer],
                "description": "Stored; it will be sent once at `send_at`",
            }
        },
        description="One HubSpot call per recipient (bounded concurrency), with a result per "
        "recipient: sent, failed, skipped or unknown (may have been sent; never repeated). With "
        "`send_at` in the future the send is stored and performed once at that time (202). "
        "Needs Marketing Hub Enterprise or the transactional email add-on.",
    )
    async def send_email(scope: Scope, body: SendEmailBody, response: Response) -> dict[str, Any]:
        result = await scope.services.sends.send(
            body.email_id,
            contact_ids=body.contact_ids,
            emails=body.emails,
            contact_properties=body.contact_properties,
            custom_properties=body.custom_properties,
            send_at=body.send_at,
        )
        response.status_code = 202 if result.mode == "scheduled" else 200
        return answer(scope, result)

    @router.get(
        "/scheduled-sends",
        response_model=Envelope[ScheduledSendList],
        operation_id="list_scheduled_sends",
        tags=[TAG_EMAIL],
        summary="Your scheduled sends, latest first",
    )
    async def list_scheduled_sends(
        principal: Caller,
        portal_id: PortalQuery = None,
        status: Annotated[
            Literal["pending", "claimed", "sent", "partial", "failed", "cancelled"] | None, Query()
        ] = None,
        limit: LimitQuery = 100,
        after: AfterQuery = None,
    ) -> dict[str, Any]:
        page = await store().page_for(
            principal, portal_id=portal_id, status=status, limit=limit, after=after
        )
        return ok(page)

    @router.get(
        "/scheduled-sends/{send_id}",
        response_model=Envelope[ScheduledSendInfo],
        operation_id="get_scheduled_send",
        tags=[TAG_EMAIL],
        summary="One scheduled send with its per-recipient results",
    )
    async def get_scheduled_send(principal: Caller, send_id: SendIdPath) -> dict[str, Any]:
        return ok(await store().get(principal, send_id))

    @router.delete(
        "/scheduled-sends/{send_id}",
        response_model=Envelope[ScheduledSendInfo],
        operation_id="cancel_scheduled_send",
        tags=[TAG_EMAIL],
        summary="Cancel a scheduled send that has not started",
        description="409 when it is being sent or was already performed.",
    )
    async def cancel_scheduled_send(principal: Caller, send_id: SendIdPath) -> dict[str, Any]:
        return ok(await store().cancel(principal, send_id))

    return router
