"""CRM routes: contacts, companies and deals (list/search, read, create, update, archive) and
deal pipelines, under `/api/hubspot`.

Bodies are flat JSON objects keyed by HubSpot property names (`{"email": …, "firstname": …}`),
custom properties included; records come back in HubSpot's shape (`id`, `properties`, …). Every
route is scoped to the caller's own connection (see `deps.scope_dependency`).
"""

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from atom_host_stub.contract import HostContext, ObjectKind, Pipeline, Stage
from atom_hubspot.api.crm_bodies import (
    BODIES,
    FILTERS,
    NOUNS,
    AssociationsQuery,
    LimitQuery,
    PipelineIdPath,
    PropertiesBody,
    PropertiesQuery,
    RecordIdPath,
    SortQuery,
)
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
from atom_hubspot.service.crm_records import Archived, HubSpotRecord, RecordPage
from atom_hubspot.service.crm_requests import (
    RecordQuery,
)
from atom_hubspot.service.pages import ResultsPage

# --------------------------------------------------------------------------- router


def _values(body: PropertiesBody) -> dict[str, Any]:
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
