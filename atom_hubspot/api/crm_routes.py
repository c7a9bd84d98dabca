"""CRM routes: contacts, companies and deals (list/search, read, create, update, archive) and
deal pipelines, under `/api/hubspot`.

Bodies are flat JSON objects keyed by HubSpot property names (`{"email": …, "firstname": …}`),
custom properties included; records come back in HubSpot's shape (`id`, `properties`, …). Every
route is scoped to the caller's own connection (see `deps.scope_dependency`).
"""

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from atom_host_stub.contract import HostContext, ObjectKind, Pipeline, Stage
from atom_hubspot.api.deps import RequestScope, answer, scope_dependency
from atom_hubspot.api.envelope import Envelope, envelope_router
from atom_hubspot.errors import InputError
from atom_hubspot.service import mapping
from atom_hubspot.service.crm import HubSpotCRMService, SortSpec
from atom_hubspot.service.pages import ResultsPage

# --------------------------------------------------------------------------- models

_VALUE_SCHEMA = {
    "anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}, {"type": "null"}]
}
# A property value as a caller may send it; checked by `properties_from_body` with messages
# that name the property (HubSpot stores every value as a string).
PropertyValue = Annotated[Any, WithJsonSchema(_VALUE_SCHEMA)]
RecordIdList = Annotated[
    list[Any],
    WithJsonSchema(
        {"type": "array", "items": {"type": "string", "pattern": r"^[0-9]{1,20}$"}, "maxItems": 100}
    ),
]

MAX_VALUE_LENGTH = 65536  # HubSpot's limit for a string property value
READ_ONLY = frozenset({"hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate"})


class _PropertiesBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, PropertyValue] = Field(init=False)


class ContactBody(_PropertiesBody):
    """A contact's properties by HubSpot name; other (custom) properties are allowed."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
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
            ]
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
            "examples": [
                {
                    "name": "Analytical Engines Ltd",
                    "domain": "analytical-engines.example",
                    "industry": "COMPUTER_SOFTWARE",
                    "numberofemployees": 42,
                    "city": "London",
                    "country": "United Kingdom",
                }
            ]
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
            ]
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


class HubSpotRecord(BaseModel):
    """A HubSpot CRM record as HubSpot keeps it: every property value is a string."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "101",
                    "properties": {"email": "ada@example.com", "firstname": "Ada"},
                    "created_at": "2026-01-05T10:00:00Z",
                    "updated_at": "2026-02-01T09:30:00Z",
                    "archived": False,
                    "associations": {"companies": ["201"]},
                }
            ]
        }
    )

    id: str
    properties: dict[str, str | None]
    created_at: datetime | None = None
    updated_at: datetime | None = None
    archived: bool = False
    associations: dict[str, list[str]] | None = Field(
        default=None, description="Associated record ids by object type, when asked for"
    )


class RecordPage(ResultsPage[HubSpotRecord]):
    """Records, one page (`total` for filtered lists only)."""


class PipelinePage(ResultsPage[Pipeline]):
    """Every deal pipeline (HubSpot does not page them: `next_after` is always null)."""


class StagePage(ResultsPage[Stage]):
    """Every stage of one pipeline (not paged: `next_after` is always null)."""


class Archived(BaseModel):
    id: str
    archived: Literal[True] = True


# --------------------------------------------------------------------------- helpers


def _as_str(name: str, value: Any, errors: list[dict[str, str]]) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return mapping.to_property_value(value)
    if isinstance(value, str):
        if len(value) > MAX_VALUE_LENGTH:
            errors.append({"field": name, "message": f"longer than {MAX_VALUE_LENGTH} characters"})
            return None
        return value
    errors.append({"field": name, "message": "must be a string, number, boolean or null"})
    return None


