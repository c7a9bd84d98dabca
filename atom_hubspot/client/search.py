"""CRM search request builder: filters AND inside a group, groups OR.

https://developers.hubspot.com/docs/api-reference/search/guide — operators, ≤200 per page,
10,000 results at most through `after`, one sort honoured. The group/filter limits vary
between HubSpot's pages, so only obviously wrong requests are refused here; HubSpot has the
last word on the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)
MAX_SEARCH_LIMIT = 200
SEARCH_RESULT_CAP = 10_000  # `after` past this answers 400: keyset on hs_object_id instead
MAX_FILTER_GROUPS = 5


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Filter(_Model):
    property_name: str
    operator: str = "EQ"
    value: str | None = None
    values: list[str] | None = None
    high_value: str | None = None

    @field_validator("operator")
    @classmethod
    def _op(cls, v: str) -> str:
        v = v.upper()
        if v not in OPERATORS:
            raise ValueError(f"unknown search operator {v!r}")
        return v

    @field_validator("value", "high_value", mode="before")
    @classmethod
    def _str(cls, v: Any) -> Any:
        return None if v is None else str(v)

    @field_validator("values", mode="before")
    @classmethod
    def _strs(cls, v: Any) -> Any:
        return None if v is None else [str(x) for x in v]

    # Builders: Filter.eq("email", "a@b.c"), Filter.gt("hs_object_id", 10), …
    @classmethod
    def eq(cls, prop: str, value: Any) -> Filter:
        return cls(property_name=prop, operator="EQ", value=value)

    @classmethod
    def neq(cls, prop: str, value: Any) -> Filter:
        return cls(property_name=prop, operator="NEQ", value=value)

    @classmethod
    def gt(cls, prop: str, value: Any) -> Filter:
        return cls(property_name=prop, operator="GT", value=value)

    @classmethod
    def gte(cls, prop: str, value: Any) -> Filter:
        return cls(property_name=prop, operator="GTE", value=value)

    @classmethod
    def lt(cls, prop: str, value: Any) -> Filter:
        return cls(property_name=prop, operator="LT", value=value)

    @classmethod
    def lte(cls, prop: str, value: Any) -> Filter:
        return cls(property_name=prop, operator="LTE", value=value)

    @classmethod
    def between(cls, prop: str, low: Any, high: Any) -> Filter:
        return cls(property_name=prop, operator="BETWEEN", value=low, high_value=high)

    @classmethod
    def in_(cls, prop: str, values: Iterable[Any]) -> Filter:
        return cls(property_name=prop, operator="IN", values=list(values))

    @classmethod
    def has(cls, prop: str) -> Filter:
        return cls(property_name=prop, operator="HAS_PROPERTY")

    @classmethod
    def contains_token(cls, prop: str, token: str) -> Filter:
        return cls(property_name=prop, operator="CONTAINS_TOKEN", value=token)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class FilterGroup(_Model):
    """All filters of a group must hold (AND)."""

    filters: list[Filter] = Field(default_factory=list)

    @classmethod
    def of(cls, *filters: Filter) -> FilterGroup:
        return cls(filters=list(filters))

    def to_json(self) -> dict[str, Any]:
        return {"filters": [f.to_json() for f in self.filters]}


class Sort(_Model):
    property_name: str
    direction: str = "ASCENDING"

    @field_validator("direction")
    @classmethod
    def _dir(cls, v: str) -> str:
        v = v.upper()
        if v in ("ASC", "DESC"):
            v = "ASCENDING" if v == "ASC" else "DESCENDING"
        if v not in ("ASCENDING", "DESCENDING"):
            raise ValueError("direction is ASCENDING or DESCENDING")
        return v


class SearchRequest(_Model):
    """A CRM search. Any group may match (OR); inside a group every filter must (AND)."""

    filter_groups: list[FilterGroup] = Field(default_factory=list)
    sorts: list[Sort] = Field(default_factory=list)
    query: str | None = None
    properties: list[str] | None = None
    limit: int = Field(default=100, ge=1, le=MAX_SEARCH_LIMIT)
    after: str | None = None

    @field_validator("filter_groups")
    @classmethod
    def _groups(cls, v: list[FilterGroup]) -> list[FilterGroup]:
        if len(v) > MAX_FILTER_GROUPS:
            raise ValueError(f"at most {MAX_FILTER_GROUPS} filter groups")
        return v

    # fluent builders -----------------------------------------------------------
    def where(self, *filters: Filter) -> SearchRequest:
        """Add a group of filters that must all hold (OR-ed with the existing groups)."""
        return self.model_copy(
            update={"filter_groups": [*self.filter_groups, FilterGroup.of(*filters)]}
        )

    def sort(self, prop: str, direction: str = "ASCENDING") -> SearchRequest:
        return self.model_copy(update={"sorts": [Sort(property_name=prop, direction=direction)]})

    def select(self, *properties: str) -> SearchRequest:
        return self.model_copy(update={"properties": list(properties)})

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"limit": self.limit}
        if self.filter_groups:
            body["filterGroups"] = [g.to_json() for g in self.filter_groups]
        if self.sorts:
            body["sorts"] = [s.model_dump(by_alias=True) for s in self.sorts]
        if self.query:
            body["query"] = self.query
        if self.properties is not None:
            body["properties"] = list(self.properties)
        if self.after is not None:
            body["after"] = self.after
        return body
