"""Lead nurturing as the routes answer it: workflows with their enrollment triggers, their
performance, enrollments through a workflow's list, sequences and sequence enrollments.

Built by attribute from the client's typed models (`client/automation_models.py`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from atom_hubspot.client.automation_models import Flow, Sequence
from atom_hubspot.service.pages import ResultsPage

CONTACT_OBJECT_TYPE = "0-1"


def _sole_in_list(branch: dict[str, Any]) -> str | None:
    """The list id when `branch` is one IN_LIST filter and nothing else: membership of that
    list alone then meets the branch.
    https://developers.hubspot.com/docs/api-reference/crm-lists-v3/list-filters"""
    filters = branch.get("filters") or []
    if branch.get("filterBranches") or len(filters) != 1:
        return None
    return _in_list(filters[0])


def _in_list(f: Any) -> str | None:
    if not isinstance(f, dict) or f.get("filterType") != "IN_LIST":
        return None
    if str(f.get("operator") or "IN_LIST").upper() != "IN_LIST":
        return None
    lid = f.get("listId")
    return None if lid is None else str(lid)


def enrolling_list_ids(criteria: dict[str, Any] | None) -> list[str]:
    """The lists whose membership alone enrolls a record into a workflow: list-based criteria
    whose filter tree is an OR of alternatives, one of which is "is a member of list X" (or
    the whole tree is that one filter). A list that is only one condition among others is
    not one: joining it does not enroll by itself."""
    if not criteria or str(criteria.get("type") or "").upper() != "LIST_BASED":
        return []
    root = criteria.get("listFilterBranch")
    if not isinstance(root, dict):
        return []
    out: list[str] = []
    if str(root.get("filterBranchType") or "").upper() == "OR":
        # Each filter of an OR root is an alternative, and so is each child branch.
        out += [lid for f in root.get("filters") or [] if (lid := _in_list(f)) is not None]
        out += [
            lid
            for child in root.get("filterBranches") or []
            if isinstance(child, dict) and (lid := _sole_in_list(child)) is not None
        ]
    else:
        lid = _sole_in_list(root)
        if lid is not None:
            out.append(lid)
    return list(dict.fromkeys(out))


class FlowEnrollmentTrigger(BaseModel):
    """How records enter a workflow (HubSpot's `enrollmentCriteria`)."""

    type: str | None = Field(
        default=None,
        description="HubSpot's enrollment type: LIST_BASED (filters, list membership), "
        "EVENT_BASED, MANUAL, …",
        examples=["LIST_BASED"],
    )
    list_ids: list[str] = Field(
        default_factory=list,
        description="Lists whose membership alone enrolls a contact: adding a contact to one "
        "of them is how the nurture routes enroll it",
        examples=[["1"]],
    )
    re_enrolls: bool | None = Field(default=None, description="HubSpot's shouldReEnroll")
    unenrolls_when_criteria_unmet: bool | None = Field(
        default=None,
        description="HubSpot's unEnrollObjectsNotMeetingCriteria: whether leaving the list "
        "takes a contact out of the workflow",
    )
    criteria: dict[str, Any] | None = Field(
        default=None, description="HubSpot's enrollmentCriteria as it sent it"
    )

    @classmethod
    def of(cls, criteria: dict[str, Any] | None) -> FlowEnrollmentTrigger | None:
        if criteria is None:
            return None
        re_enroll = criteria.get("shouldReEnroll")
        unenroll = criteria.get("unEnrollObjectsNotMeetingCriteria")
        return cls(
            type=None if criteria.get("type") is None else str(criteria["type"]),
            list_ids=enrolling_list_ids(criteria),
            re_enrolls=re_enroll if isinstance(re_enroll, bool) else None,
            unenrolls_when_criteria_unmet=unenroll if isinstance(unenroll, bool) else None,
            criteria=criteria,
        )


class FlowInfo(BaseModel):
    """A HubSpot workflow (automation v4 flow)."""

    id: str = Field(examples=["585051946"])
    name: str | None = Field(default=None, examples=["Newsletter nurture"])
    enabled: bool | None = Field(default=None, description="HubSpot's isEnabled")
    state: Literal["enabled", "disabled"] | None = Field(default=None, examples=["enabled"])
    flow_type: str | None = Field(default=None, examples=["WORKFLOW"])
    type: str | None = Field(default=None, examples=["CONTACT_FLOW"])
    object_type_id: str | None = Field(
        default=None,
        description="What it enrolls: 0-1 contacts, 0-2 companies, …",
        examples=["0-1"],
    )
    revision_id: str | None = Field(default=None, examples=["7"])
    description: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    enrollment: FlowEnrollmentTrigger | None = Field(
        default=None, description="Enrollment triggers (null when HubSpot did not send them)"
    )

    @classmethod
    def of(cls, flow: Flow) -> FlowInfo:
        enabled = flow.is_enabled
        return cls(
            id=flow.id,
            name=flow.name,
            enabled=enabled,
            state=None if enabled is None else ("enabled" if enabled else "disabled"),
            flow_type=flow.flow_type,
            type=flow.type,
            object_type_id=flow.object_type_id,
            revision_id=flow.revision_id,
            description=flow.description,
            created_at=flow.created_at,
            updated_at=flow.updated_at,
            enrollment=FlowEnrollmentTrigger.of(flow.enrollment_criteria),
        )