def _check_value(kind: ObjectKind, name: str, value: str, errors: list[dict[str, str]]) -> str:
    """Validate and normalise the properties whose form we know; `""` (clear) passes."""
    if value == "":
        return value
    if name == "email" and kind == "contact":
        value = value.strip()
        if not mapping.EMAIL.match(value):
            errors.append({"field": name, "message": "not a valid e-mail address"})
    elif name == "amount" and kind == "deal":
        d = mapping.parse_decimal(value)
        if d is None:
            errors.append({"field": name, "message": "not a decimal number, e.g. 1250.50"})
        else:
            return mapping.format_decimal(d)
    elif name == "closedate" and kind == "deal":
        dt = mapping.parse_datetime(value)
        if dt is None:
            errors.append(
                {"field": name, "message": "not an ISO-8601 date (2026-12-31) or date-time"}
            )
        else:
            return mapping.format_datetime(dt)
    elif name == "numberofemployees" and kind == "company":
        n = mapping.parse_int(value)
        if n is None or n < 0:
            errors.append({"field": name, "message": "not a whole number ≥ 0"})
        else:
            return str(n)
    elif name == mapping.DEAL_CURRENCY_PROPERTY:
        if not (len(value) == 3 and value.isalpha()):
            errors.append({"field": name, "message": "not an ISO 4217 code such as EUR"})
        return value.upper()
    return value


def properties_from_body(
    kind: ObjectKind, body: BaseModel, *, partial: bool
) -> tuple[dict[str, str], list[str], list[str]]:
    """(properties, contact_ids, company_ids) from a flat body, every problem named at once.

    On create, null values are left out; on update, null clears the property (HubSpot's `""`).
    """
    data: dict[str, Any] = {
        k: getattr(body, k) for k in body.model_fields_set if k in type(body).model_fields
    }
    data.update(body.model_extra or {})
    contact_ids_raw = data.pop("contact_ids", []) if kind == "deal" else []
    company_ids_raw = data.pop("company_ids", []) if kind == "deal" else []
    errors: list[dict[str, str]] = []
    props: dict[str, str] = {}
    for name, raw in data.items():
        if not mapping.PROPERTY_NAME.match(name):
            errors.append(
                {
                    "field": name[:120],
                    "message": "not a HubSpot property name (lower-case "
                    "letters, digits and underscores, starting with a letter)",
                }
            )
            continue
        if name in READ_ONLY:
            errors.append({"field": name, "message": "set by HubSpot; cannot be written"})
            continue
        value = _as_str(name, raw, errors)
        if value is None:
            if partial and raw is None:
                props[name] = ""
            continue
        props[name] = _check_value(kind, name, value, errors)
    contact_ids = _ids("contact_ids", contact_ids_raw, errors)
    company_ids = _ids("company_ids", company_ids_raw, errors)
    if not props and not contact_ids and not company_ids and not errors:
        errors.append({"field": "body", "message": "no property given"})
    if errors:
        raise InputError(
            "Invalid input in: "
            + ", ".join(e["field"] for e in errors)
            + ". Fix these fields and send again.",
            errors=errors,
        )
    return props, contact_ids, company_ids


def _ids(field: str, raw: Any, errors: list[dict[str, str]]) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.append({"field": field, "message": "must be a list of record ids"})
        return []
    if len(raw) > 100:
        errors.append({"field": field, "message": "at most 100 ids"})
        return []
    out: list[str] = []
    for n, item in enumerate(raw):
        s = str(item).strip() if isinstance(item, str | int) and not isinstance(item, bool) else ""
        if not mapping.RECORD_ID.match(s):
            errors.append({"field": f"{field}.{n}", "message": "not a HubSpot record id (digits)"})
        elif s not in out:
            out.append(s)
    return out


def _assoc_ids(items: Any) -> list[str]:
    if isinstance(items, Mapping):
        items = items.get("results", [])
    out: list[str] = []
    for it in items or []:
        if isinstance(it, str | int):
            out.append(str(it))
            continue
        for key in ("id", "to_object_id", "toObjectId"):
            v = it.get(key) if isinstance(it, Mapping) else getattr(it, key, None)
            if v is not None:
                out.append(str(v))
                break
    return out


def record_out(obj: Any) -> HubSpotRecord:
    rid, props, created, updated, archived = mapping.record_parts(obj)
    raw_assoc = (
        obj.get("associations") if isinstance(obj, Mapping) else getattr(obj, "associations", None)
    )
    assoc = {str(k): _assoc_ids(v) for k, v in raw_assoc.items()} if raw_assoc else None
    return HubSpotRecord(
        id=rid,
        properties=props,
        created_at=created,
        updated_at=updated,
        archived=archived,
        associations=assoc,
    )


