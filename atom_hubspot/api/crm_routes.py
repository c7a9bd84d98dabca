"""CRM routes: contacts, companies and deals (list/search, read, create, update, archive) and
deal pipelines, under `/api/hubspot`.

Bodies are flat JSON objects keyed by HubSpot property names (`{"email": …, "firstname": …}`),
custom properties included; records come back in HubSpot's shape (`id`, `properties`, …). Every
route is scoped to the caller's own connection (see `deps.scope_dependency`).
"""

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from atom_host_stub.contract import HostContext, ObjectKind, Pipeline, Stage
from atom_hubspot.api.deps import (
    AfterQuery,
    RequestScope,
    SourceQuery,
    answer,
    live_meta,
    scope_dependency,
    source_meta,
)
from atom_hubspot.api.envelope import Envelope, envelope_router
from atom_hubspot.service import mapping
from atom_hubspot.service.crm_records import Archived, HubSpotRecord, RecordPage
from atom_hubspot.service.crm_requests import (
    MAX_VALUE_LENGTH,
    CompanyQuery,
    ContactQuery,
    DealQuery,
    RecordQuery,
)
from atom_hubspot.service.pages import ResultsPage

# --------------------------------------------------------------------------- models

# At most this many properties in one body: far more than a record form has, and it bounds the
# work one request can make (each is checked, then sent to HubSpot).
MAX_PROPERTIES = 1000
_VALUE_SCHEMA = {
    "anyOf": [
        {"type": "string", "maxLength": MAX_VALUE_LENGTH},  # checked in crm_requests
        {"type": "number", "description": mapping.NUMBER_LIMIT},
        {"type": "boolean"},
        {"type": "null"},
    ]
}
# A property value as a caller may send it; checked by `service.crm_requests.record_input`
# with messages that name the property (HubSpot stores every value as a string).
PropertyValue = Annotated[Any, WithJsonSchema(_VALUE_SCHEMA)]
RecordIdList = Annotated[
    list[Any],
    WithJsonSchema(
        {"type": "array", "items": {"type": "string", "pattern": r"^[0-9]{1,20}$"}, "maxItems": 100}
    ),
]


class _PropertiesBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, PropertyValue] = Field(init=False)

    @model_validator(mode="before")
    @classmethod
    def _bounded(cls, data: Any) -> Any:
        # Before pydantic builds anything from it: a body of a million keys stops here.
        if isinstance(data, dict) and len(data) > MAX_PROPERTIES:
            raise ValueError(f"{len(data)} properties; at most {MAX_PROPERTIES} in one request")
        return data


class ContactBody(_PropertiesBody):
    """A contact's properties by HubSpot name; other (custom) properties are allowed."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "maxProperties": MAX_PROPERTIES,
            "examples": [
                {
                    "email": "ada@example.com",
                    "firstname": "Ada",
                    "lastname": "Lovelace",
                    "phone": "+44 20 7946 0000",
                    "company": "Analytical Engines Ltd",
                    "lifecyclestage": "lead",
                    "favourite_language": "ada",
                }
            ],
        },
    )
    email: PropertyValue = None
    firstname: PropertyValue = None
    lastname: PropertyValue = None
    phone: PropertyValue = None
    company: PropertyValue = None
    lifecyclestage: PropertyValue = None


class CompanyBody(_PropertiesBody):
    """A company's properties by HubSpot name; other (custom) properties are allowed."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "maxProperties": MAX_PROPERTIES,
            "examples": [
                {
                    "name": "Analytical Engines Ltd",
                    "domain": "analytical-engines.example",
                    "industry": "COMPUTER_SOFTWARE",
                    "numberofemployees": 42,
                    "city": "London",
                    "country": "United Kingdom",
                }
            ],
        },
    )
    name: PropertyValue = None
    domain: PropertyValue = None
    industry: PropertyValue = None
    numberofemployees: PropertyValue = None
    city: PropertyValue = None
    country: PropertyValue = None


