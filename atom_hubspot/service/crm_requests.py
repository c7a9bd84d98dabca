"""What a caller asks of the CRM, shaped into HubSpot's terms and checked, every problem at once.

- Queries (contacts by e-mail, deals by amount range, …) become typed search `FilterGroup`s.
- Flat bodies keyed by HubSpot property names become the string values HubSpot stores, with the
  properties whose form is known (e-mail, amount, close date, …) checked and normalised.
- Property-name lists and sort orders are checked against HubSpot's naming rule.

The routes hand the caller's values over as they came; nothing here knows HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from atom_host_stub.contract import ObjectKind
from atom_hubspot.client.search import Filter, FilterGroup, SearchRequest, Sort
from atom_hubspot.errors import InputError, NotFound
from atom_hubspot.service import mapping

MAX_VALUE_LENGTH = 65536  # HubSpot's limit for a string property value
MAX_ASSOCIATION_IDS = 100  # ids per association list in one body
READ_ONLY = frozenset({"hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate"})


def _input_error(fields: list[dict[str, str]], *, suffix: str = "") -> InputError:
    return InputError(
        "Invalid input in: " + ", ".join(e["field"] for e in fields) + "." + suffix,
        errors=fields,
    )


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class ContactQuery:
    email: str | None = None
    name: str | None = None  # part of the first OR the last name
    company: str | None = None
    lifecycle_stage: str | None = None
    created_from: str | None = None  # ISO-8601 date or date-time
    created_to: str | None = None
    # A score property (default: the portal's default score) from score_min to score_max
    # (both included), or exactly `score`.
    score_property: str | None = None
    score_min: str | None = None
    score_max: str | None = None
    score: str | None = None

    @property
    def by_score(self) -> bool:
        return any(v not in (None, "") for v in (self.score_min, self.score_max, self.score))


@dataclass(frozen=True)
class CompanyQuery:
    name: str | None = None
    domain: str | None = None
    industry: str | None = None


@dataclass(frozen=True)
class DealQuery:
    name: str | None = None
    pipeline: str | None = None
    stage: str | None = None
    amount_min: str | None = None
    amount_max: str | None = None
    close_date_from: str | None = None
    close_date_to: str | None = None


RecordQuery = ContactQuery | CompanyQuery | DealQuery


def _when(field: str, value: str | None, *, end: bool = False) -> str | None:
    """A range bound as epoch ms; a date-only upper bound includes that whole day. Dates
    outside mapping.DAY_MIN..DAY_MAX (in UTC, after the offset) are refused, naming the range."""
    if value is None or value == "":
        return None
    s = value.strip()
    dt: datetime | None = None
    if len(s) == 10:
        try:
            d = date.fromisoformat(s)
        except ValueError:
            pass
        else:
            s = ""  # a date: in range below, or refused
            if mapping.DAY_MIN <= d <= mapping.DAY_MAX:
                dt = datetime(d.year, d.month, d.day, tzinfo=UTC)
                if end:
                    dt += timedelta(days=1) - timedelta(milliseconds=1)
    if dt is None and s:
        dt = mapping.parse_datetime(s)
    if dt is None:
        raise _input_error(
            [
                {
                    "field": field,
                    "message": f"not an ISO-8601 date or date-time {mapping.DATE_LIMIT}",
                }
            ]
        )
    return mapping.epoch_ms(dt)


def _date_range(
    prop: str, fields: tuple[str, str], values: tuple[str | None, str | None]
) -> list[Filter]:
    """`prop` from one date to another (both ends included; the fields named for errors)."""
    lo_field, hi_field = fields
    lo, hi = _when(lo_field, values[0]), _when(hi_field, values[1], end=True)
    if lo is not None and hi is not None and int(lo) > int(hi):
        raise InputError(
            f"Invalid input in: {lo_field}, {hi_field}.",
            errors=[{"field": lo_field, "message": f"after {hi_field}"}],
        )
    bounds = [Filter.gte(prop, lo) if lo is not None else None]
    bounds.append(Filter.lte(prop, hi) if hi is not None else None)
    return [f for f in bounds if f is not None]


def _eq(prop: str, value: str | None, *, lower: bool = False) -> list[Filter]:
    if not value:
        return []
    return [Filter.eq(prop, value.strip().lower() if lower else value)]


def _like(prop: str, value: str | None) -> list[Filter]:
    # CONTAINS_TOKEN matches whole words; the wildcards make "Ada" find "Adaline" too.
    if not value:
        return []
    return [Filter.contains_token(prop, f"*{value.strip().replace('*', '')}*")]


def _groups(*groups: list[Filter]) -> list[FilterGroup]:
    return [FilterGroup(filters=g) for g in groups if g]


def _score_range(q: ContactQuery) -> list[Filter]:
    """The score filter: GTE, LTE, BETWEEN (both ends) or EQ, on `q.score_property` (which the
    service has checked is a score property of the portal). Every problem named at once."""
    given = {
        f: v
        for f, v in (("score_min", q.score_min), ("score_max", q.score_max), ("score", q.score))
        if v not in (None, "")
    }
    if not given:
        if q.score_property:
            raise _input_error(
                [{"field": "score_property", "message": "give score_min, score_max or score"}]
            )
        return []
    errors: list[dict[str, str]] = []
    values: dict[str, Decimal] = {}
    for f, raw in given.items():
        problem = mapping.number_problem(raw)
        n = mapping.parse_decimal(raw) if problem is None else None
        if n is None:
            errors.append({"field": f, "message": problem or "not a number"})
        else:
            values[f] = n
    if "score" in given and len(given) > 1:
        errors.append({"field": "score", "message": "not with score_min or score_max"})
    lo, hi = values.get("score_min"), values.get("score_max")
    if lo is not None and hi is not None and lo > hi:
        errors.append({"field": "score_min", "message": "greater than score_max"})
    if errors:
        raise _input_error(errors)
    prop = q.score_property or "hubspotscore"
    text = {f: mapping.format_decimal(n) for f, n in values.items()}
    if "score" in text:
        return [Filter.eq(prop, text["score"])]
    if lo is not None and hi is not None:
        return [Filter.between(prop, text["score_min"], text["score_max"])]
    if lo is not None:
        return [Filter.gte(prop, text["score_min"])]
    return [Filter.lte(prop, text["score_max"])]


def contact_groups(q: ContactQuery) -> list[FilterGroup]:
    """Contact filters, ANDed. `name` matches first OR last name, so it makes two groups."""
    base = [
        *_eq("email", q.email, lower=True),
        *_like("company", q.company),
        *_eq("lifecyclestage", q.lifecycle_stage),
        *_date_range("createdate", ("created_from", "created_to"), (q.created_from, q.created_to)),
        *_score_range(q),
    ]
    if q.name:
        return _groups([*base, *_like("firstname", q.name)], [*base, *_like("lastname", q.name)])
    return _groups(base)


def company_groups(q: CompanyQuery) -> list[FilterGroup]:
    return _groups(
        [*_like("name", q.name), *_eq("domain", q.domain, lower=True), *_eq("industry", q.industry)]
    )


def deal_groups(q: DealQuery) -> list[FilterGroup]:
    lo = mapping.parse_decimal(q.amount_min) if q.amount_min else None
    hi = mapping.parse_decimal(q.amount_max) if q.amount_max else None
    if lo is not None and hi is not None and lo > hi:
        raise InputError(
            "Invalid input in: amount_min, amount_max.",
            errors=[{"field": "amount_min", "message": "greater than amount_max"}],
        )
    return _groups(
        [
            *_like("dealname", q.name),
            *_eq("pipeline", q.pipeline),
            *_eq("dealstage", q.stage),
            *([Filter.gte("amount", q.amount_min)] if q.amount_min else []),
            *([Filter.lte("amount", q.amount_max)] if q.amount_max else []),
            *_date_range(
                "closedate",
                ("close_date_from", "close_date_to"),
                (q.close_date_from, q.close_date_to),
            ),
        ]
    )


def filter_groups(query: RecordQuery | None) -> list[FilterGroup]:
    """The search filter groups of a query (none: list everything)."""
    if isinstance(query, ContactQuery):
        return contact_groups(query)
    if isinstance(query, CompanyQuery):
        return company_groups(query)
    if isinstance(query, DealQuery):
        return deal_groups(query)
    return []


# --------------------------------------------------------------------------- pages and ids

MAX_PAGE = 100  # HubSpot's list limit; search allows 200 but one page size keeps cursors sane.


@dataclass
class SortSpec:
    property_name: str
    descending: bool = False

    @classmethod
    def parse(cls, sort: str | None) -> list[SortSpec]:
        """`name` ascending, `-name` descending; none when not given."""
        return [cls(sort.lstrip("-"), sort.startswith("-"))] if sort else []


def object_kind(kind: str) -> ObjectKind:
    """A contract object kind, also from HubSpot's type name (`contacts` → `contact`)."""
    if kind in mapping.OBJECT_TYPES:
        return kind
    if kind in mapping.KIND_OF_TYPE:
        return mapping.KIND_OF_TYPE[kind]
    raise InputError(f"Unknown object kind {kind!r}; use contact, company or deal.")


