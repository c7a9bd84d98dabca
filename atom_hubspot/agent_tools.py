"""HubSpot's agent tools (served over MCP by the host): lead lists, campaigns, marketing email
sends and the mirror's sync status. The CRM record tools are the host's own, on the `crm`
capability; these are the marketing side, which only HubSpot provides here.

Every tool works through the caller's services (`services_for(principal)`), never the client
or the database directly, so a principal reaches only its own connections. Writes answer a
preview first (the host's runner enforces it): recipients, records touched, API calls spent.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from atom_host_stub.contract import AgentTool, HostContext, ToolContext

MAX_MEMBERS_PAGE = 250  # HubSpot's list memberships page size limit
MAX_RECIPIENTS = 1000
MAX_MEMBER_CHANGES = 10_000  # contacts added or removed by one call (a job)
BATCH = 100  # contacts per batch read / membership call
MISSING_SHOWN = 100

Id = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[0-9A-Za-z_-]+$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Paged(BaseModel):
    results: list[Any]
    next_cursor: str | None = None
    truncated: bool = Field(description="More follow: pass next_cursor")
    total: int | None = None


class ListsIn(_In):
    list_id: Id | None = Field(default=None, description="Members of this list; else the lists")
    query: str | None = Field(default=None, max_length=200, description="Lists whose name has it")
    limit: int = Field(default=100, ge=1, le=MAX_MEMBERS_PAGE)
    cursor: str | None = Field(default=None, max_length=200)


class ListCreateIn(_In):
    name: str = Field(min_length=1, max_length=200)


class MembersIn(_In):
    list_id: Id
    add: list[Id] = Field(
        default_factory=list, max_length=MAX_MEMBER_CHANGES, description="contact ids"
    )
    remove: list[Id] = Field(default_factory=list, max_length=MAX_MEMBER_CHANGES)


class MembersChanged(BaseModel):
    """What a membership job did, in counts (a job may touch thousands of contacts)."""

    list_id: str
    added: int = 0
    removed: int = 0
    unchanged: int = Field(default=0, description="Already in (or not in) the list")
    missing: list[str] = Field(
        default_factory=list, description=f"Ids that are no contact here (first {MISSING_SHOWN})"
    )
    missing_count: int = 0


class CampaignsIn(_In):
    campaign_id: str | None = Field(
        default=None, max_length=100, description="With start and end: its metrics"
    )
    start: date | None = None
    end: date | None = None
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=200)


class SendIn(_In):
    email_id: int = Field(ge=1, description="A published marketing email")
    contact_ids: list[Id] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    emails: list[Annotated[str, Field(max_length=254)]] = Field(
        default_factory=list, max_length=MAX_RECIPIENTS
    )
    send_at: datetime | None = Field(default=None, description="Future time (with zone): schedule")


class AnalyticsIn(_In):
    report: Literal["deals", "contacts", "emails"] = Field(
        description="deals: pipeline figures; contacts: new contacts; emails: email statistics"
    )
    start: date | None = None
    end: date | None = None
    email_ids: list[int] = Field(default_factory=list, max_length=100)
    interval: Literal["day", "week", "month"] | None = Field(
        default=None, description="emails: also per interval"
    )
    source: Literal["auto", "mirror", "live"] = "auto"


ObjectType = Literal["contacts", "companies", "deals"]


class AssociateIn(_In):
    object_type: ObjectType
    id: Id
    to_object_type: ObjectType
    to_id: Id


class CancelIn(_In):
    send_id: Id


class NoIn(_In):
    pass


class RecordsIn(_In):
    object_type: Literal["contacts", "companies", "deals"]
    id: Id | None = Field(default=None, description="One record; else a page")
    source: Literal["auto", "mirror", "live"] = Field(
        default="auto", description="auto: the mirror when current; live forces HubSpot"
    )
    limit: int = Field(default=100, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=200)


class SourcedPage(Paged):
    source: str = Field(description="mirror or live")
    as_of: datetime | None = Field(default=None, description="The data is current as of")


class Answer(BaseModel):
    """A HubSpot answer as it is, in structured form."""

    data: dict[str, Any]


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def _page(found: Any) -> Paged:
    return Paged(
        results=[_dump(r) if isinstance(r, BaseModel) else r for r in found.results],
        next_cursor=found.next_after,
        truncated=found.next_after is not None,
        total=found.total,
    )


def hubspot_tools(context: HostContext) -> list[AgentTool]:
    """The tools; `context` finds the running plugin when a tool is called."""
    from atom_host_stub.agent_tools import KINDS, ReadOnlyView
    from atom_hubspot.client.governor import ASSISTANT
    from atom_hubspot.runtime import runtime_of
    from atom_hubspot.service.email_stats import EmailStatsService, date_range
    from atom_hubspot.service.mirror import now_utc, portal_status

    async def services(ctx: ToolContext) -> Any:
        # The assistant's own lane of the rate budget: below people, above the sync.
        return await runtime_of(context).services_for(ctx.principal, lane=ASSISTANT)

    async def lists(ctx: ToolContext, a: ListsIn) -> Paged:
        marketing = ReadOnlyView((await services(ctx)).marketing)
        if a.list_id is None:
            return _page(
                await marketing.list_lead_lists(query=a.query, limit=a.limit, after=a.cursor)
            )
        return _page(await marketing.list_members(a.list_id, limit=a.limit, after=a.cursor))

    async def list_create(ctx: ToolContext, a: ListCreateIn) -> Answer:
        marketing = (await services(ctx)).marketing
        return Answer(data=_dump(await marketing.create_lead_list(a.name)))

    async def preview_list_create(ctx: ToolContext, a: ListCreateIn) -> BaseModel:
        from atom_host_stub.agent_tools import Preview

        changes = {"create_list": a.name, "processing_type": "MANUAL"}
        return Preview(tool="marketing_list_create", changes=changes)

    async def members(ctx: ToolContext, a: MembersIn) -> MembersChanged:
        """A job: the changes go to HubSpot BATCH contacts a call, with progress after each."""
        marketing = (await services(ctx)).marketing
        out = MembersChanged(list_id=a.list_id)
        missing: list[str] = []
        total = len(a.add) + len(a.remove)
        done = 0
        await ctx.progress(0, total, "starting")
        for verb, ids in (("add", a.add), ("remove", a.remove)):
            for at in range(0, len(ids), BATCH):
                chunk = ids[at : at + BATCH]
                if verb == "add":
                    change = await marketing.add_members(a.list_id, chunk)
                    out.added += len(change.added)
                else:
                    change = await marketing.remove_members(a.list_id, chunk)
                    out.removed += len(change.removed)
                out.unchanged += len(change.unchanged)
                missing += change.missing
                done += len(chunk)
                await ctx.progress(done, total, f"{done} of {total} contacts")
        out.missing, out.missing_count = missing[:MISSING_SHOWN], len(missing)
        return out

    async def preview_members(ctx: ToolContext, a: MembersIn) -> BaseModel:
        from atom_host_stub.agent_tools import Preview
        from atom_hubspot.service import mapping

        mapping.record_ids("add", a.add)  # every id a record id, before any work starts
        mapping.record_ids("remove", a.remove)
        marketing = (await services(ctx)).marketing
        found = await marketing.get_lead_list(a.list_id)  # the caller's, and a contact list
        calls = -(-len(a.add) // BATCH) * 2 + -(-len(a.remove) // BATCH)
        return Preview(
            tool="marketing_list_members",
            changes={"list": found.name, "add": len(a.add), "remove": len(a.remove)},
            records=len(a.add) + len(a.remove),
            budget_cost=max(1, calls),
        )

    async def campaigns(ctx: ToolContext, a: CampaignsIn) -> Answer | Paged:
        marketing = ReadOnlyView((await services(ctx)).marketing)
        if a.campaign_id is None:
            return _page(await marketing.list_campaigns(limit=a.limit, after=a.cursor))
        if a.start is None or a.end is None:
            return Answer(data=_dump(await marketing.get_campaign(a.campaign_id)))
        return Answer(data=_dump(await marketing.campaign_metrics(a.campaign_id, a.start, a.end)))

    async def send(ctx: ToolContext, a: SendIn) -> Answer:
        found = await services(ctx)
        answer = await found.sends.send(
            a.email_id, contact_ids=a.contact_ids, emails=a.emails, send_at=a.send_at
        )
        return Answer(data=_dump(answer))

    async def preview_send(ctx: ToolContext, a: SendIn) -> BaseModel:
        from atom_host_stub.agent_tools import Preview

        found = await services(ctx)
        email = await found.marketing.sendable_email(a.email_id)  # 404 / 409 before anything
        recipients = len(set(a.contact_ids)) + len(set(a.emails))
        return Preview(
            tool="marketing_send_email",
            changes={
                "email": getattr(email, "name", None),
                "mode": "scheduled" if a.send_at else "send now",
                "send_at": a.send_at.isoformat() if a.send_at else None,
            },
            records=recipients,
            recipients=recipients,
            budget_cost=recipients + -(-len(a.contact_ids) // BATCH) + 1,
        )

    async def cancel(ctx: ToolContext, a: CancelIn) -> Answer:
        runtime = runtime_of(context)
        return Answer(data=_dump(await runtime.scheduled_sends().cancel(ctx.principal, a.send_id)))

    async def preview_cancel(ctx: ToolContext, a: CancelIn) -> BaseModel:
        from atom_host_stub.agent_tools import Preview

        runtime = runtime_of(context)
        found = await runtime.scheduled_sends().get(ctx.principal, a.send_id)
        return Preview(
            tool="marketing_cancel_send", changes={"cancel": _dump(found)}, budget_cost=0
        )

    async def sync_status(ctx: ToolContext, a: NoIn) -> Answer:
        runtime = runtime_of(context)
        assert runtime.mirror is not None
        portals = sorted({c.portal_id for c in await runtime.connections.list(ctx.principal)})
        status = [
            _dump(
                await portal_status(
                    runtime.mirror,
                    p,
                    runtime.settings.mirror_max_lag_s,
                    tenant_id=ctx.principal.tenant_id,
                )
            )
            for p in portals
        ]
        return Answer(data={"portals": status})

    async def records(ctx: ToolContext, a: RecordsIn) -> SourcedPage:
        crm = ReadOnlyView((await services(ctx)).crm)
        kind = KINDS[a.object_type]
        if a.id is not None:
            one, sourced = await crm.read_from(a.source, kind, a.id)
            return SourcedPage(results=[_dump(one)], truncated=False, total=1, **_dump(sourced))
        page, sourced = await crm.list_page_from(a.source, kind, limit=a.limit, after=a.cursor)
        out = SourcedPage(**_page(page).model_dump(), **_dump(sourced))
        if out.total is None and sourced.source == "mirror":
            # The routes answer a plain listing without a total, as HubSpot does; a tool
            # counts what the mirror holds, so an assistant knows how much it is paging through.
            out.total = await crm.count_mirrored(kind)
        return out

    async def analytics(ctx: ToolContext, a: AnalyticsIn) -> Answer:
        found = await services(ctx)
        if a.report == "emails":
            # The figures of GET /api/hubspot/email-stats: the same service, the same range.
            start, end = date_range(a.start, a.end, datetime.now(UTC).date())
            stats = await EmailStatsService(found.client).performance(
                start, end, email_ids=a.email_ids, interval=a.interval
            )
            return Answer(data={**_dump(stats), "source": "live", "as_of": now_utc().isoformat()})
        view = ReadOnlyView(found.analytics)
        if a.report == "deals":
            data, _, sourced = await view.deals_from(a.source, close_from=a.start, close_to=a.end)
        else:
            data, _, sourced = await view.contacts_from(
                a.source, created_from=a.start, created_to=a.end
            )
        return Answer(data={**_dump(data), **_dump(sourced)})

    async def associate(ctx: ToolContext, a: AssociateIn) -> Answer:
        crm = (await services(ctx)).crm
        await crm.associate(KINDS[a.object_type], a.id, KINDS[a.to_object_type], a.to_id)
        return Answer(data={"linked": [f"{a.object_type}/{a.id}", f"{a.to_object_type}/{a.to_id}"]})

    async def preview_associate(ctx: ToolContext, a: AssociateIn) -> BaseModel:
        from atom_host_stub.agent_tools import Preview

        crm = ReadOnlyView((await services(ctx)).crm)
        one = await crm.read_record(KINDS[a.object_type], a.id)
        other = await crm.read_record(KINDS[a.to_object_type], a.to_id)
        return Preview(
            tool="hubspot_associate",
            changes={"link": [_dump(one), _dump(other)], "label": "default"},
            records=2,
            budget_cost=3,
        )

    write: dict[str, Any] = {"read_only": False}
    return [
        AgentTool(
            "marketing_lists",
            "Lead lists, or with list_id its member contact ids (paged; total, truncated).",
            ListsIn,
            Paged,
            lists,
        ),
        AgentTool(
            "marketing_list_create",
            "Create a manual lead list (preview, then confirm).",
            ListCreateIn,
            Answer,
            list_create,
            preview=preview_list_create,
            **write,
        ),
        AgentTool(
            "marketing_list_members",
            "Add or remove contacts in a lead list (preview, then confirm); runs as a job.",
            MembersIn,
            MembersChanged,
            members,
            preview=preview_members,
            job=True,
            **write,
        ),
        AgentTool(
            "marketing_campaigns",
            "Campaigns; with campaign_id one campaign, with start and end its metrics.",
            CampaignsIn,
            Answer,
            campaigns,
        ),
        AgentTool(
            "marketing_analytics",
            "Deal pipeline figures, new contacts, or email performance between two days.",
            AnalyticsIn,
            Answer,
            analytics,
        ),
        AgentTool(
            "marketing_send_email",
            "Send a marketing email now or at send_at (preview: recipients, cost; then confirm).",
            SendIn,
            Answer,
            send,
            preview=preview_send,
            destructive=True,
            **write,
        ),
        AgentTool(
            "marketing_cancel_send",
            "Cancel a scheduled send (preview, then confirm).",
            CancelIn,
            Answer,
            cancel,
            preview=preview_cancel,
            destructive=True,
            **write,
        ),
        AgentTool(
            "hubspot_records",
            "Records as HubSpot holds them (all properties), from the local mirror when it is "
            "current; says source and as_of.",
            RecordsIn,
            SourcedPage,
            records,
        ),
        AgentTool(
            "hubspot_associate",
            "Link two records (e.g. a contact to a company or deal); preview, then confirm.",
            AssociateIn,
            Answer,
            associate,
            preview=preview_associate,
            **write,
        ),
        AgentTool(
            "hubspot_sync_status",
            "Where the local mirror of each connected portal stands (current, lag, records).",
            NoIn,
            Answer,
            sync_status,
        ),
    ]