class DealBody(_PropertiesBody):
    """A deal's properties by HubSpot name, plus contacts and companies to associate."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "maxProperties": MAX_PROPERTIES,
            "examples": [
                {
                    "dealname": "Difference Engine No. 2",
                    "amount": "12500.50",
                    "pipeline": "default",
                    "dealstage": "qualifiedtobuy",
                    "closedate": "2026-12-31",
                    "contact_ids": ["101"],
                    "company_ids": ["201"],
                }
            ],
        },
    )
    dealname: PropertyValue = None
    amount: PropertyValue = Field(
        default=None, description='Decimal, as a string or a number, e.g. "12500.50"'
    )
    pipeline: PropertyValue = None
    dealstage: PropertyValue = None
    closedate: PropertyValue = Field(
        default=None, description="ISO-8601 date or date-time, or epoch milliseconds"
    )
    hubspot_owner_id: PropertyValue = None
    contact_ids: RecordIdList = Field(
        default_factory=list, description="Contacts to associate (default association type)"
    )
    company_ids: RecordIdList = Field(
        default_factory=list, description="Companies to associate (default association type)"
    )


Text = Annotated[str | None, Query(max_length=200)]
DateText = Annotated[
    str | None,
    Query(max_length=40, description="ISO-8601 date or date-time", examples=["2026-01-31"]),
]
DecimalText = Annotated[
    str | None, Query(pattern=r"^-?[0-9]{1,15}(\.[0-9]{1,6})?$", examples=["1000.00"])
]


def contact_filters(
    email: Annotated[
        str | None,
        Query(max_length=254, description="Exact e-mail address", examples=["ada@example.com"]),
    ] = None,
    name: Annotated[
        str | None,
        Query(max_length=200, description="Part of first or last name", examples=["Ada"]),
    ] = None,
    company: Annotated[
        str | None, Query(max_length=200, description="Part of the company name")
    ] = None,
    lifecycle_stage: Annotated[str | None, Query(max_length=100, examples=["lead"])] = None,
    created_from: DateText = None,
    created_to: DateText = None,
    score_property: Annotated[
        str | None,
        Query(
            pattern=r"^[a-z][a-z0-9_]{0,99}$",
            description="Score property the score filters apply to (default: the portal's "
            "default score; GET /api/hubspot/contacts/score-properties lists them)",
            examples=["hubspotscore"],
        ),
    ] = None,
    score_min: Annotated[
        str | None, Query(max_length=40, description="Score at least this", examples=["50"])
    ] = None,
    score_max: Annotated[
        str | None, Query(max_length=40, description="Score at most this", examples=["100"])
    ] = None,
    score: Annotated[
        str | None, Query(max_length=40, description="Score exactly this", examples=["75"])
    ] = None,
) -> ContactQuery:
    """Contact filters, ANDed. `name` matches first OR last name. `score_min` and `score_max`
    together are one range (both ends included)."""
    return ContactQuery(
        email,
        name,
        company,
        lifecycle_stage,
        created_from,
        created_to,
        score_property=score_property,
        score_min=score_min,
        score_max=score_max,
        score=score,
    )


def company_filters(
    name: Annotated[
        str | None,
        Query(max_length=200, description="Part of the company name", examples=["Analytical"]),
    ] = None,
    domain: Annotated[
        str | None,
        Query(max_length=253, description="Exact domain", examples=["analytical-engines.example"]),
    ] = None,
    industry: Annotated[str | None, Query(max_length=100, examples=["COMPUTER_SOFTWARE"])] = None,
) -> CompanyQuery:
    return CompanyQuery(name, domain, industry)


def deal_filters(
    name: Annotated[str | None, Query(max_length=200, description="Part of the deal name")] = None,
    pipeline: Annotated[str | None, Query(max_length=100, examples=["default"])] = None,
    stage: Annotated[
        str | None, Query(max_length=100, description="Deal stage id", examples=["closedwon"])
    ] = None,
    amount_min: DecimalText = None,
    amount_max: DecimalText = None,
    close_date_from: DateText = None,
    close_date_to: DateText = None,
) -> DealQuery:
    return DealQuery(name, pipeline, stage, amount_min, amount_max, close_date_from, close_date_to)


FILTERS: dict[ObjectKind, Callable[..., RecordQuery]] = {
    "contact": contact_filters,
    "company": company_filters,
    "deal": deal_filters,
}
BODIES: dict[ObjectKind, type[_PropertiesBody]] = {
    "contact": ContactBody,
    "company": CompanyBody,
    "deal": DealBody,
}
NOUNS: dict[ObjectKind, tuple[str, str]] = {
    "contact": ("contact", "contacts"),
    "company": ("company", "companies"),
    "deal": ("deal", "deals"),
}

RecordIdPath = Annotated[
    str, Path(pattern=r"^[0-9]{1,20}$", description="HubSpot record id", examples=["101"])
]
LimitQuery = Annotated[int, Query(ge=1, le=100, description="Page size (HubSpot's maximum: 100)")]
PropertiesQuery = Annotated[
    str | None,
    Query(
        max_length=4000,
        description="Comma-separated HubSpot property names to return",
        examples=["email,firstname,lastname"],
    ),
]
SortQuery = Annotated[
    str | None,
    Query(
        pattern=r"^-?[a-z][a-z0-9_]{0,99}$",
        description="Property to sort by; prefix with `-` for descending",
        examples=["-createdate"],
    ),
]
AssociationsQuery = Annotated[
    str | None,
    Query(
        pattern=r"^(contacts|companies|deals)(,(contacts|companies|deals))*$",
        description="Associated object types whose ids to include",
        examples=["companies"],
    ),
]
PipelineIdPath = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_\-]{1,64}$", description="Pipeline id", examples=["default"])
]


# --------------------------------------------------------------------------- router


def _values(body: _PropertiesBody) -> dict[str, Any]:
    """The properties a caller sent (declared fields that were set, and the others)."""
    values = {k: getattr(body, k) for k in body.model_fields_set if k in type(body).model_fields}
    return {**values, **(body.model_extra or {})}


def _add_object_routes(
    router: APIRouter, kind: ObjectKind, scope_dep: Callable[..., Awaitable[RequestScope]]
) -> None:
    one, many = NOUNS[kind]
    Scope = Annotated[RequestScope, Depends(scope_dep)]
    Filters = Annotated[RecordQuery, Depends(FILTERS[kind])]
    BodyModel = BODIES[kind]

    async def list_records(
        scope: Scope,
        query: Filters,
        after: AfterQuery = None,
        limit: LimitQuery = 20,
        properties: PropertiesQuery = None,
        sort: SortQuery = None,
        source: SourceQuery = "auto",
    ) -> dict[str, Any]:
        crm = scope.services.crm
        page, sourced = await crm.list_page_from(
            source, kind, query, limit=limit, after=after, properties=properties, sort=sort
        )
        return answer(scope, page, **source_meta(sourced))

    async def get_record(
        scope: Scope,
        record_id: RecordIdPath,
        properties: PropertiesQuery = None,
        associations: AssociationsQuery = None,
        source: SourceQuery = "auto",
    ) -> dict[str, Any]:
        crm = scope.services.crm
        record, sourced = await crm.read_from(
            source, kind, record_id, properties=properties, associations=associations
        )
        return answer(scope, record, **source_meta(sourced))

    async def create_record(
        scope: Scope,
        body: Annotated[BodyModel, Body()],  # type: ignore[valid-type]  # chosen per kind
    ) -> dict[str, Any]:
        record = await scope.services.crm.write_record(kind, _values(body))
        return answer(scope, record, **live_meta())

    async def update_record(
        scope: Scope,
        record_id: RecordIdPath,
        body: Annotated[BodyModel, Body()],  # type: ignore[valid-type]  # chosen per kind
    ) -> dict[str, Any]:
        crm = scope.services.crm
        record = await crm.write_record(kind, _values(body), record_id=record_id)
        return answer(scope, record, **live_meta())

    async def archive_record(scope: Scope, record_id: RecordIdPath) -> dict[str, Any]:
        return answer(
            scope, await scope.services.crm.archive_record(kind, record_id), **live_meta()
        )

    base = f"/{many}"
    tags: list[str | Enum] = ["HubSpot CRM"]
    router.add_api_route(
        base,
        list_records,
        methods=["GET"],
        response_model=Envelope[RecordPage],
        operation_id=f"list_{many}",
        summary=f"List or search {many}",
        tags=tags,
        description=f"One page of {many}. Filters are combined with AND through HubSpot "
        "search; without filters or sort the plain (cheaper) listing is used. Page on with "
        "`after` = the previous answer's `data.next_after`.",
    )
    router.add_api_route(
        f"{base}/{{record_id}}",
        get_record,
        methods=["GET"],
        response_model=Envelope[HubSpotRecord],
        operation_id=f"get_{one}",
        summary=f"Read one {one}",
        tags=tags,
    )
    router.add_api_route(
        base,
        create_record,
        methods=["POST"],
        status_code=201,
        response_model=Envelope[HubSpotRecord],
        operation_id=f"create_{one}",
        summary=f"Create a {one}",
        tags=tags,
        description="A flat JSON object keyed by HubSpot property names; custom properties "
        "are allowed."
        + (
            " `contact_ids`/`company_ids` are associated in the same call."
            if kind == "deal"
            else ""
        ),
    )
    for method in ("PATCH", "PUT"):
        router.add_api_route(
            f"{base}/{{record_id}}",
            update_record,
            methods=[method],
            response_model=Envelope[HubSpotRecord],
            operation_id=f"{'update' if method == 'PATCH' else 'replace'}_{one}",
            summary=f"Update a {one} (only the properties given; null clears one)",
            tags=tags,
        )
    router.add_api_route(
        f"{base}/{{record_id}}",
        archive_record,
        methods=["DELETE"],
        response_model=Envelope[Archived],
        operation_id=f"archive_{one}",
        summary=f"Archive a {one} (HubSpot keeps it restorable for 90 days)",
        tags=tags,
    )
    if kind == "contact":

        async def privacy_delete(scope: Scope, record_id: RecordIdPath) -> dict[str, Any]:
            record = await scope.services.crm.privacy_delete_contact(record_id)
            return answer(scope, record, **live_meta())

        router.add_api_route(
            f"{base}/{{record_id}}/gdpr-delete",
            privacy_delete,
            methods=["POST"],
            response_model=Envelope[Archived],
            operation_id="gdpr_delete_contact",
            summary="Delete a contact for good (a privacy request); the mirror forgets it too",
            tags=tags,
        )


_STAGES_EXAMPLE = [
    {
        "id": "appointmentscheduled",
        "label": "Appointment scheduled",
        "display_order": 0,
        "probability": "0.2",
        "is_closed": False,
        "archived": False,
    },
    {
        "id": "closedwon",
        "label": "Closed won",
        "display_order": 5,
        "probability": "1.0",
        "is_closed": True,
        "archived": False,
    },
]
_PIPELINE_EXAMPLE = {
    "id": "default",
    "label": "Sales Pipeline",
    "display_order": 0,
    "archived": False,
}


def _example(data: Any) -> dict[str, Any]:
    return {
        "content": {
            "application/json": {
                "example": {"ok": True, "data": data, "meta": {"portal_id": 1234567}}
            }
        }
    }


def _whole(items: list[Any]) -> dict[str, Any]:
    """A list answer that is not paged."""
    return {"results": items, "next_after": None, "total": len(items)}


class PipelinePage(ResultsPage[Pipeline]):
    """Every deal pipeline (HubSpot does not page them: `next_after` is always null)."""


class StagePage(ResultsPage[Stage]):
    """Every stage of one pipeline (not paged: `next_after` is always null)."""


def build_router(context: HostContext) -> APIRouter:
    """The CRM routes; mount under the prefix `/api/hubspot`."""
    router = envelope_router()
    scope_dep = scope_dependency(context)
    kinds: tuple[ObjectKind, ...] = ("contact", "company", "deal")
    for kind in kinds:
        _add_object_routes(router, kind, scope_dep)
    Scope = Annotated[RequestScope, Depends(scope_dep)]

    @router.get(
        "/pipelines",
        response_model=Envelope[PipelinePage],
        operation_id="list_pipelines",
        summary="Deal pipelines with their stages",
        tags=["HubSpot CRM"],
        responses={200: _example(_whole([{**_PIPELINE_EXAMPLE, "stages": _STAGES_EXAMPLE}]))},
    )
    async def list_pipelines(scope: Scope) -> dict[str, Any]:
        items = await scope.services.crm.pipelines()
        return answer(scope, PipelinePage(results=items, total=len(items)))

    @router.get(
        "/pipelines/{pipeline_id}/stages",
        response_model=Envelope[StagePage],
        operation_id="list_pipeline_stages",
        summary="Stages of one deal pipeline",
        tags=["HubSpot CRM"],
        responses={200: _example(_whole(_STAGES_EXAMPLE))},
    )
    async def list_stages(scope: Scope, pipeline_id: PipelineIdPath) -> dict[str, Any]:
        items = await scope.services.crm.stages(pipeline_id)
        return answer(scope, StagePage(results=items, total=len(items)))

    return router