def _split(field: str, value: str | None) -> list[str] | None:
    if not value:
        return None
    names = [p.strip() for p in value.split(",") if p.strip()]
    bad = [n for n in names if not mapping.PROPERTY_NAME.match(n)]
    if bad:
        raise InputError(
            f"Invalid input in: {field}.",
            errors=[{"field": field, "message": f"not a property name: {bad[0][:60]!r}"}],
        )
    return names or None


def _when(field: str, value: str | None, *, end: bool = False) -> str | None:
    """A range bound as epoch ms; a date-only upper bound includes that whole day."""
    if value is None or value == "":
        return None
    s = value.strip()
    try:
        if len(s) == 10:
            d = date.fromisoformat(s)
            dt = datetime(d.year, d.month, d.day, tzinfo=UTC)
            if end:
                dt += timedelta(days=1) - timedelta(milliseconds=1)
            return mapping.epoch_ms(dt)
    except ValueError:
        pass
    dt_parsed = mapping.parse_datetime(s)
    if dt_parsed is None:
        raise InputError(
            f"Invalid input in: {field}.",
            errors=[{"field": field, "message": "not an ISO-8601 date or date-time"}],
        )
    return mapping.epoch_ms(dt_parsed)


def _range(
    prop: str, lo_field: str, lo: str | None, hi_field: str, hi: str | None
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if lo is not None and hi is not None and int(lo) > int(hi):
        raise InputError(
            f"Invalid input in: {lo_field}, {hi_field}.",
            errors=[{"field": lo_field, "message": f"after {hi_field}"}],
        )
    if lo is not None:
        out.append({"propertyName": prop, "operator": "GTE", "value": lo})
    if hi is not None:
        out.append({"propertyName": prop, "operator": "LTE", "value": hi})
    return out


def _contains(prop: str, value: str) -> dict[str, Any]:
    # CONTAINS_TOKEN matches whole words; the wildcards make "Ada" find "Adaline" too.
    v = value.strip().replace("*", "")
    return {"propertyName": prop, "operator": "CONTAINS_TOKEN", "value": f"*{v}*"}


Groups = list[list[dict[str, Any]]]

Text = Annotated[str | None, Query(max_length=200)]
DateText = Annotated[
    str | None,
    Query(max_length=40, description="ISO-8601 date or date-time", examples=["2026-01-31"]),
]
DecimalText = Annotated[
    str | None, Query(pattern=r"^-?[0-9]{1,15}(\.[0-9]{1,6})?$", examples=["1000.00"])
]


def _and(*filters: dict[str, Any] | list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in filters:
        if f is None:
            continue
        out.extend(f if isinstance(f, list) else [f])
    return out


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
) -> Groups:
    """Contact filters, ANDed. `name` matches first OR last name, so it makes two groups."""
    base = _and(
        {"propertyName": "email", "operator": "EQ", "value": email.strip().lower()}
        if email
        else None,
        _contains("company", company) if company else None,
        {"propertyName": "lifecyclestage", "operator": "EQ", "value": lifecycle_stage}
        if lifecycle_stage
        else None,
        _range(
            "createdate",
            "created_from",
            _when("created_from", created_from),
            "created_to",
            _when("created_to", created_to, end=True),
        ),
    )
    if name:
        return [[*base, _contains("firstname", name)], [*base, _contains("lastname", name)]]
    return [base] if base else []


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
) -> Groups:
    base = _and(
        _contains("name", name) if name else None,
        {"propertyName": "domain", "operator": "EQ", "value": domain.strip().lower()}
        if domain
        else None,
        {"propertyName": "industry", "operator": "EQ", "value": industry} if industry else None,
    )
    return [base] if base else []


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
) -> Groups:
    lo = mapping.parse_decimal(amount_min) if amount_min else None
    hi = mapping.parse_decimal(amount_max) if amount_max else None
    if lo is not None and hi is not None and lo > hi:
        raise InputError(
            "Invalid input in: amount_min, amount_max.",
            errors=[{"field": "amount_min", "message": "greater than amount_max"}],
        )
    base = _and(
        _contains("dealname", name) if name else None,
        {"propertyName": "pipeline", "operator": "EQ", "value": pipeline} if pipeline else None,
        {"propertyName": "dealstage", "operator": "EQ", "value": stage} if stage else None,
        {"propertyName": "amount", "operator": "GTE", "value": amount_min} if amount_min else None,
        {"propertyName": "amount", "operator": "LTE", "value": amount_max} if amount_max else None,
        _range(
            "closedate",
            "close_date_from",
            _when("close_date_from", close_date_from),
            "close_date_to",
            _when("close_date_to", close_date_to, end=True),
        ),
    )
    return [base] if base else []


