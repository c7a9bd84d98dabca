"""CRM search: filter groups (AND inside, OR across), one sort, `query`, offset paging."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from atom_hubspot.sandbox.errors import validation
from atom_hubspot.sandbox.objects import PROPERTY_TYPES, ObjectType, as_number, parse_datetime
from atom_hubspot.sandbox.state import Record

OPERATORS = {
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
MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 6, 18
MAX_LIMIT = 200
# HubSpot's search stops paging at 10,000 results.
RESULT_CAP = 10_000


def _typed(otype: ObjectType, prop: str, value: Any, kinds: Mapping[str, str] | None = None) -> Any:
    """A comparable form: Decimal for numbers, epoch seconds for dates, lowercase text.
    `kinds`: the portal's value kinds by property (its created properties too); default:
    HubSpot's own properties of the type."""
    if value is None or value == "":
        return None
    kind = (kinds if kinds is not None else PROPERTY_TYPES[otype.name]).get(prop, "string")
    if kind in ("number", "score"):
        n = as_number(value)
        if n is not None:
            return n
    if kind == "datetime":
        ts = parse_datetime(value)
        if ts is not None:
            return Decimal(str(ts))
    return str(value).lower()


def _cmp(a: Any, b: Any) -> int | None:
    if a is None or b is None:
        return None
    if type(a) is not type(b):
        a, b = str(a), str(b)
    return int(a > b) - int(a < b)


def _tokens(value: str) -> list[str]:
    v = value.lower()
    return [v, *[t for t in re.split(r"[^0-9a-z]+", v) if t]]


def check_filter(f: Any) -> None:
    if not isinstance(f, dict) or "propertyName" not in f or "operator" not in f:
        raise validation("Invalid filter: propertyName and operator are required")
    op = f["operator"]
    if op not in OPERATORS:
        raise validation(
            f"Invalid input JSON on line 1: Cannot deserialize value of type `FilterOperatorEnum`"
            f' from String "{op}"',
            [{"message": f"Unknown operator {op}", "code": "INVALID_OPERATOR"}],
        )
    if op in ("IN", "NOT_IN") and not isinstance(f.get("values"), list):
        raise validation(f"{op} needs `values`")
    if op == "BETWEEN" and ("value" not in f or "highValue" not in f):
        raise validation("BETWEEN needs `value` and `highValue`")
    if op not in ("IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY") and "value" not in f:
        raise validation(f"{op} needs `value`")


def compile_filter(
    otype: ObjectType, f: dict[str, Any], kinds: Mapping[str, str] | None = None
) -> Callable[[Record], bool]:
    """The filter as a predicate, with its operand converted once, not per record."""
    prop = f["propertyName"]
    op = f["operator"]

    def raw_of(rec: Record) -> str | None:
        return str(rec.id) if prop == "hs_object_id" else rec.properties.get(prop)

    if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        want: bool = op == "HAS_PROPERTY"
        return lambda rec: (raw_of(rec) not in (None, "")) == want
    if op in ("IN", "NOT_IN"):
        targets = [_typed(otype, prop, v, kinds) for v in f["values"]]
        inside: bool = op == "IN"
        return lambda rec: (
            any(_cmp(_typed(otype, prop, raw_of(rec), kinds), t) == 0 for t in targets) == inside
        )
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = str(f["value"]).lower()
        contains: bool = op == "CONTAINS_TOKEN"

        def tokens(rec: Record) -> bool:
            raw = raw_of(rec)
            hit = raw not in (None, "") and any(
                fnmatch.fnmatchcase(t, pattern) for t in _tokens(str(raw))
            )
            return bool(hit) == contains

        return tokens
    target = _typed(otype, prop, f.get("value"), kinds)
    high = _typed(otype, prop, f.get("highValue"), kinds)
    test: Callable[[int | None, int | None], bool] = {
        "EQ": lambda c, h: c == 0,
        "NEQ": lambda c, h: c != 0,  # unset values are "not equal" too
        "LT": lambda c, h: c is not None and c < 0,
        "LTE": lambda c, h: c is not None and c <= 0,
        "GT": lambda c, h: c is not None and c > 0,
        "GTE": lambda c, h: c is not None and c >= 0,
        "BETWEEN": lambda c, h: c is not None and c >= 0 and h is not None and h <= 0,
    }[op]

    def compare(rec: Record) -> bool:
        value = _typed(otype, prop, raw_of(rec), kinds)
        return test(_cmp(value, target), _cmp(value, high) if op == "BETWEEN" else None)

    return compare