def page_limit(limit: int) -> int:
    """A page size within HubSpot's list limit."""
    if limit < 1:
        raise InputError("limit must be at least 1", errors=[{"field": "limit", "message": "≥ 1"}])
    return min(int(limit), MAX_PAGE)


def existing_record_id(record_id: str) -> str:
    """The id of a record to read or change; NotFound when it cannot be a HubSpot id."""
    if not mapping.is_record_id(record_id):
        # Not a HubSpot id, so it cannot exist: answer as HubSpot would, without a call.
        raise NotFound(f"No record with id {record_id!r}.")
    return str(record_id).strip()


def build_search_request(
    groups: Sequence[FilterGroup],
    *,
    sorts: Sequence[SortSpec] = (),
    properties: Sequence[str] | None = None,
    limit: int = 10,
    after: str | None = None,
    query: str | None = None,
) -> SearchRequest:
    """A client SearchRequest (AND within a group, OR across groups)."""
    return SearchRequest(
        filter_groups=[g for g in groups if g.filters],
        sorts=[
            Sort(
                property_name=s.property_name,
                direction="DESCENDING" if s.descending else "ASCENDING",
            )
            for s in sorts
        ],
        properties=list(properties) if properties else None,
        limit=limit,
        after=after,
        query=query,
    )