class FlowInfoPage(ResultsPage[FlowInfo]):
    """Workflows, one page (HubSpot gives no total)."""


class FlowRef(BaseModel):
    id: str = Field(examples=["585051946"])
    name: str | None = Field(default=None, examples=["Newsletter nurture"])
    enabled: bool | None = None


class FlowEnrollmentResult(BaseModel):
    """What adding contacts to (or removing them from) a workflow's enrollment list did."""

    flow_id: str = Field(examples=["585051946"])
    list_id: str = Field(description="The list the workflow enrolls from", examples=["1"])
    action: Literal["enroll", "unenroll"]
    added: list[str] = Field(default_factory=list, examples=[["101"]])
    removed: list[str] = Field(default_factory=list, examples=[[]])
    missing: list[str] = Field(
        default_factory=list, description="Ids HubSpot does not know as contacts", examples=[[]]
    )
    unchanged: list[str] = Field(
        default_factory=list, description="Already in (enroll) or not in (unenroll) the list"
    )
    feeds_flows: list[FlowRef] = Field(
        default_factory=list,
        description="Every workflow this list enrolls into (this one included): a change of "
        "membership enrolls into, or takes out of, all the enabled ones",
    )
    feeds_flows_complete: bool = Field(
        default=True, description="False when the portal has more workflows than were read"
    )


class PerformancePoint(BaseModel):
    series: str = Field(description="ENROLLED, UNENROLLED, COMPLETED, …", examples=["ENROLLED"])
    bucket: str = Field(description="First day of the bucket", examples=["2026-11-02"])
    count: int = Field(examples=[12])


class EnrollmentListSize(BaseModel):
    list_id: str = Field(examples=["1"])
    name: str | None = Field(default=None, examples=["Newsletter subscribers"])
    processing_type: str | None = Field(default=None, examples=["MANUAL"])
    size: int | None = Field(
        default=None, description="Contacts in the list now (not how many were enrolled)"
    )


class FlowPerformanceReport(BaseModel):
    flow_id: str = Field(examples=["585051946"])
    start_date: str = Field(examples=["2026-11-01"])
    end_date: str = Field(examples=["2026-11-30"])
    bucket: Literal["day", "week", "month"]
    source: Literal["hubspot", "unavailable"] = Field(
        description="hubspot: the counts are HubSpot's; unavailable: HubSpot did not answer "
        "them (see notes) and only the enrollment lists' sizes are given"
    )
    totals: dict[str, int] = Field(
        default_factory=dict,
        description="Per series over the range; a series HubSpot did not report is absent, "
        "not zero",
        examples=[{"ENROLLED": 42, "COMPLETED": 30}],
    )
    series: list[PerformancePoint] = Field(default_factory=list)
    enrollment_lists: list[EnrollmentListSize] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class SequenceInfo(BaseModel):
    id: str = Field(examples=["421001"])
    name: str | None = Field(default=None, examples=["Demo request follow-up"])
    user_id: str | None = Field(default=None, description="The HubSpot user it belongs to")
    folder_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def of(cls, s: Sequence) -> SequenceInfo:
        return cls(
            id=s.id,
            name=s.name,
            user_id=s.user_id,
            folder_id=s.folder_id,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )


class SequenceInfoPage(ResultsPage[SequenceInfo]):
    """Sequences of one HubSpot user, one page."""


class SequenceEnrollmentOutcome(BaseModel):
    contact_id: str = Field(examples=["1101"])
    status: Literal["enrolled", "failed", "unknown"] = Field(
        description="unknown: the enrollment may have happened (no answer came); it was not "
        "sent again"
    )
    enrollment_id: str | None = Field(default=None, examples=["9000001"])
    to_email: str | None = None
    enrolled_at: datetime | None = None
    error: dict[str, Any] | None = Field(
        default=None, description="code and message when not enrolled"
    )


class SequenceEnrollmentResult(BaseModel):
    sequence_id: str = Field(examples=["421001"])
    sequence_name: str | None = None
    sender_email: str = Field(examples=["demo@atom.example"])
    enrolled: int = 0
    failed: int = 0
    unknown: int = 0
    results: list[SequenceEnrollmentOutcome] = Field(default_factory=list)


class ContactSequenceStatus(BaseModel):
    """Whether a contact is in a sequence now, and which."""

    contact_id: str = Field(examples=["1101"])
    enrolled: bool
    enrollment_id: str | None = Field(default=None, examples=["9000001"])
    sequence_id: str | None = Field(default=None, examples=["421001"])
    sequence_name: str | None = Field(default=None, examples=["Demo request follow-up"])
    to_email: str | None = None
    enrolled_by_email: str | None = Field(
        default=None, description="The HubSpot user who enrolled the contact"
    )
    enrolled_at: datetime | None = None
