"""Marketing features over one HubSpot connection: campaigns, lead lists, marketing emails, sends.

HubSpot has no "templates" resource and no lead-lists API of its own: what a user picks to send
is a marketing email (its `emailId`), and a lead list is a CRM list of contacts (object type 0-1).
Single-send takes one recipient per call and cannot schedule; scheduling is ours
(`atom_hubspot.service.scheduler`). See the facts sheet, sections 6 and 7.

What the routes answer with lives by subject (`campaigns`, `lead_lists`, `email_sends`): each
answer is built by attribute from the typed model the client hands back
(`atom_hubspot.client.models`), which is the one model of what HubSpot sent.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any, Literal

from atom_hubspot.client import HubSpotClient
from atom_hubspot.client.models import (
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
from atom_hubspot.service.campaigns import CampaignInfo, CampaignInfoPage, CampaignReport
from atom_hubspot.service.email_sends import (
    ACCEPTED_SEND_RESULTS,
    EmailTemplate,
    EmailTemplatePage,
    OnResult,
    Recipient,
    RecipientResult,
    SendSummary,
    error_dict,
)
from atom_hubspot.service.lead_lists import (
    CONTACT_OBJECT_TYPE,
    LeadList,
    LeadListPage,
    MemberPage,
    MembershipResult,
    Segment,
    segment_filter_branch,
)
from atom_hubspot.service.pages import offset_cursor
from atom_hubspot.service.tier_gate import (
    TIER_CAMPAIGNS,
    TIER_SINGLE_SEND,
    TIER_TRANSACTIONAL,
    tier_gate,
)

# --------------------------------------------------------------------------- the service


# How a send to contacts goes out: a marketing single-send, or a transactional email.
SendMode = Literal["single_send", "transactional"]


class MarketingService:
    """Campaigns, lead lists, marketing emails and sends for one HubSpot connection."""

    def __init__(
        self,
        client: HubSpotClient,
        *,
        send_concurrency: int = 5,
        send_mode: SendMode = "single_send",
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
                    why = f"Contact {r.contact_id} was not found"
                    out.append((r, None, _skipped(r, "not_found", why)))
                    continue
                addr = emails_by_id[r.contact_id]
                if not addr:
                    why = f"Contact {r.contact_id} has no e-mail address"
                    out.append((r, None, _skipped(r, "no_email", why)))
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
            return RecipientResult(**base, status="unknown", error=error_dict(err)), err
        except HubSpotError as err:
            return RecipientResult(**base, status="failed", error=error_dict(err)), err
        send_result, status = res.send_result, res.status
        accepted = send_result in ACCEPTED_SEND_RESULTS or (
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
                                **error_dict(fatal[0]),
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


def _skipped(r: Recipient, code: str, message: str) -> RecipientResult:
    """Nothing to send to for this recipient (no such contact, no address)."""
    return RecipientResult(
        contact_id=r.contact_id, status="skipped", error={"code": code, "message": message}
    )


# Errors that fail every recipient the same way: stop sending to the rest.
_FATAL = (TierRequired, MissingScopes, NotConnected, ReconnectRequired, RateLimited)