FILTERS: dict[ObjectKind, Callable[..., Groups]] = {
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
AfterQuery = Annotated[
    str | None,
    Query(
        max_length=256,
        pattern=r"^[A-Za-z0-9_\-=]+$",
        description="Cursor from the previous page's `next_after`",
    ),
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


def _service(scope: RequestScope) -> HubSpotCRMService:
    return HubSpotCRMService(
        scope.client,
        portal_id=scope.connection.portal_id,
        currency_cache=getattr(scope.runtime, "portal_currency", None),
        custom_properties=getattr(scope.runtime, "custom_properties", None),
        property_names=getattr(scope.runtime, "portal_properties", None),
    )


# --------------------------------------------------------------------------- router


def _add_object_routes(router: APIRouter, kind: ObjectKind, scope_dep: Any) -> None:
    one, many = NOUNS[kind]
    Scope = Annotated[RequestScope, Depends(scope_dep)]
    Filters = Annotated[Groups, Depends(FILTERS[kind])]
    BodyModel = BODIES[kind]

    async def list_records(
        scope: Scope,
        filters: Filters,
        after: AfterQuery = None,
        limit: LimitQuery = 20,
        properties: PropertiesQuery = None,
        sort: SortQuery = None,
    ) -> dict[str, Any]:
        sorts = [SortSpec(sort.lstrip("-"), sort.startswith("-"))] if sort else []
        page = await _service(scope).list_objects(
            kind,
            limit=limit,
            after=after,
            properties=_split("properties", properties),
            filter_groups=filters,
            sorts=sorts,
        )
        data = RecordPage(
            results=[record_out(o) for o in page.results],
            next_after=page.next_after,
            total=page.total,
        )
        return answer(scope, data)

    async def get_record(
        scope: Scope,
        record_id: RecordIdPath,
        properties: PropertiesQuery = None,
        associations: AssociationsQuery = None,
    ) -> dict[str, Any]:
        obj = await _service(scope).get_object(
            kind,
            record_id,
            properties=_split("properties", properties),
            associations=associations.split(",") if associations else None,
        )
        return answer(scope, record_out(obj))

    async def create_record(
        scope: Scope,
        body: Annotated[BodyModel, Body()],  # type: ignore[valid-type]
    ) -> dict[str, Any]:
        props, contact_ids, company_ids = properties_from_body(kind, body, partial=False)
        if not props:
            raise InputError(
                "Invalid input in: body. Give at least one property.",
                errors=[{"field": "body", "message": "no property given"}],
            )
        obj = await _service(scope).create_object(
            kind, props, contact_ids=contact_ids, company_ids=company_ids
        )
        return answer(scope, record_out(obj))

    async def update_record(
        scope: Scope,
        record_id: RecordIdPath,
        body: Annotated[BodyModel, Body()],  # type: ignore[valid-type]
    ) -> dict[str, Any]:
        props, contact_ids, company_ids = properties_from_body(kind, body, partial=True)
        obj = await _service(scope).update_object(
            kind, record_id, props, contact_ids=contact_ids, company_ids=company_ids
        )
        return answer(scope, record_out(obj))

    async def archive_record(scope: Scope, record_id: RecordIdPath) -> dict[str, Any]:
        await _service(scope).archive_object(kind, record_id)
        return answer(scope, Archived(id=record_id))

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
        items = await _service(scope).pipelines()
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
        items = await _service(scope).stages(pipeline_id)
        return answer(scope, StagePage(results=items, total=len(items)))

    return router
