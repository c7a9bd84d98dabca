"""The CRM routes' request shapes: record bodies (flat, keyed by HubSpot property names, with
OpenAPI examples), the list routes' filter queries, and the path and query parameters."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from atom_host_stub.contract import ObjectKind
from atom_hubspot.service import mapping
from atom_hubspot.service.crm_requests import (
    MAX_VALUE_LENGTH,
    CompanyQuery,
    ContactQuery,
    DealQuery,
    RecordQuery,
)

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


class PropertiesBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, PropertyValue] = Field(init=False)

    @model_validator(mode="before")
    @classmethod
    def _bounded(cls, data: Any) -> Any:
        # Before pydantic builds anything from it: a body of a million keys stops here.
        if isinstance(data, dict) and len(data) > MAX_PROPERTIES:
            raise ValueError(f"{len(data)} properties; at most {MAX_PROPERTIES} in one request")
        return data


class ContactBody(PropertiesBody):
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


class CompanyBody(PropertiesBody):
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


class DealBody(PropertiesBody):
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


async def contact_filters(
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


async def company_filters(
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


async def deal_filters(
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


# `async def`, though they only build a query: FastAPI runs a plain function dependency in a
# worker thread, a hand-off and back on every list request for a few microseconds of work.
FILTERS: dict[ObjectKind, Callable[..., Awaitable[RecordQuery]]] = {
    "contact": contact_filters,
    "company": company_filters,
    "deal": deal_filters,
}
BODIES: dict[ObjectKind, type[PropertiesBody]] = {
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
