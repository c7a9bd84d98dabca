"""Marketing features over one HubSpot connection: campaigns, lead lists, marketing emails, sends.

HubSpot has no "templates" resource and no lead-lists API of its own: what a user picks to send
is a marketing email (its `emailId`), and a lead list is a CRM list of contacts (object type 0-1).
Single-send takes one recipient per call and cannot schedule; scheduling is ours
(`atom_hubspot.service.scheduler`). See the facts sheet, sections 6 and 7.

The models here are what the routes answer with (`CampaignInfo`, `LeadList`, …): each is built
by attribute from the typed model the client hands back (`atom_hubspot.client.models`), which is
the one model of what HubSpot sent.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from atom_hubspot.client import HubSpotClient
from atom_hubspot.client.models import (
    Campaign,
    CampaignMetrics,
    ListModel,
    MarketingEmail,
    SendResult,
)
from atom_hubspot.errors import (
    Conflict,
    HubSpotError,
    InputError,
    MissingScopes,
    NotConnected,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    ReconnectRequired,
    TierRequired,
    Unavailable,
)
from atom_hubspot.service import mapping
from atom_hubspot.service.pages import ResultsPage, offset_cursor

# Tiers HubSpot gates these APIs behind (facts sheet, section 7).
TIER_CAMPAIGNS = "Marketing Hub Professional"
TIER_SINGLE_SEND = "Marketing Hub Enterprise"
TIER_TRANSACTIONAL = "the Transactional Email add-on"

CONTACT_OBJECT_TYPE = "0-1"
MAX_RECIPIENTS = 1000


def _str(v: object) -> str | None:
    return None if v is None else str(v)


# --------------------------------------------------------------------------- tier gates


@asynccontextmanager
async def tier_gate(tier: str, what: str) -> AsyncIterator[None]:
    """Turn HubSpot's bare 403 on a tier-gated API into a 'needs <tier>' answer.

    A 403 that names missing scopes stays MissingScopes; any other 403 on these APIs means the
    portal's subscription does not include them (HubSpot answers 403 without naming the tier).
    """
    try:
        yield
    except TierRequired as err:
        if err.required_tier:
            raise
        raise TierRequired(
            f"{what} needs {tier} in this HubSpot portal.",
            required_tier=tier,
            status=err.status,
            category=err.category,
            correlation_id=err.correlation_id,
        ) from None
    except MissingScopes:
        raise
    except HubSpotError as err:
        if err.status == 403:
            raise TierRequired(
                f"{what} needs {tier} in this HubSpot portal (HubSpot answered 403: {err.message})",
                required_tier=tier,
                status=403,
                category=err.category,
                correlation_id=err.correlation_id,
            ) from None
        raise


# --------------------------------------------------------------------------- campaigns


class CampaignInfo(BaseModel):
    """A campaign as the routes answer it: its main properties by name, and all of them."""

    id: str = Field(examples=["edb9b6c3-d2e2-4ca8-8396-832262aed0d4"])
    name: str | None = Field(default=None, examples=["Spring launch"])
    start_date: str | None = Field(default=None, examples=["2026-03-01"])
    end_date: str | None = Field(default=None, examples=["2026-04-30"])
    notes: str | None = Field(default=None, examples=["Webinar series and nurture emails"])
    created_at: datetime | None = None
    updated_at: datetime | None = None
    properties: dict[str, Any] = Field(
        default_factory=dict, description="All campaign properties as HubSpot returned them"
    )

    @classmethod
    def of(cls, c: Campaign) -> CampaignInfo:
        props = c.properties
        return cls(
            id=c.id,
            name=c.name,
            start_date=_str(props.get("hs_start_date")),
            end_date=_str(props.get("hs_end_date")),
            notes=_str(props.get("hs_notes")),
            created_at=c.created_at,
            updated_at=c.updated_at,
            properties=props,
        )


class CampaignInfoPage(ResultsPage[CampaignInfo]):
    """Campaigns, one page."""


class CampaignReport(BaseModel):
    """HubSpot's metrics of one campaign over a date range."""

    campaign_id: str
    start_date: str
    end_date: str
    sessions: int | None = Field(default=None, examples=[1520])
    new_contacts_first_touch: int | None = Field(default=None, examples=[48])
    new_contacts_last_touch: int | None = Field(default=None, examples=[31])
    influenced_contacts: int | None = Field(default=None, examples=[212])
    raw: dict[str, Any] = Field(default_factory=dict, description="HubSpot's answer as is")

    @classmethod
    def of(cls, campaign_id: str, start: date, end: date, m: CampaignMetrics) -> CampaignReport:
        return cls(
            campaign_id=campaign_id,
            start_date=start.isoformat(),
            end_date=end.isoformat(),
            sessions=m.sessions,
            new_contacts_first_touch=m.new_contacts_first_touch,
            new_contacts_last_touch=m.new_contacts_last_touch,
            influenced_contacts=m.influenced_contacts,
            raw=m.model_dump(by_alias=True, mode="json"),
        )


