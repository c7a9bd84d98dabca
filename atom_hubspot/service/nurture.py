"""Lead nurturing over one HubSpot connection: workflows (automation v4 flows) and sequences.

What HubSpot's public API lets an integration do, and nothing it does not:
- Workflows are read-only here. The v4 API has no "enroll this contact" call: a contact
  enters a list-based workflow when it joins a list the workflow enrolls from, so enrolling
  is adding the contact to that list (lists API), and unenrolling is removing it — which
  takes it out of the workflow only when the workflow unenrolls records that no longer meet
  its criteria. Other triggers are refused with what to do instead.
  https://developers.hubspot.com/docs/api-reference/legacy/automation/workflows/guide
- Sequences: listed and enrolled one contact per call, as a HubSpot user (found by the
  sender's email through the owners API). HubSpot has no unenroll endpoint: that is a 501.
  https://developers.hubspot.com/docs/api-reference/latest/automation/sequences/guide.md
- Performance: HubSpot's flow performance histogram where it answers (see
  `FlowsAPI.performance`), else only the enrollment lists' sizes, said so in `notes`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from atom_hubspot.client import HubSpotClient
from atom_hubspot.client.automation import FLOWS_TIER, SEQUENCES_TIER
from atom_hubspot.client.automation_models import Flow
from atom_hubspot.errors import (
    Conflict,
    HubSpotError,
    InputError,
    MissingScopes,
    NotConnected,
    NotFound,
    NotSupportedByHubSpot,
    OutcomeUnknown,
    ReconnectRequired,
    TierRequired,
)
from atom_hubspot.service import mapping
from atom_hubspot.service.lead_lists import MembershipResult
from atom_hubspot.service.marketing import MarketingService
from atom_hubspot.service.nurture_answers import (
    CONTACT_OBJECT_TYPE,
    ContactSequenceStatus,
    EnrollmentListSize,
    FlowEnrollmentResult,
    FlowInfo,
    FlowInfoPage,
    FlowPerformanceReport,
    FlowRef,
    PerformancePoint,
    SequenceEnrollmentOutcome,
    SequenceEnrollmentResult,
    SequenceInfo,
    SequenceInfoPage,
    enrolling_list_ids,
)
from atom_hubspot.service.tier_gate import tier_gate

WORKFLOWS = "Workflows"
SEQUENCES = "Sequences"
# How many workflows are read to answer which ones a list feeds (ten pages of 100).
MAX_FLOWS_SCANNED = 1000
MAX_PERFORMANCE_DAYS = 366
SEQUENCE_UNENROLL_GUIDANCE = (
    "HubSpot's sequences API has no unenroll endpoint: it lists sequences, enrolls contacts "
    "and reads a contact's enrollment, nothing more "
    "(https://developers.hubspot.com/docs/api-reference/latest/automation/sequences/guide.md). "
    "Unenroll the contact in HubSpot (the contact's record, Sequences, Unenroll); a contact "
    "also leaves a sequence on its own when it replies or books a meeting. Nothing was changed; "
    "GET /api/hubspot/nurture/contacts/{contact_id}/sequence-enrollment shows where a contact is."
)


class NurtureService:
    """Workflows and sequences for one HubSpot connection; list membership goes through the
    marketing service's lead-list methods (one way to change a list)."""

    def __init__(self, client: HubSpotClient, marketing: MarketingService) -> None:
        self.client = client
        self.marketing = marketing

    # ------------------------------------------------------------------ workflows

    async def list_flows(self, *, limit: int = 20, after: str | None = None) -> FlowInfoPage:
        """One page of workflows with their state and enrollment triggers (HubSpot's list has
        no triggers: the page's flows are read whole in one batch)."""
        async with tier_gate(FLOWS_TIER, WORKFLOWS):
            page = await self.client.flows.list(limit=limit, after=after)
            whole = {
                f.id: f for f in await self.client.flows.batch_read(f.id for f in page.results)
            }
        return FlowInfoPage(
            results=[FlowInfo.of(whole.get(f.id, f)) for f in page.results],
            next_after=page.next_after,
            total=None,
        )

    async def get_flow(self, flow_id: str) -> FlowInfo:
        return FlowInfo.of(await self._flow(flow_id))

    async def _flow(self, flow_id: str) -> Flow:
        fid = mapping.record_id("flow_id", flow_id)
        async with tier_gate(FLOWS_TIER, WORKFLOWS):
            return await self.client.flows.get(fid)

    async def flow_performance(
        self,
        flow_id: str,
        *,
        start: date | None = None,
        end: date | None = None,
        bucket: Literal["day", "week", "month"] = "day",
    ) -> FlowPerformanceReport:
        """HubSpot's enrolled / unenrolled / completed counts per bucket between two days
        (default: the last 30), and the sizes of the lists the workflow enrolls from."""
        end = end or datetime.now(UTC).date()
        start = start or end - timedelta(days=29)
        if end < start:
            raise InputError(
                "end_date is before start_date",
                errors=[{"field": "end_date", "message": "before start_date"}],
            )
        if (end - start).days >= MAX_PERFORMANCE_DAYS:
            raise InputError(
                f"The range is over {MAX_PERFORMANCE_DAYS} days; ask for a shorter one.",
                errors=[{"field": "start_date", "message": f"at most {MAX_PERFORMANCE_DAYS} days"}],
            )
        flow = await self._flow(flow_id)
        notes: list[str] = []
        points: list[PerformancePoint] = []
        source: Literal["hubspot", "unavailable"] = "hubspot"
        start_ms = int(datetime.combine(start, time(), tzinfo=UTC).timestamp() * 1000)
        end_ms = int(
            datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC).timestamp() * 1000
        )
        try:
            async with tier_gate(FLOWS_TIER, WORKFLOWS):
                perf = await self.client.flows.performance(
                    flow.id, start_ms=start_ms, end_ms=end_ms, bucket=bucket.upper()
                )
            points = [
                PerformancePoint(series=p.series, bucket=p.bucket, count=p.frequency)
                for p in perf.results
            ]
        except NotFound:
            # The flow was just read, so a 404 here is the endpoint, not the flow.
            source = "unavailable"
            notes.append(
                "HubSpot did not answer this workflow's performance (its v4 performance "
                "endpoint is not in HubSpot's reference and has no date-release successor); "
                "only the enrollment lists' sizes are given."
            )
        totals: dict[str, int] = {}
        for p in points:
            totals[p.series] = totals.get(p.series, 0) + p.count
        lists: list[EnrollmentListSize] = []
        for lid in enrolling_list_ids(flow.enrollment_criteria):
            try:
                lst = await self.client.lists.get(lid)
            except NotFound:
                notes.append(f"List {lid}, which the workflow enrolls from, no longer exists.")
                continue
            lists.append(
                EnrollmentListSize(
                    list_id=lid, name=lst.name, processing_type=lst.processing_type, size=lst.size
                )
            )
        if lists:
            notes.append(
                "enrollment_lists[].size counts the contacts in each list now: contacts who "
                "joined while the workflow was off, or were suppressed, are in it without being "
                "enrolled."
            )
        return FlowPerformanceReport(
            flow_id=flow.id,
            start_date=start.isoformat(),
            end_date=end.isoformat(),
            bucket=bucket,
            source=source,
            totals=totals,
            series=points,
            enrollment_lists=lists,
            notes=notes,
        )

    async def enroll_in_flow(
        self, flow_id: str, contact_ids: list[str], *, list_id: str | None = None
    ) -> FlowEnrollmentResult:
        """Enroll contacts by adding them to the list the workflow enrolls from."""
        flow, lid = await self._enrollment_list(flow_id, list_id, action="enroll")
        res = await self.marketing.add_members(lid, contact_ids)
        return await self._result(flow, lid, "enroll", res)

    async def unenroll_from_flow(
        self, flow_id: str, contact_ids: list[str], *, list_id: str | None = None
    ) -> FlowEnrollmentResult:
        """Take contacts out of a workflow by removing them from its enrollment list."""
        flow, lid = await self._enrollment_list(flow_id, list_id, action="unenroll")
        res = await self.marketing.remove_members(lid, contact_ids)
        return await self._result(flow, lid, "unenroll", res)

    async def _enrollment_list(
        self, flow_id: str, list_id: str | None, *, action: Literal["enroll", "unenroll"]
    ) -> tuple[Flow, str]:
        """The workflow and the MANUAL or SNAPSHOT list whose membership (un)enrolls, or a
        409 saying why there is none and what to do instead."""
        flow = await self._flow(flow_id)
        name = f"Workflow {flow.id} ({flow.name or 'unnamed'})"
        if flow.object_type_id not in (None, CONTACT_OBJECT_TYPE):
            raise Conflict(
                f"{name} enrolls records of type {flow.object_type_id}, not contacts.",
                object_type_id=flow.object_type_id,
            )
        candidates = enrolling_list_ids(flow.enrollment_criteria)
        if not candidates:
            kind = (flow.enrollment_criteria or {}).get("type") or "not given"
            raise Conflict(
                f"{name} does not enroll by list membership (its {kind} criteria have no "
                "'is a member of list' condition that enrolls on its own), and HubSpot's "
                "workflows API has no call that enrolls a contact directly. Give it a "
                "list-membership trigger in HubSpot, or use a sequence.",
                enrollment_type=kind,
            )
        if list_id is not None:
            lid = mapping.record_id("list_id", list_id)
            if lid not in candidates:
                raise InputError(
                    f"List {lid} does not enroll into {name}; it enrolls from: "
                    f"{', '.join(candidates)}.",
                    errors=[
                        {"field": "list_id", "message": "not a list the workflow enrolls from"}
                    ],
                )
        elif len(candidates) > 1:
            raise InputError(
                f"{name} enrolls from several lists ({', '.join(candidates)}); say which in "
                "list_id.",
                errors=[
                    {"field": "list_id", "message": "required: the workflow has several lists"}
                ],
            )
        else:
            lid = candidates[0]
        if action == "enroll" and flow.is_enabled is False:
            raise Conflict(
                f"{name} is off: contacts added to list {lid} would not be enrolled. Turn the "
                "workflow on in HubSpot first.",
                list_id=lid,
            )
        crit = flow.enrollment_criteria or {}
        if action == "unenroll" and crit.get("unEnrollObjectsNotMeetingCriteria") is not True:
            raise Conflict(
                f"{name} keeps contacts enrolled after they leave list {lid} (its 'unenroll "
                "when criteria are no longer met' setting is off), and HubSpot's workflows API "
                "has no unenroll call. Turn that setting on in HubSpot, or unenroll the "
                "contacts there.",
                list_id=lid,
            )
        lst = await self.marketing.get_lead_list(lid)
        if lst.processing_type not in (None, "MANUAL", "SNAPSHOT"):
            raise Conflict(
                f"{name} enrolls from list {lid}, which is {lst.processing_type}: HubSpot "
                "decides its members from its filters, so contacts cannot be added or removed "
                "by hand.",
                list_id=lid,
            )
        return flow, lid

    async def _result(
        self,
        flow: Flow,
        list_id: str,
        action: Literal["enroll", "unenroll"],
        res: MembershipResult,
    ) -> FlowEnrollmentResult:
        try:
            feeds, complete = await self.flows_fed_by(list_id)
        except HubSpotError:
            # The membership has changed already: the answer must still say so. Which other
            # workflows the list feeds is then unknown, and said to be.
            feeds = [FlowRef(id=flow.id, name=flow.name, enabled=flow.is_enabled)]
            complete = False
        return FlowEnrollmentResult(
            flow_id=flow.id,
            list_id=list_id,
            action=action,
            added=res.added,
            removed=res.removed,
            missing=res.missing,
            unchanged=res.unchanged,
            feeds_flows=feeds,
            feeds_flows_complete=complete,
        )

    async def flows_fed_by(self, list_id: str) -> tuple[list[FlowRef], bool]:
        """The workflows whose membership of `list_id` alone enrolls, and whether every
        workflow of the portal was read (at most MAX_FLOWS_SCANNED are)."""
        ids: list[str] = []
        complete = True
        async with tier_gate(FLOWS_TIER, WORKFLOWS):
            async for f in self.client.flows.iter_all():
                if len(ids) >= MAX_FLOWS_SCANNED:
                    complete = False
                    break
                ids.append(f.id)
            whole = await self.client.flows.batch_read(ids)
        fed = [
            FlowRef(id=f.id, name=f.name, enabled=f.is_enabled)
            for f in whole
            if list_id in enrolling_list_ids(f.enrollment_criteria)
        ]
        return sorted(fed, key=lambda r: r.id), complete

    # ------------------------------------------------------------------ sequences

    async def _user_id(self, email: str, field: str) -> str:
        """The HubSpot user id of a user of this portal, found by e-mail (owners API)."""
        owner = await self.client.owners.by_email(email)
        if owner is None or not owner.user_id:
            raise InputError(
                f"{field} is not a user of this HubSpot portal.",
                errors=[{"field": field, "message": "no HubSpot user of this portal has it"}],
            )
        return owner.user_id

    async def list_sequences(
        self,
        user_email: str,
        *,
        limit: int = 20,
        after: str | None = None,
        name: str | None = None,
    ) -> SequenceInfoPage:
        """The sequences of one HubSpot user (sequences belong to users)."""
        user_id = await self._user_id(user_email, "user_email")
        async with tier_gate(SEQUENCES_TIER, SEQUENCES):
            page = await self.client.sequences.list(user_id, limit=limit, after=after, name=name)
        return SequenceInfoPage(
            results=[SequenceInfo.of(s) for s in page.results],
            next_after=page.next_after,
            total=page.total,
        )

    async def enroll_in_sequence(
        self, sequence_id: str, contact_ids: list[str], sender_email: str
    ) -> SequenceEnrollmentResult:
        """Enroll each contact (one HubSpot call each, never repeated), sending as the user
        whose connected inbox `sender_email` is. A result per contact."""
        sid = mapping.record_id("sequence_id", sequence_id)
        ids = list(dict.fromkeys(mapping.record_ids("contact_ids", contact_ids, max_items=100)))
        user_id = await self._user_id(sender_email, "sender_email")
        outcomes: list[SequenceEnrollmentOutcome] = []
        async with tier_gate(SEQUENCES_TIER, SEQUENCES):
            seq = await self.client.sequences.get(sid, user_id)
            for cid in ids:
                outcomes.append(await self._enroll_one(sid, cid, sender_email, user_id))
        return SequenceEnrollmentResult(
            sequence_id=sid,
            sequence_name=seq.name,
            sender_email=sender_email,
            enrolled=sum(o.status == "enrolled" for o in outcomes),
            failed=sum(o.status == "failed" for o in outcomes),
            unknown=sum(o.status == "unknown" for o in outcomes),
            results=outcomes,
        )

    async def _enroll_one(
        self, sequence_id: str, contact_id: str, sender_email: str, user_id: str
    ) -> SequenceEnrollmentOutcome:
        try:
            e = await self.client.sequences.enroll(sequence_id, contact_id, sender_email, user_id)
        except (MissingScopes, TierRequired, ReconnectRequired, NotConnected):
            raise  # the same for every contact: the whole request fails, naming why
        except OutcomeUnknown as err:
            return SequenceEnrollmentOutcome(
                contact_id=contact_id, status="unknown", error=_error(err)
            )
        except HubSpotError as err:
            if err.status == 403:
                raise
            return SequenceEnrollmentOutcome(
                contact_id=contact_id, status="failed", error=_error(err)
            )
        return SequenceEnrollmentOutcome(
            contact_id=contact_id,
            status="enrolled",
            enrollment_id=e.id,
            to_email=e.to_email,
            enrolled_at=e.enrolled_at,
        )

    async def contact_sequence_enrollment(self, contact_id: str) -> ContactSequenceStatus:
        """The sequence a contact is in now (HubSpot answers 404 when it is in none; an
        unknown contact stays a 404)."""
        cid = mapping.record_id("contact_id", contact_id)
        try:
            async with tier_gate(SEQUENCES_TIER, SEQUENCES):
                e = await self.client.sequences.enrollment_of(cid)
        except NotFound:
            await self.client.contacts.get(cid, properties=["email"])  # 404 for no contact
            return ContactSequenceStatus(contact_id=cid, enrolled=False)
        return ContactSequenceStatus(
            contact_id=cid,
            enrolled=True,
            enrollment_id=e.id,
            sequence_id=e.sequence_id,
            sequence_name=e.sequence_name,
            to_email=e.to_email,
            enrolled_by_email=e.enrolled_by_email,
            enrolled_at=e.enrolled_at,
        )

    def unenroll_from_sequence(self, sequence_id: str) -> None:
        """HubSpot offers no way to do this: always NotSupportedByHubSpot, nothing sent."""
        mapping.record_id("sequence_id", sequence_id)
        raise NotSupportedByHubSpot(SEQUENCE_UNENROLL_GUIDANCE)


def _error(err: HubSpotError) -> dict[str, str]:
    out = {"code": err.code, "message": err.message}
    if err.correlation_id:
        out["correlation_id"] = err.correlation_id
    return out
