"""Lead lists (HubSpot CRM lists of contacts, object type 0-1): segments → HubSpot list filter
definitions, and the answers of the list routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from atom_hubspot.client.models import (
    ListModel,
)
from atom_hubspot.errors import (
    InputError,
)
from atom_hubspot.service.pages import ResultsPage

CONTACT_OBJECT_TYPE = "0-1"


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
    value: (
        Annotated[str, Field(max_length=1000)]
        | float
        | Annotated[list[Annotated[str, Field(max_length=1000)]], Field(max_length=100)]
        | None
    ) = Field(default=None, examples=["lead"])


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
