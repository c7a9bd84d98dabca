"""Lead nurturing routes under `/api/hubspot/nurture`: HubSpot workflows (automation v4 flows)
and sequences. Each handler calls one `NurtureService` method (service/nurture.py says what
HubSpot allows and what it does not).
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from atom_host_stub.contract import ErrorEnvelope, HostContext
from atom_hubspot.api.deps import AfterQuery, RequestScope, answer, scope_dependency
from atom_hubspot.api.envelope import Envelope, envelope_router
from atom_hubspot.api.marketing_bodies import ContactIdList
from atom_hubspot.api.marketing_routes import DateQuery, LimitQuery
from atom_hubspot.service import mapping
from atom_hubspot.service.nurture_answers import (
    ContactSequenceStatus,
    FlowEnrollmentResult,
    FlowInfo,
    FlowInfoPage,
    FlowPerformanceReport,
    SequenceEnrollmentResult,
    SequenceInfoPage,
)

TAG = "HubSpot nurture"

FlowIdPath = Annotated[
    str,
    Path(
        pattern=r"^[0-9]{1,20}$", description="HubSpot workflow (flow) id", examples=["585051946"]
    ),
]
ContactIdPath = Annotated[
    str, Path(pattern=r"^[0-9]{1,20}$", description="HubSpot contact id", examples=["1101"])
]
SequenceIdPath = Annotated[
    str, Path(pattern=r"^[0-9]{1,20}$", description="HubSpot sequence id", examples=["421001"])
]
EmailText = Annotated[str, Field(min_length=3, max_length=254, pattern=mapping.EMAIL.pattern + "$")]


class FlowEnrollmentBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"contact_ids": ["101", "102"]}, {"contact_ids": ["101"], "list_id": "1"}]
        },
    )

    contact_ids: ContactIdList
    list_id: str | None = Field(
        default=None,
        pattern=r"^[0-9]{1,20}$",
        description="Which of the workflow's enrollment lists to use; needed only when it "
        "enrolls from several",
    )


class SequenceEnrollmentBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"contact_ids": ["101", "102"], "sender_email": "sales@example.com"}]
        },
    )

    contact_ids: Annotated[
        list[Annotated[str, Field(pattern=r"^[0-9]{1,20}$")]],
        Field(min_length=1, max_length=100, examples=[["101", "102"]]),
    ]
    sender_email: EmailText = Field(
        description="An inbox the sending HubSpot user has connected; the sequence is run as "
        "that user",
        examples=["sales@example.com"],
    )


NOT_SUPPORTED: dict[int | str, dict[str, Any]] = {
    501: {"model": ErrorEnvelope, "description": "HubSpot offers no way to do this (guidance)"}
}


def build_router(context: HostContext) -> APIRouter:
    """The nurture routes; mount under the prefix `/api/hubspot`."""
    router = envelope_router(prefix="/nurture", tags=[TAG])
    Scope = Annotated[RequestScope, Depends(scope_dependency(context))]

    # ------------------------------------------------------------------ workflows

    @router.get(
        "/flows",
        response_model=Envelope[FlowInfoPage],
        operation_id="list_nurture_flows",
        summary="HubSpot workflows with their state and enrollment triggers",
        description="Needs the `automation` scope and a Professional hub (403 naming them "
        "otherwise). `enrollment.list_ids` are the lists whose membership alone enrolls a "
        "contact: the way the enrollment routes enroll. HubSpot gives no total.",
    )
    async def list_flows(
        scope: Scope, limit: LimitQuery = 20, after: AfterQuery = None
    ) -> dict[str, Any]:
        return answer(scope, await scope.services.nurture.list_flows(limit=limit, after=after))

    @router.get(
        "/flows/{flow_id}",
        response_model=Envelope[FlowInfo],
        operation_id="get_nurture_flow",
        summary="One workflow with its enrollment triggers",
    )
    async def get_flow(scope: Scope, flow_id: FlowIdPath) -> dict[str, Any]:
        return answer(scope, await scope.services.nurture.get_flow(flow_id))

    @router.get(
        "/flows/{flow_id}/performance",
        response_model=Envelope[FlowPerformanceReport],
        operation_id="get_nurture_flow_performance",
        summary="A workflow's enrolled, unenrolled and completed counts over a date range",
        description="From HubSpot's flow performance histogram (default: the last 30 days), "
        "with the sizes of the lists the workflow enrolls from. That HubSpot endpoint is "
        "outside its reference pages; where HubSpot does not answer it, `source` is "
        "`unavailable`, the counts are absent (never zero) and `notes` say so.",
    )
    async def flow_performance(
        scope: Scope,
        flow_id: FlowIdPath,
        start_date: DateQuery = None,
        end_date: DateQuery = None,
        bucket: Annotated[
            Literal["day", "week", "month"], Query(description="Bucket of the counts")
        ] = "day",
    ) -> dict[str, Any]:
        report = await scope.services.nurture.flow_performance(
            flow_id, start=start_date, end=end_date, bucket=bucket
        )
        return answer(scope, report)

    @router.post(
        "/flows/{flow_id}/enrollments",
        response_model=Envelope[FlowEnrollmentResult],
        operation_id="enroll_in_nurture_flow",
        summary="Enroll contacts in a workflow through the list it enrolls from",
        description="HubSpot's workflows API has no enroll call: the contacts are added to the "
        "MANUAL or SNAPSHOT list whose membership enrolls them. The answer names every "
        "workflow that list feeds (`feeds_flows`). 409 when the workflow is off, does not "
        "enroll from such a list, or enrolls something other than contacts.",
    )
    async def enroll_in_flow(
        scope: Scope, flow_id: FlowIdPath, body: FlowEnrollmentBody
    ) -> dict[str, Any]:
        res = await scope.services.nurture.enroll_in_flow(
            flow_id, body.contact_ids, list_id=body.list_id
        )
        return answer(scope, res)

    @router.delete(
        "/flows/{flow_id}/enrollments",
        response_model=Envelope[FlowEnrollmentResult],
        operation_id="unenroll_from_nurture_flow",
        summary="Take contacts out of a workflow by removing them from its enrollment list",
        description="Works only where the workflow unenrolls contacts that no longer meet its "
        "criteria (HubSpot has no unenroll call); 409 with what to do otherwise.",
    )
    async def unenroll_from_flow(
        scope: Scope, flow_id: FlowIdPath, body: Annotated[FlowEnrollmentBody, Body()]
    ) -> dict[str, Any]:
        res = await scope.services.nurture.unenroll_from_flow(
            flow_id, body.contact_ids, list_id=body.list_id
        )
        return answer(scope, res)

    # ------------------------------------------------------------------ sequences

    @router.get(
        "/sequences",
        response_model=Envelope[SequenceInfoPage],
        operation_id="list_nurture_sequences",
        summary="A HubSpot user's sequences",
        description="Sequences belong to HubSpot users: `user_email` names the user (found "
        "through HubSpot's owners). Needs a Sales Hub or Service Hub Professional seat and "
        "the `automation.sequences.read` scope (403 naming them otherwise).",
    )
    async def list_sequences(
        scope: Scope,
        user_email: Annotated[
            str,
            Query(
                min_length=3,
                max_length=254,
                pattern=mapping.EMAIL.pattern + "$",
                description="E-mail of the HubSpot user whose sequences to list",
                examples=["sales@example.com"],
            ),
        ],
        limit: LimitQuery = 20,
        after: AfterQuery = None,
        name: Annotated[str | None, Query(max_length=255, description="Filter by name")] = None,
    ) -> dict[str, Any]:
        page = await scope.services.nurture.list_sequences(
            user_email, limit=limit, after=after, name=name
        )
        return answer(scope, page)

    @router.post(
        "/sequences/{sequence_id}/enrollments",
        response_model=Envelope[SequenceEnrollmentResult],
        operation_id="enroll_in_nurture_sequence",
        summary="Enroll contacts in a sequence",
        description="One HubSpot call per contact (HubSpot takes one at a time), sent as the "
        "user whose connected inbox `sender_email` is; a result per contact: enrolled, failed "
        "(e.g. already in a sequence) or unknown (no answer came; not repeated).",
    )
    async def enroll_in_sequence(
        scope: Scope, sequence_id: SequenceIdPath, body: SequenceEnrollmentBody
    ) -> dict[str, Any]:
        res = await scope.services.nurture.enroll_in_sequence(
            sequence_id, body.contact_ids, body.sender_email
        )
        return answer(scope, res)

    @router.get(
        "/contacts/{contact_id}/sequence-enrollment",
        response_model=Envelope[ContactSequenceStatus],
        operation_id="get_contact_sequence_enrollment",
        summary="The sequence a contact is in now",
        description="`enrolled: false` when it is in none (HubSpot keeps a contact in one "
        "sequence at a time); 404 for an unknown contact.",
    )
    async def contact_sequence_enrollment(
        scope: Scope, contact_id: ContactIdPath
    ) -> dict[str, Any]:
        return answer(scope, await scope.services.nurture.contact_sequence_enrollment(contact_id))

    @router.delete(
        "/sequences/{sequence_id}/enrollments",
        response_model=Envelope[None],
        operation_id="unenroll_from_nurture_sequence",
        summary="Unenroll from a sequence: not offered by HubSpot (501)",
        description="HubSpot's sequences API has no unenroll endpoint. Always "
        "`501 not_supported_by_hubspot`, with what to do instead; nothing is changed.",
        responses=NOT_SUPPORTED,
    )
    async def unenroll_from_sequence(scope: Scope, sequence_id: SequenceIdPath) -> dict[str, Any]:
        scope.services.nurture.unenroll_from_sequence(sequence_id)
        return answer(scope, None)

    return router
