"""The host's own CRM routes, `/api/crm/...`: contacts, companies, deals and pipelines served by
whichever plugin provides the `crm` capability (ATOM_CRM_PROVIDER chooses among several).

Callers that talk to ATOM over HTTP get the swap too: the same paths, models and errors whether
HubSpot or another CRM plugin answers; `meta.provider` names the one that did. The models are
the capability contract's, less `raw` (each provider's own record, which its own routes such as
`/api/hubspot/...` serve). With no provider, or several and none chosen, every route answers 503
`service_unavailable` with the reason. Importing this module needs the `api` extra.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at run time,
# and they name aliases local to the functions that build the routes.
import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema
from starlette.exceptions import HTTPException as StarletteHTTPException

from atom_host_stub.contract import (
    Company,
    CompanyFields,
    Contact,
    ContactFields,
    CRMError,
    CRMService,
    Deal,
    DealFields,
    Envelope,
    ErrorEnvelope,
    ObjectKind,
    Pipeline,
    ReadOrigin,
    SearchFilter,
)
from atom_host_stub.services import ServiceUnavailable

log = logging.getLogger("atom_host_stub.crm")

PREFIX = "/api/crm"
MAX_LIMIT = 100
RecordT = TypeVar("RecordT")


# --------------------------------------------------------------------------- models


class _Public(BaseModel):
    # The provider's own record stays out of the unified answer (and of its schema).
    raw: SkipJsonSchema[dict[str, Any]] = Field(default_factory=dict, exclude=True)


class ContactRecord(_Public, Contact):
    """A contact, as every CRM provider answers it."""


class CompanyRecord(_Public, Company):
    """A company, as every CRM provider answers it."""


class DealRecord(_Public, Deal):
    """A deal, as every CRM provider answers it."""


class RecordList(BaseModel, Generic[RecordT]):
    results: list[RecordT]
    next_after: str | None = Field(
        default=None, description="Pass as `after` to get the next page; null on the last page"
    )
    total: int | None = Field(default=None, description="Not every provider counts: may be null")


class SearchBody(BaseModel):
    """Filters on unified field names (or custom fields), combined with AND."""

    model_config = ConfigDict(extra="forbid")

    filters: list[SearchFilter] = Field(max_length=20)
    limit: int = Field(default=20, ge=1, le=MAX_LIMIT)
    after: str | None = Field(default=None, max_length=1000)


class Archived(BaseModel):
    id: str
    archived: Literal[True] = True


RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": description}
    for status, description in {
        401: "No or wrong API key (`unauthorized`), or not connected to the CRM (`not_connected`)",
        404: "No such record for the caller (`not_found`)",
        409: "A record with that email or domain exists (`conflict`)",
        422: "Bad input (`invalid_input`, fields named) or rejected by the CRM "
        "(`validation_error`)",
        502: "The CRM answered in a way the provider could not use",
        503: "No CRM provider, or several and none chosen (`service_unavailable`, reason "
        "given); or the CRM is down",
    }.items()
}

# --------------------------------------------------------------------------- errors


def error_code(err: CRMError) -> str:
    """The contract's code (`not_found`, `validation_error`, ...) when the error is one the
    contract names, else the provider's own (`rate_limited`, `missing_scopes`, ...)."""
    return err.crm_code if err.crm_code != CRMError.code else err.code


def crm_error_response(err: CRMError) -> JSONResponse:
    body: dict[str, Any] = {"code": error_code(err), "message": err.message}
    details = {k: v for k, v in err.details.items() if isinstance(v, str | int | float | bool)}
    if err.code != body["code"]:
        details["provider_code"] = err.code
    if details:
        body["details"] = details
    headers = {}
    retry_after = getattr(err, "retry_after_s", None)
    if isinstance(retry_after, int | float) and retry_after > 0:
        headers["Retry-After"] = str(max(1, round(retry_after)))
    return JSONResponse({"ok": False, "error": body}, err.http_status, headers=headers)


def invalid_input_response(exc: RequestValidationError) -> JSONResponse:
    fields: dict[str, str] = {}
    for problem in exc.errors():
        where = [str(p) for p in problem.get("loc", ()) if p not in ("body", "query", "path")]
        fields.setdefault(".".join(where)[:200] or "body", str(problem.get("msg", ""))[:300])
    return JSONResponse(
        {
            "ok": False,
            "error": {
                "code": "invalid_input",
                "message": f"Invalid input in: {', '.join(fields)}. Nothing was changed.",
                "errors": [{"field": f, "message": m} for f, m in fields.items()],
            },
        },
        422,
    )