def matches(otype: ObjectType, rec: Record, f: dict[str, Any]) -> bool:
    return compile_filter(otype, f)(rec)


def run_search(
    otype: ObjectType,
    records: list[Record],
    body: dict[str, Any],
    kinds: Mapping[str, str] | None = None,
) -> tuple[list[Record], int, int, int]:
    """Filter, sort and page; returns (page, total, offset, limit). `kinds`: as `_typed`."""
    groups = body.get("filterGroups") or []
    if not isinstance(groups, list):
        raise validation("filterGroups must be a list")
    if len(groups) > MAX_GROUPS:
        raise validation(f"Too many filter groups ({len(groups)}); the maximum is {MAX_GROUPS}")
    total_filters = 0
    for g in groups:
        filters = g.get("filters", []) if isinstance(g, dict) else None
        if not isinstance(filters, list):
            raise validation("each filter group needs `filters`")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation(
                f"Too many filters in a group ({len(filters)}); the maximum is "
                f"{MAX_FILTERS_PER_GROUP}"
            )
        total_filters += len(filters)
        for f in filters:
            check_filter(f)
    if total_filters > MAX_FILTERS:
        raise validation(f"Too many filters ({total_filters}); the maximum is {MAX_FILTERS}")
    try:
        limit = int(body.get("limit", 10))
        offset = int(body.get("after") or 0)
    except (TypeError, ValueError):
        raise validation("limit and after must be integers") from None
    if limit < 0 or limit > MAX_LIMIT:
        raise validation(
            f"limit must be between 0 and {MAX_LIMIT}",
            [{"message": f"must be less than or equal to {MAX_LIMIT}", "in": "limit"}],
        )
    if offset >= RESULT_CAP:
        raise validation(
            f"Search paging is limited to {RESULT_CAP} results: after={offset} limit={limit}",
            [{"message": f"Cannot page past {RESULT_CAP} results", "in": "after"}],
        )

    query = str(body.get("query") or "").strip().lower()
    compiled = [[compile_filter(otype, f, kinds) for f in g.get("filters", [])] for g in groups]
    out: list[Record] = []
    for rec in records:
        if compiled and not any(all(test(rec) for test in g) for g in compiled):
            continue
        if query and not any(
            query in str(rec.properties.get(p, "")).lower() for p in otype.searchable
        ):
            continue
        out.append(rec)

    sorts = body.get("sorts") or []
    out.sort(key=lambda r: r.id)
    if sorts:
        s = sorts[0]  # HubSpot honours one sort
        if isinstance(s, str):
            prop, desc = s.lstrip("-"), s.startswith("-")
        else:
            prop = s.get("propertyName", "hs_object_id")
            desc = str(s.get("direction", "ASCENDING")).upper() == "DESCENDING"

        def key(r: Record) -> tuple[int, Any]:
            raw = str(r.id) if prop == "hs_object_id" else r.properties.get(prop)
            v = _typed(otype, prop, raw, kinds)
            return (0, v) if v is not None else (1, "")

        present = [r for r in out if key(r)[0] == 0]
        missing = [r for r in out if key(r)[0] == 1]
        present.sort(key=lambda r: (isinstance(key(r)[1], str), key(r)[1]), reverse=desc)
        out = present + missing
    end = min(offset + limit, RESULT_CAP)  # nothing is served past the cap
    return out[offset:end], len(out), offset, limit