# --------------------------------------------------------------------------- lead lists


SegmentOperator = Literal[
    "eq", "neq", "in", "not_in", "contains", "gt", "gte", "lt", "lte", "known", "unknown"
]

# Properties HubSpot defines as enumerations: they take ENUMERATION operations in list filters.
ENUM_PROPERTIES = frozenset({"lifecyclestage", "hs_lead_status", "hubspot_owner_id"})


class SegmentCondition(BaseModel):
    """One condition on a contact property."""

    model_config = ConfigDict(extra="forbid")

    property: str = Field(
        min_length=1, max_length=100, pattern=r"^[a-z0-9_]+$", examples=["lifecyclestage"]
    )
    operator: SegmentOperator = "eq"
    value: str | float | list[str] | None = Field(default=None, examples=["lead"])


class Segment(BaseModel):
    """Who belongs to a DYNAMIC list: conditions on contact properties, all or any of them."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "match": "all",
                    "conditions": [
                        {
                            "property": "lifecyclestage",
                            "operator": "in",
                            "value": ["lead", "marketingqualifiedlead"],
                        },
                        {"property": "country", "operator": "eq", "value": "Germany"},
                    ],
                }
            ]
        },
    )

    match: Literal["all", "any"] = "all"
    conditions: list[SegmentCondition] = Field(min_length=1, max_length=20)


def _condition_filter(c: SegmentCondition, loc: str) -> dict[str, Any]:
    """One HubSpot list PROPERTY filter for a condition (list filters reference, 2026-03)."""
    op = c.operator
    v = c.value
    if op in ("known", "unknown"):
        if v not in (None, "", []):
            raise InputError(
                f"{loc}.value must be empty for operator {op}",
                errors=[{"field": f"{loc}.value", "message": "must be empty"}],
            )
        operation: dict[str, Any] = {
            "operationType": "ALL_PROPERTY",
            "operator": "IS_KNOWN" if op == "known" else "IS_UNKNOWN",
        }
    elif op in ("gt", "gte", "lt", "lte"):
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise InputError(
                f"{loc}.value must be a number for operator {op}",
                errors=[{"field": f"{loc}.value", "message": "must be a number"}],
            )
        try:
            num = float(v)
        except ValueError:
            raise InputError(
                f"{loc}.value must be a number for operator {op}",
                errors=[{"field": f"{loc}.value", "message": "must be a number"}],
            ) from None
        operator = {
            "gt": "IS_GREATER_THAN",
            "gte": "IS_GREATER_THAN_OR_EQUAL_TO",
            "lt": "IS_LESS_THAN",
            "lte": "IS_LESS_THAN_OR_EQUAL_TO",
        }[op]
        operation = {
            "operationType": "NUMBER",
            "operator": operator,
            "value": int(num) if num.is_integer() else num,
        }
    else:
        values = v if isinstance(v, list) else ([] if v is None else [str(v)])
        values = [str(x) for x in values if str(x) != ""]
        if not values:
            raise InputError(
                f"{loc}.value is required for operator {op}",
                errors=[{"field": f"{loc}.value", "message": "value required"}],
            )
        if op in ("eq", "neq") and len(values) != 1:
            raise InputError(
                f"{loc}.value takes one value for operator {op}; use in/not_in",
                errors=[{"field": f"{loc}.value", "message": "one value"}],
            )
        if c.property in ENUM_PROPERTIES or op in ("in", "not_in"):
            if op == "contains":
                raise InputError(
                    f"{loc}.operator contains does not apply to {c.property}",
                    errors=[{"field": f"{loc}.operator", "message": "not allowed"}],
                )
            operator = "IS_ANY_OF" if op in ("eq", "in") else "IS_NONE_OF"
            operation = {"operationType": "ENUMERATION", "operator": operator, "values": values}
        else:
            operator = {"eq": "IS_EQUAL_TO", "neq": "IS_NOT_EQUAL_TO", "contains": "CONTAINS"}[op]
            operation = {"operationType": "MULTISTRING", "operator": operator, "values": values}
    return {"filterType": "PROPERTY", "property": c.property, "operation": operation}


def segment_filter_branch(segment: Segment) -> dict[str, Any]:
    """The filterBranch HubSpot expects: an OR root whose children are AND branches."""
    filters = [
        _condition_filter(c, f"segment.conditions.{i}") for i, c in enumerate(segment.conditions)
    ]

    def and_branch(fs: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "filterBranchType": "AND",
            "filterBranchOperator": "AND",
            "filters": fs,
            "filterBranches": [],
        }

    branches = (
        [and_branch(filters)] if segment.match == "all" else [and_branch([f]) for f in filters]
    )
    return {
        "filterBranchType": "OR",
        "filterBranchOperator": "OR",
        "filters": [],
        "filterBranches": branches,
    }


class LeadList(BaseModel):
    id: str = Field(examples=["123"])
    name: str | None = Field(default=None, examples=["Webinar leads"])
    processing_type: str | None = Field(default=None, examples=["MANUAL"])
    object_type_id: str | None = Field(default=None, examples=["0-1"])
    size: int | None = Field(default=None, examples=[42])
    created_at: datetime | None = None
    updated_at: datetime | None = None
    filter_branch: dict[str, Any] | None = Field(
        default=None, description="HubSpot's filter definition (DYNAMIC and SNAPSHOT lists)"
    )

    @classmethod
    def of(cls, lst: ListModel) -> LeadList:
        return cls(
            id=lst.list_id,
            name=lst.name,
            processing_type=lst.processing_type,
            object_type_id=lst.object_type_id,
            size=lst.size,
            created_at=lst.created_at,
            updated_at=lst.updated_at,
            filter_branch=lst.filter_branch,
        )


class LeadListPage(ResultsPage[LeadList]):
    """Lead lists, one page (HubSpot pages lists by offset; the cursor carries it)."""


class MembershipResult(BaseModel):
    list_id: str
    added: list[str] = Field(default_factory=list, examples=[["101", "102"]])
    removed: list[str] = Field(default_factory=list, examples=[[]])
    missing: list[str] = Field(
        default_factory=list,
        examples=[["999"]],
        description="Ids HubSpot does not know as contacts of this portal",
    )
    unchanged: list[str] = Field(
        default_factory=list,
        description="Ids already in (add) or not in (remove) the list",
    )


class MemberPage(ResultsPage[str]):
    """Contact ids in a lead list, one page."""


# --------------------------------------------------------------------------- emails


class EmailTemplate(BaseModel):
    """A marketing email that can be sent (HubSpot has no separate template resource)."""

    id: str = Field(examples=["123456789"])
    name: str | None = Field(default=None, examples=["Welcome email"])
    subject: str | None = Field(default=None, examples=["Welcome to Acme"])
    state: str | None = Field(default=None, examples=["PUBLISHED"])
    type: str | None = Field(default=None, examples=["AUTOMATED_EMAIL"])
    is_published: bool | None = None
    from_name: str | None = None
    updated_at: datetime | None = None

    @classmethod
    def of(cls, e: MarketingEmail) -> EmailTemplate:
        return cls(
            id=e.id,
            name=e.name,
            subject=e.subject,
            state=e.state,
            type=e.type or e.email_type,
            is_published=e.is_published,
            from_name=_str((e.sender or {}).get("fromName")),
            updated_at=e.updated_at,
        )


class EmailTemplatePage(ResultsPage[EmailTemplate]):
    """Marketing emails that can be sent, one page."""


class Recipient(BaseModel):
    """Whom to send to: a contact id (its email is looked up) or an address."""

    model_config = ConfigDict(extra="forbid")

    contact_id: str | None = None
    email: str | None = None


RecipientStatus = Literal["sent", "failed", "skipped", "unknown"]


class RecipientResult(BaseModel):
    contact_id: str | None = None
    email: str | None = None
    status: RecipientStatus = Field(
        description="sent: HubSpot accepted it; failed: HubSpot refused it or it was not "
        "attempted because of an error; skipped: nothing to send to (no such contact, no "
        "address, duplicate); unknown: it may have been sent — not repeated, check in HubSpot",
    )
    status_id: str | None = Field(default=None, description="HubSpot's statusId of the send")
    send_result: str | None = Field(default=None, examples=["SENT"])
    error: dict[str, Any] | None = Field(
        default=None, examples=[{"code": "not_found", "message": "Contact 9 was not found"}]
    )


class SendSummary(BaseModel):
    email_id: int
    requested: int
    sent: int
    failed: int
    skipped: int
    unknown: int
    results: list[RecipientResult]

    @classmethod
    def of(cls, email_id: int, results: list[RecipientResult]) -> SendSummary:
        def n(s: str) -> int:
            return sum(1 for r in results if r.status == s)

        return cls(
            email_id=email_id,
            requested=len(results),
            sent=n("sent"),
            failed=n("failed"),
            skipped=n("skipped"),
            unknown=n("unknown"),
            results=results,
        )


# HubSpot's sendResult values meaning it took the message (anything else: it refused).
_ACCEPTED_SEND_RESULTS = frozenset({"SENT", "QUEUED"})


def _error_dict(err: HubSpotError) -> dict[str, Any]:
    d = {"code": err.code, "message": err.message}
    if err.correlation_id:
        d["correlation_id"] = err.correlation_id
    return d


def recipients_from(
    contact_ids: Iterable[str] | None, emails: Iterable[str] | None
) -> list[Recipient]:
    """Validate and merge recipients; 422 naming each bad field, nothing sent."""
    out: list[Recipient] = []
    errors: list[dict[str, Any]] = []
    # Each listed id is one recipient: a repeat is answered as a skipped duplicate.
    for i, cid in enumerate(contact_ids or []):
        if mapping.is_record_id(cid):
            out.append(Recipient(contact_id=str(cid).strip()))
        else:
            errors.append({"field": f"contact_ids.{i}", "message": mapping.NOT_A_RECORD_ID})
    for i, e in enumerate(emails or []):
        s = str(e).strip()
        if not mapping.EMAIL.match(s):
            errors.append({"field": f"emails.{i}", "message": "not a valid e-mail address"})
        else:
            out.append(Recipient(email=s))
    if errors:
        raise InputError(
            "Invalid recipients: " + ", ".join(e["field"] for e in errors), errors=errors
        )
    if not out:
        raise InputError(
            "Give contact_ids or emails (at least one recipient).",
            errors=[{"field": "contact_ids", "message": "no recipients"}],
        )
    if len(out) > MAX_RECIPIENTS:
        raise InputError(
            f"At most {MAX_RECIPIENTS} recipients per request.",
            errors=[{"field": "contact_ids", "message": "too many recipients"}],
        )
    return out


# --------------------------------------------------------------------------- the service


OnResult = Callable[[int, RecipientResult], Awaitable[None]]


class MarketingService:
    """Campaigns, lead lists, marketing emails and sends for one HubSpot connection."""

    def __init__(
        self,
        client: HubSpotClient,
        *,
        send_concurrency: int = 5,
        send_mode: Literal["single_send", "transactional"] = "single_send",
    ) -> None:
        self.client = client
        self.send_concurrency = max(1, send_concurrency)
        self.send_mode = send_mode

    # ------------------------------------------------------------------ campaigns

    async def list_campaigns(
        self, *, limit: int = 20, after: str | None = None, name: str | None = None
    ) -> CampaignInfoPage:
        async with tier_gate(TIER_CAMPAIGNS, "Campaigns"):
            page = await self.client.campaigns.list(limit=limit, after=after, name=name)
        return CampaignInfoPage(
            results=[CampaignInfo.of(c) for c in page.results],
            next_after=page.next_after,
            total=page.total,
        )

    async def get_campaign(self, campaign_id: str) -> CampaignInfo:
        async with tier_gate(TIER_CAMPAIGNS, "Campaigns"):
            return CampaignInfo.of(await self.client.campaigns.get(campaign_id))

    async def create_campaign(
        self,
        name: str,
        *,
        start_date: date | None = None,
        end_date: date | None = None,
        notes: str | None = None,
    ) -> CampaignInfo:
        if start_date and end_date and end_date < start_date:
            raise InputError(
                "end_date is before start_date",
                errors=[{"field": "end_date", "message": "before start_date"}],
            )
        async with tier_gate(TIER_CAMPAIGNS, "Campaigns"):
            created = await self.client.campaigns.create(
                name,
                start_date=start_date.isoformat() if start_date else None,
                end_date=end_date.isoformat() if end_date else None,
                notes=notes,
            )
        return CampaignInfo.of(created)

    async def campaign_metrics(self, campaign_id: str, start: date, end: date) -> CampaignReport:
        if end < start:
            raise InputError(
                "end_date is before start_date",
                errors=[{"field": "end_date", "message": "before start_date"}],
            )
        async with tier_gate(TIER_CAMPAIGNS, "Campaign reports"):
            raw = await self.client.campaigns.metrics(
                campaign_id, start.isoformat(), end.isoformat()
            )
        return CampaignReport.of(campaign_id, start, end, raw)

    # ------------------------------------------------------------------ lead lists

    async def list_lead_lists(
        self, *, query: str | None = None, limit: int = 20, after: str | None = None
    ) -> LeadListPage:
        offset = offset_cursor(after)
        page = await self.client.lists.search(query=query, count=limit, offset=offset)
        # Lead lists are lists of contacts; other object types are not ours to show.
        items = [
            LeadList.of(x) for x in page.lists if x.object_type_id in (None, CONTACT_OBJECT_TYPE)
        ]
        nxt = page.offset if page.has_more else None
        return LeadListPage(
            results=items,
            next_after=str(nxt) if nxt is not None and nxt > offset else None,
            total=page.total,
        )

    async def get_lead_list(self, list_id: str) -> LeadList:
        lst = LeadList.of(await self.client.lists.get(mapping.record_id("list_id", list_id)))
        if lst.object_type_id not in (None, CONTACT_OBJECT_TYPE):
            raise NotFound(f"List {list_id} is not a list of contacts.")
        return lst

    async def create_lead_list(
        self,
        name: str,
        *,
        processing_type: Literal["MANUAL", "DYNAMIC"] = "MANUAL",
        segment: Segment | None = None,
    ) -> LeadList:
        if processing_type == "DYNAMIC" and segment is None:
            raise InputError(
                "A DYNAMIC list needs a segment.",
                errors=[{"field": "segment", "message": "required for DYNAMIC"}],
            )
        if processing_type == "MANUAL" and segment is not None:
            raise InputError(
                "A MANUAL list takes no segment; add members instead.",
                errors=[{"field": "segment", "message": "only for DYNAMIC"}],
            )
        branch = segment_filter_branch(segment) if segment else None
        if segment is not None:
            await self._check_segment_properties(segment)
        created = await self.client.lists.create(
            name,
            processing_type=processing_type,
            filter_branch=branch,
            object_type_id=CONTACT_OBJECT_TYPE,
        )
        return LeadList.of(created)

    async def _check_segment_properties(self, segment: Segment) -> None:
        """422 naming each condition on a property the portal's contacts do not have: HubSpot
        would keep such a list silently empty. Without the schema scope, HubSpot decides.
        https://developers.hubspot.com/docs/api-reference/crm-properties-v3/guide"""
        try:
            defs = await self.client.properties.list("contacts")
        except (MissingScopes, TierRequired):
            return
        known = {d.name for d in defs}
        errors = [
            {
                "field": f"segment.conditions.{i}.property",
                "message": f"contacts have no property {c.property!r}",
            }
            for i, c in enumerate(segment.conditions)
            if c.property not in known
        ]
        if errors:
            names = ", ".join(
                sorted({c.property for c in segment.conditions if c.property not in known})
            )
            raise InputError(f"Unknown contact properties in the segment: {names}", errors=errors)

    async def _manual_list(self, list_id: str) -> LeadList:
        lst = await self.get_lead_list(list_id)
        if lst.processing_type not in (None, "MANUAL", "SNAPSHOT"):
            raise InputError(
                f"List {list_id} is {lst.processing_type}: HubSpot decides its members from its "
                "filters; only MANUAL and SNAPSHOT lists take members by hand.",
                errors=[{"field": "list_id", "message": "not a MANUAL or SNAPSHOT list"}],
            )
        return lst

    async def add_members(self, list_id: str, contact_ids: list[str]) -> MembershipResult:
        ids = mapping.record_ids("contact_ids", contact_ids)
        await self._manual_list(list_id)
        change = await self.client.lists.add_members(list_id, ids)
        added, missing = change.added, change.missing
        unchanged = [i for i in ids if i not in added and i not in missing]
        return MembershipResult(list_id=list_id, added=added, missing=missing, unchanged=unchanged)

    async def remove_members(self, list_id: str, contact_ids: list[str]) -> MembershipResult:
        ids = mapping.record_ids("contact_ids", contact_ids)
        await self._manual_list(list_id)
        change = await self.client.lists.remove_members(list_id, ids)
        removed = change.removed
        # HubSpot reports a contact that exists but is not in the list as "missing" too; only
        # ids that are no contact at all are missing, the others are unchanged.
        known = await self._existing_contacts(change.missing)
        missing = [i for i in change.missing if i not in known]
        unchanged = [i for i in ids if i not in removed and i not in missing]
        return MembershipResult(
            list_id=list_id, removed=removed, missing=missing, unchanged=unchanged
        )

    async def _existing_contacts(self, ids: list[str]) -> set[str]:
        """Which of `ids` are contacts of this portal (one batch read per 100)."""
        if not ids:
            return set()
        batch = await self.client.contacts.batch_read(ids, properties=["email"])
        return {str(o.id) for o in batch.results}

    async def list_members(
        self, list_id: str, *, limit: int = 100, after: str | None = None
    ) -> MemberPage:
        lid = mapping.record_id("list_id", list_id)
        page = await self.client.lists.members(lid, limit=limit, after=after)
        return MemberPage(
            results=[m.record_id for m in page.results],
            next_after=page.next_after,
            total=page.total,
        )

    # ------------------------------------------------------------------ emails

    async def list_email_templates(
        self, *, limit: int = 20, after: str | None = None, include_unpublished: bool = False
    ) -> EmailTemplatePage:
        page = await self.client.emails.list(
            limit=limit, after=after, is_published=None if include_unpublished else True
        )
        items = [EmailTemplate.of(e) for e in page.results]
        if not include_unpublished:
            # Only published emails can be sent; filter again in case the API ignored the flag.
            items = [e for e in items if e.is_published is not False]
        return EmailTemplatePage(results=items, next_after=page.next_after, total=None)

    async def get_email_template(self, email_id: int) -> EmailTemplate:
        return EmailTemplate.of(await self.client.emails.get(str(email_id)))

    async def sendable_email(self, email_id: int) -> EmailTemplate:
        """The email, or 409 when it is a draft: HubSpot sends only published emails, and
        refusing up front beats a send in which every recipient fails."""
        email = await self.get_email_template(email_id)
        state = (email.state or "").upper()
        if email.is_published is False or "DRAFT" in state:
            raise Conflict(
                f"Email {email_id} is not published ({email.state or 'draft'}): it must be "
                "published in HubSpot before it can be sent.",
                state=email.state,
            )
        return email

    async def resolve_recipients(
        self, recipients: list[Recipient]
    ) -> list[tuple[Recipient, str | None, RecipientResult | None]]:
        """(recipient, address to send to, or a final result when there is nothing to send)."""
        ids = [r.contact_id for r in recipients if r.contact_id]
        emails_by_id: dict[str, str | None] = {}
        if ids:
            unique = list(dict.fromkeys(ids))
            batch = await self.client.contacts.batch_read(unique, properties=["email"])
            for e in batch.errors:
                if e.inputs:
                    # A whole chunk could not be read: those contacts are unknown, not missing.
                    # Nothing has been sent yet, so failing here is safe to retry.
                    raise Unavailable(
                        "Could not read the recipients' contacts from HubSpot "
                        f"({e.message or 'no answer'}); nothing was sent.",
                        correlation_id=e.correlation_id,
                    )
            for obj in batch.results:
                emails_by_id[obj.id] = obj.properties.get("email") or None
        out: list[tuple[Recipient, str | None, RecipientResult | None]] = []
        seen: set[str] = set()
        for r in recipients:
            if r.contact_id:
                if r.contact_id not in emails_by_id:
                    out.append(
                        (
                            r,
                            None,
                            RecipientResult(
                                contact_id=r.contact_id,
                                status="skipped",
                                error={
                                    "code": "not_found",
                                    "message": f"Contact {r.contact_id} was not found",
                                },
                            ),
                        )
                    )
                    continue
                addr = emails_by_id[r.contact_id]
                if not addr:
                    out.append(
                        (
                            r,
                            None,
                            RecipientResult(
                                contact_id=r.contact_id,
                                status="skipped",
                                error={
                                    "code": "no_email",
                                    "message": f"Contact {r.contact_id} has no e-mail address",
                                },
                            ),
                        )
                    )
                    continue
            else:
                addr = r.email
            assert addr is not None
            key = addr.lower()
            if key in seen:
                out.append(
                    (
                        r,
                        addr,
                        RecipientResult(
                            contact_id=r.contact_id,
                            email=addr,
                            status="skipped",
                            error={
                                "code": "duplicate",
                                "message": "Same address earlier in this send; sent once",
                            },
                        ),
                    )
                )
                continue
            seen.add(key)
            out.append((r, addr, None))
        return out

    async def _send_one(
        self,
        email_id: int,
        r: Recipient,
        addr: str,
        contact_properties: dict[str, str] | None,
        custom_properties: dict[str, Any] | None,
        send_id: str | None,
    ) -> tuple[RecipientResult, HubSpotError | None]:
        base = {"contact_id": r.contact_id, "email": addr}
        if self.send_mode == "transactional":
            tier, call = TIER_TRANSACTIONAL, self.client.sends.transactional
        else:
            tier, call = TIER_SINGLE_SEND, self.client.sends.single_send
        try:
            async with tier_gate(tier, "Sending marketing email"):
                res: SendResult = await call(
                    email_id,
                    addr,
                    contact_properties=contact_properties,
                    custom_properties=custom_properties,
                    send_id=send_id,
                )
        except OutcomeUnknown as err:
            return RecipientResult(**base, status="unknown", error=_error_dict(err)), err
        except HubSpotError as err:
            return RecipientResult(**base, status="failed", error=_error_dict(err)), err
        send_result, status = res.send_result, res.status
        accepted = send_result in _ACCEPTED_SEND_RESULTS or (
            send_result is None and status != "CANCELED"
        )
        return RecipientResult(
            **base,
            status="sent" if accepted else "failed",
            status_id=res.status_id,
            send_result=send_result,
            error=None
            if accepted
            else {"code": "send_refused", "message": f"HubSpot did not send it: {send_result}"},
        ), None

    async def send_email(
        self,
        email_id: int,
        recipients: list[Recipient],
        *,
        contact_properties: dict[str, str] | None = None,
        custom_properties: dict[str, Any] | None = None,
        on_result: OnResult | None = None,
        raise_when_nothing_sent: bool = True,
        send_key: str | None = None,
    ) -> SendSummary:
        """One HubSpot call per recipient, at most `send_concurrency` at a time.

        `on_result(index, result)` is awaited as each recipient finishes (the scheduler records
        progress with it). An error that would fail every recipient alike (tier, scopes,
        connection, daily limit) stops the remaining sends; when nothing at all was sent it is
        raised as such, so the caller gets one clear answer instead of N copies.

        Each call carries HubSpot's `sendId` (`<send_key>-<index>`): HubSpot sends at most one
        email per sendId, a second line of defence behind never repeating a call ourselves.
        """
        key = send_key or uuid.uuid4().hex
        resolved = await self.resolve_recipients(recipients)
        results: list[RecipientResult | None] = [None] * len(resolved)
        sem = asyncio.Semaphore(self.send_concurrency)
        fatal: list[HubSpotError] = []

        async def one(i: int) -> None:
            r, addr, final = resolved[i]
            if final is None:
                assert addr is not None
                async with sem:
                    if fatal:
                        final = RecipientResult(
                            contact_id=r.contact_id,
                            email=addr,
                            status="failed",
                            error={
                                **_error_dict(fatal[0]),
                                "message": "Not attempted: " + fatal[0].message,
                            },
                        )
                    else:
                        final, err = await self._send_one(
                            email_id,
                            r,
                            addr,
                            contact_properties,
                            custom_properties,
                            f"atom-{key}-{i}",
                        )
                        if err is not None and isinstance(err, _FATAL):
                            fatal.append(err)
            results[i] = final
            if on_result is not None:
                await on_result(i, final)

        await asyncio.gather(*(one(i) for i in range(len(resolved))))
        done = [r for r in results if r is not None]
        summary = SendSummary.of(email_id, done)
        if fatal and raise_when_nothing_sent and summary.sent == 0 and summary.unknown == 0:
            raise fatal[0]
        return summary


# Errors that fail every recipient the same way: stop sending to the rest.
_FATAL = (TierRequired, MissingScopes, NotConnected, ReconnectRequired, RateLimited)