class CRMRoute(APIRoute):
    """Answers the provider's CRM errors, bad input and a missing provider in the envelope;
    the host's own answers (401, 403) pass through to its handlers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except CRMError as err:
                return crm_error_response(err)
            except RequestValidationError as exc:
                return invalid_input_response(exc)
            except ServiceUnavailable as exc:
                return JSONResponse(
                    {"ok": False, "error": {"code": "service_unavailable", "message": str(exc)}},
                    503,
                )
            except StarletteHTTPException as exc:
                if exc.status_code != 400:  # 400: a body that is not JSON
                    raise
                return JSONResponse(
                    {
                        "ok": False,
                        "error": {"code": "invalid_input", "message": "Send a JSON object."},
                    },
                    422,
                )

        return route


# --------------------------------------------------------------------------- routes


def ok(service: CRMService, data: Any, status: int = 200, *, read: Any = None) -> JSONResponse:
    """The success envelope; `meta.provider` names the plugin that answered, and for a read
    whose provider says so, `meta.source` (mirror or live) and `meta.as_of`."""
    meta: dict[str, Any] = {"provider": service.provider}
    origin = getattr(read, "origin", None)
    if isinstance(origin, ReadOrigin):
        meta |= origin.model_dump(mode="json")
    return JSONResponse({"ok": True, "data": data, "meta": meta}, status)


def dump(record: BaseModel) -> dict[str, Any]:
    return record.model_dump(mode="json", exclude={"raw"})


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Records per page")]
After = Annotated[
    str | None, Query(max_length=1000, description="The `next_after` of the previous page")
]
RecordId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]

RESOURCES: tuple[tuple[str, ObjectKind, type[BaseModel], type[BaseModel]], ...] = (
    ("contacts", "contact", ContactRecord, ContactFields),
    ("companies", "company", CompanyRecord, CompanyFields),
    ("deals", "deal", DealRecord, DealFields),
)


def build_crm_router(crm: Callable[..., Any]) -> APIRouter:
    """The `/api/crm` router; `crm` is the FastAPI dependency that yields the selected
    provider's service for the authenticated caller (see app.service_dependency)."""
    router = APIRouter(route_class=CRMRoute, responses=RESPONSES)
    Service = Annotated[Any, Depends(crm)]
    for plural, kind, record_model, fields_model in RESOURCES:
        _add_resource(router, Service, plural, kind, record_model, fields_model)

    @router.get(
        "/pipelines",
        response_model=Envelope[list[Pipeline]],
        summary="Deal pipelines with their stages",
    )
    async def pipelines(service: Service) -> JSONResponse:
        found = await service.list_pipelines()
        return ok(service, [p.model_dump(mode="json") for p in found])

    return router


def _add_resource(
    router: APIRouter,
    Service: Any,
    plural: str,
    kind: ObjectKind,
    record_model: type[BaseModel],
    fields_model: type[BaseModel],
) -> None:
    singular = kind
    # The models are chosen at run time (one per record kind), which mypy cannot follow.
    one = Envelope[record_model]  # type: ignore[valid-type]
    page = Envelope[RecordList[record_model]]  # type: ignore[valid-type]
    Fields = Annotated[fields_model, Body()]  # type: ignore[valid-type]

    def page_of(service: CRMService, found: Any) -> JSONResponse:
        data = {"results": [dump(r) for r in found.items], "next_after": found.next_cursor}
        return ok(service, {**data, "total": getattr(found, "total", None)}, read=found)

    @router.get(f"/{plural}", response_model=page, summary=f"List {plural}")
    async def list_records(service: Service, limit: Limit = 20, after: After = None) -> Any:
        return page_of(service, await service.list_records(kind, limit=limit, cursor=after))

    @router.post(f"/{plural}/search", response_model=page, summary=f"Search {plural}")
    async def search_records(service: Service, body: Annotated[SearchBody, Body()]) -> Any:
        found = await service.search_records(
            kind, body.filters, limit=body.limit, cursor=body.after
        )
        return page_of(service, found)

    @router.post(f"/{plural}", response_model=one, status_code=201, summary=f"Create a {singular}")
    async def create_record(service: Service, fields: Fields) -> Any:
        return ok(service, dump(await service.create_record(kind, fields)), 201)

    @router.get(f"/{plural}/{{record_id}}", response_model=one, summary=f"Read one {singular}")
    async def get_record(service: Service, record_id: RecordId) -> Any:
        found = await service.get_record(kind, record_id)
        return ok(service, dump(found), read=found)

    @router.patch(
        f"/{plural}/{{record_id}}",
        response_model=one,
        summary=f"Update a {singular} (only the fields given)",
    )
    async def update_record(service: Service, record_id: RecordId, fields: Fields) -> Any:
        return ok(service, dump(await service.update_record(kind, record_id, fields)))

    @router.delete(
        f"/{plural}/{{record_id}}",
        response_model=Envelope[Archived],
        summary=f"Delete (archive) a {singular}",
    )
    async def delete_record(service: Service, record_id: RecordId) -> Any:
        await service.delete_record(kind, record_id)
        return ok(service, {"id": record_id, "archived": True})