# --------------------------------------------------------------------------- names


def property_names(field: str, value: str | None) -> list[str] | None:
    """A comma-separated list of HubSpot property names; None when empty."""
    if not value:
        return None
    names = [p.strip() for p in value.split(",") if p.strip()]
    bad = [n for n in names if not mapping.PROPERTY_NAME.fullmatch(n)]
    if bad:
        raise InputError(
            f"Invalid input in: {field}.",
            errors=[{"field": field, "message": f"not a property name: {bad[0][:60]!r}"}],
        )
    return names or None


# --------------------------------------------------------------------------- bodies


@dataclass(frozen=True)
class RecordInput:
    """A record's properties as HubSpot stores them, and the records to associate with it."""

    properties: dict[str, str]
    contact_ids: list[str]
    company_ids: list[str]


def _as_str(name: str, value: object, errors: list[dict[str, str]]) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        # Checked before it is written out: 1e300 or a 60-digit int is refused with the limit.
        if isinstance(value, int) and value.bit_length() > 4 * mapping.MAX_NUMBER_CHARS:
            problem: str | None = f"too large: {mapping.NUMBER_LIMIT}"
        else:
            problem = mapping.number_problem(repr(value) if isinstance(value, float) else value)
        if problem is not None:
            errors.append({"field": name, "message": problem})
            return None
        return mapping.to_property_value(value)
    if isinstance(value, str):
        if len(value) > MAX_VALUE_LENGTH:
            errors.append({"field": name, "message": f"longer than {MAX_VALUE_LENGTH} characters"})
            return None
        return value
    errors.append({"field": name, "message": "must be a string, number, boolean or null"})
    return None


def _check_value(kind: ObjectKind, name: str, value: str, errors: list[dict[str, str]]) -> str:
    """Validate and normalise the properties whose form we know; `""` (clear) passes.
    Numbers are checked on their text (mapping.number_problem) before anything is expanded."""
    if value == "":
        return value
    if name == "email" and kind == "contact":
        value = value.strip()
        if not mapping.EMAIL.fullmatch(value):
            errors.append({"field": name, "message": "not a valid e-mail address"})
    elif name == "amount" and kind == "deal":
        problem = mapping.number_problem(value)
        if problem is not None:
            errors.append({"field": name, "message": problem})
        else:
            return mapping.format_decimal(Decimal(value.strip()))
    elif name == "closedate" and kind == "deal":
        dt = mapping.parse_datetime(value)
        if dt is None:
            errors.append(
                {
                    "field": name,
                    "message": "not an ISO-8601 date (2026-12-31) or date-time "
                    f"{mapping.DATE_LIMIT}",
                }
            )
        else:
            return mapping.format_datetime(dt)
    elif name == "numberofemployees" and kind == "company":
        problem = mapping.number_problem(value)
        n = mapping.parse_int(value) if problem is None else None
        if n is None or n < 0:
            errors.append({"field": name, "message": problem or "not a whole number ≥ 0"})
        else:
            return str(n)
    elif name == mapping.DEAL_CURRENCY_PROPERTY:
        if not (len(value) == 3 and value.isalpha()):
            errors.append({"field": name, "message": "not an ISO 4217 code such as EUR"})
        return value.upper()
    return value


def record_input(kind: ObjectKind, values: Mapping[str, Any], *, partial: bool) -> RecordInput:
    """A flat body (HubSpot property names → values) as a RecordInput, every problem named.

    On create, null values are left out; on update, null clears the property (HubSpot's `""`).
    A deal's body may also carry `contact_ids` / `company_ids` to associate.
    """
    data = dict(values)
    contact_ids_raw = data.pop("contact_ids", []) if kind == "deal" else []
    company_ids_raw = data.pop("company_ids", []) if kind == "deal" else []
    errors: list[dict[str, str]] = []
    props: dict[str, str] = {}
    for name, raw in data.items():
        if not mapping.PROPERTY_NAME.fullmatch(name):
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
    contact_ids = mapping.collect_record_ids(
        "contact_ids", contact_ids_raw, errors, max_items=MAX_ASSOCIATION_IDS
    )
    company_ids = mapping.collect_record_ids(
        "company_ids", company_ids_raw, errors, max_items=MAX_ASSOCIATION_IDS
    )
    if not props and not contact_ids and not company_ids and not errors:
        errors.append({"field": "body", "message": "no property given"})
    if errors:
        raise _input_error(errors, suffix=" Fix these fields and send again.")
    if not partial and not props:
        raise InputError(
            "Invalid input in: body. Give at least one property.",
            errors=[{"field": "body", "message": "no property given"}],
        )
    return RecordInput(props, contact_ids, company_ids)
