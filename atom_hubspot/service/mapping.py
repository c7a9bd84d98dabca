"""HubSpot records and properties ↔ the host's unified CRM models.

HubSpot sends every property value as a string (or null) and names things its own way
(`firstname`, `dealstage`, `numberofemployees`). This module is the one place that knows the
correspondence; it is pure (no I/O) so it is tested on its own. Its length is that
correspondence, one section per object type and value kind; split, the rules that must agree
(the one record-id check, the e-mail pattern, the property-name rule) would drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from atom_host_stub.contract import (
    Company,
    CompanyFields,
    Contact,
    ContactFields,
    CRMRecord,
    Deal,
    DealFields,
    Money,
    ObjectKind,
    Pipeline,
    SearchFilter,
    Stage,
)
from atom_hubspot.client.models import CrmObject, PipelineModel, StageModel
from atom_hubspot.client.search import Filter
from atom_hubspot.errors import InputError

# The number rules live below every layer (the mirror's amount columns use them too); the
# routes and requests know them by these names.
from atom_hubspot.numbers import MAX_FRACTION_DIGITS as MAX_FRACTION_DIGITS
from atom_hubspot.numbers import MAX_INTEGER_DIGITS as MAX_INTEGER_DIGITS
from atom_hubspot.numbers import MAX_NUMBER_CHARS as MAX_NUMBER_CHARS
from atom_hubspot.numbers import NUMBER_LIMIT as NUMBER_LIMIT
from atom_hubspot.numbers import number_problem as number_problem
from atom_hubspot.numbers import parse_decimal as parse_decimal

# HubSpot's object type names (also accepted by its paths).
OBJECT_TYPES: dict[ObjectKind, str] = {
    "contact": "contacts",
    "company": "companies",
    "deal": "deals",
}
KIND_OF_TYPE: dict[str, ObjectKind] = {v: k for k, v in OBJECT_TYPES.items()}

# Unified field name -> HubSpot property name.
FIELD_TO_PROPERTY: dict[ObjectKind, dict[str, str]] = {
    "contact": {
        "email": "email",
        "first_name": "firstname",
        "last_name": "lastname",
        "phone": "phone",
        "company_name": "company",
        "lifecycle_stage": "lifecyclestage",
    },
    "company": {
        "name": "name",
        "domain": "domain",
        "industry": "industry",
        "employee_count": "numberofemployees",
        "city": "city",
        "country": "country",
    },
    "deal": {
        "name": "dealname",
        "amount": "amount",
        "pipeline_id": "pipeline",
        "stage_id": "dealstage",
        "close_date": "closedate",
        "owner_id": "hubspot_owner_id",
    },
}
# Last-modified is `lastmodifieddate` on contacts and `hs_lastmodifieddate` on the others.
MODIFIED_PROPERTY: dict[ObjectKind, str] = {
    "contact": "lastmodifieddate",
    "company": "hs_lastmodifieddate",
    "deal": "hs_lastmodifieddate",
}

# HubSpot bookkeeping properties: shown as record fields, never as custom fields.
SYSTEM_PROPERTIES = frozenset(
    {"hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate", "deal_currency_code"}
)
DEAL_CURRENCY_PROPERTY = "deal_currency_code"

# What to ask HubSpot for when the caller did not say (HubSpot returns only a few by default).
DEFAULT_PROPERTIES: dict[ObjectKind, list[str]] = {
    kind: [*props.values(), "createdate", MODIFIED_PROPERTY[kind]]
    + ([DEAL_CURRENCY_PROPERTY] if kind == "deal" else [])
    for kind, props in FIELD_TO_PROPERTY.items()
}

# SearchFilter op -> HubSpot search operator.
OPERATORS: dict[str, str] = {
    "eq": "EQ",
    "neq": "NEQ",
    "lt": "LT",
    "lte": "LTE",
    "gt": "GT",
    "gte": "GTE",
    "in": "IN",
    "contains": "CONTAINS_TOKEN",
    "has": "HAS_PROPERTY",
    "not_has": "NOT_HAS_PROPERTY",
}

# Use these with `fullmatch` only: `$` with `match` lets a trailing newline through.
# HubSpot internal property names: lower-case letters, digits and underscores.
PROPERTY_NAME = re.compile(r"[a-z][a-z0-9_]{0,99}")
RECORD_ID = re.compile(r"[0-9]{1,20}")
NOT_A_RECORD_ID = "not a HubSpot record id (digits)"
# Deliberately simple: one @, a dot in the domain, no spaces. HubSpot has the last word.
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}")

# Dates and date-times: this range, in UTC after the offset is applied (a date-time with an
# extreme offset near either end would otherwise overflow when converted).
DAY_MIN = date(1900, 1, 1)
DAY_MAX = date(9999, 12, 30)
DATETIME_MIN = datetime(DAY_MIN.year, DAY_MIN.month, DAY_MIN.day, tzinfo=UTC)
DATETIME_MAX = datetime(DAY_MAX.year, DAY_MAX.month, DAY_MAX.day, 23, 59, 59, 999999, tzinfo=UTC)
DATE_LIMIT = f"from {DAY_MIN.isoformat()} to {DAY_MAX.isoformat()} (UTC)"
MAX_DATE_CHARS = 40


# --------------------------------------------------------------------------- values


def in_date_range(dt: datetime) -> datetime | None:
    """`dt` in UTC when it lies in DATETIME_MIN..DATETIME_MAX, else None (never raises)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        utc = dt.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00
        return None
    return utc if DATETIME_MIN <= utc <= DATETIME_MAX else None


def parse_datetime(value: object) -> datetime | None:
    """HubSpot datetimes come as ISO-8601 strings or epoch milliseconds; None when unreadable
    or outside DAY_MIN..DAY_MAX (UTC). The result keeps the offset it was given."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if in_date_range(value) else None
    s = str(value).strip()
    if len(s) > MAX_DATE_CHARS:
        return None
    if s.isascii() and s.isdigit():
        try:
            dt = datetime.fromtimestamp(int(s) / 1000, tz=UTC)
        except (OverflowError, ValueError, OSError):
            return None
        return dt if in_date_range(dt) else None
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return dt if in_date_range(dt) else None


def parse_int(value: object) -> int | None:
    d = parse_decimal(value)
    if d is None or d != d.to_integral_value():
        return None
    return int(d)


def format_datetime(dt: datetime | date) -> str:
    """ISO-8601 in UTC with milliseconds, the form HubSpot itself returns."""
    if not isinstance(dt, datetime):
        dt = datetime(dt.year, dt.month, dt.day, tzinfo=UTC)
    utc = in_date_range(dt)
    if utc is None:
        raise InputError(f"Invalid date: outside {DATE_LIMIT}.")
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def epoch_ms(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return str(int(dt.timestamp() * 1000))


def format_decimal(d: Decimal) -> str:
    """Plain notation (HubSpot does not read "1E+3"). Only for numbers within the bounds
    (`number_problem`): the plain form of an unbounded exponent is unbounded."""
    if number_problem(d) is not None:
        raise InputError(f"Invalid number: {number_problem(d)}.")
    return format(d, "f")


def to_property_value(value: object) -> str:
    """A Python value as HubSpot's string property value (`""` clears a property)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return format_datetime(value)
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InputError("Invalid number: not a finite number.")
        return format_decimal(Decimal(repr(value)))
    if isinstance(value, int):
        if value.bit_length() > 4 * MAX_NUMBER_CHARS:  # before str(), which may refuse or crawl
            raise InputError(f"Invalid number: too large: {NUMBER_LIMIT}.")
        return format_decimal(Decimal(value))
    return str(value)


# --------------------------------------------------------------------------- records


def raw_record(obj: CrmObject) -> dict[str, Any]:
    """The HubSpot record as HubSpot sent it (camelCase keys), for `raw`."""
    return obj.model_dump(mode="json", by_alias=True, exclude_none=True)


def record_parts(
    obj: CrmObject,
) -> tuple[str, dict[str, str | None], datetime | None, datetime | None, bool]:
    """(id, properties, created_at, updated_at, archived) of a client CrmObject; the dates fall
    back to the `createdate` / last-modified properties."""
    props = obj.properties
    created_at = parse_datetime(obj.created_at) or parse_datetime(props.get("createdate"))
    updated_at = (
        parse_datetime(obj.updated_at)
        or parse_datetime(props.get("hs_lastmodifieddate"))
        or parse_datetime(props.get("lastmodifieddate"))
    )
    return obj.id, dict(props), created_at, updated_at, bool(obj.archived)


def _custom(kind: ObjectKind, props: Mapping[str, str | None]) -> dict[str, str | None]:
    # Only the values a record has: reads ask for every custom property of the portal, and a
    # None for each one the record lacks would bury the few it has (the contract's other
    # providers list set values only).
    known = set(FIELD_TO_PROPERTY[kind].values()) | SYSTEM_PROPERTIES
    return {k: v for k, v in props.items() if k not in known and v is not None}


def _empty_to_none(v: str | None) -> str | None:
    return v if v not in (None, "") else None


def to_contact(obj: CrmObject) -> Contact:
    rid, p, created, updated, archived = record_parts(obj)
    return Contact(
        id=rid,
        created_at=created,
        updated_at=updated,
        archived=archived,
        email=_empty_to_none(p.get("email")),
        first_name=_empty_to_none(p.get("firstname")),
        last_name=_empty_to_none(p.get("lastname")),
        phone=_empty_to_none(p.get("phone")),
        company_name=_empty_to_none(p.get("company")),
        lifecycle_stage=_empty_to_none(p.get("lifecyclestage")),
        custom_fields=_custom("contact", p),
        raw=raw_record(obj),
    )


def to_company(obj: CrmObject) -> Company:
    rid, p, created, updated, archived = record_parts(obj)
    return Company(
        id=rid,
        created_at=created,
        updated_at=updated,
        archived=archived,
        name=_empty_to_none(p.get("name")),
        domain=_empty_to_none(p.get("domain")),
        industry=_empty_to_none(p.get("industry")),
        employee_count=parse_int(p.get("numberofemployees")),
        city=_empty_to_none(p.get("city")),
        country=_empty_to_none(p.get("country")),
        custom_fields=_custom("company", p),
        raw=raw_record(obj),
    )


def to_deal(obj: CrmObject, *, account_currency: str | None = None) -> Deal:
    """A deal; its amount's currency is the deal's own `deal_currency_code`, else the
    account's company currency, else unknown (None)."""
    rid, p, created, updated, archived = record_parts(obj)
    amount = parse_decimal(p.get("amount"))
    currency = _empty_to_none(p.get(DEAL_CURRENCY_PROPERTY)) or account_currency
    return Deal(
        id=rid,
        created_at=created,
        updated_at=updated,
        archived=archived,
        name=_empty_to_none(p.get("dealname")),
        amount=Money(amount=amount, currency=currency) if amount is not None else None,
        pipeline_id=_empty_to_none(p.get("pipeline")),
        stage_id=_empty_to_none(p.get("dealstage")),
        close_date=parse_datetime(p.get("closedate")),
        owner_id=_empty_to_none(p.get("hubspot_owner_id")),
        custom_fields=_custom("deal", p),
        raw=raw_record(obj),
    )


def to_unified(
    kind: ObjectKind, obj: CrmObject, *, account_currency: str | None = None
) -> CRMRecord:
    if kind == "contact":
        return to_contact(obj)
    if kind == "company":
        return to_company(obj)
    return to_deal(obj, account_currency=account_currency)


# --------------------------------------------------------------------------- inputs


def fields_to_properties(kind: ObjectKind, fields: BaseModel) -> dict[str, str]:
    """The fields a caller set (and only those: updates are partial) as HubSpot properties.

    A field explicitly set to None clears the property (HubSpot takes `""` for that).
    """
    mapping = FIELD_TO_PROPERTY[kind]
    out: dict[str, str] = {}
    errors: list[dict[str, str]] = []
    for name in fields.model_fields_set:
        if name in ("custom_fields", "contact_ids", "company_ids"):
            continue
        value = getattr(fields, name)
        prop = mapping.get(name)
        if prop is None:
            continue
        if name == "amount" and isinstance(value, Money):
            out["amount"] = format_decimal(value.amount)
            if value.currency:
                out[DEAL_CURRENCY_PROPERTY] = value.currency.upper()
            continue
        if name == "email" and value is not None and not EMAIL.fullmatch(str(value)):
            errors.append({"field": "email", "message": "not a valid e-mail address"})
            continue
        out[prop] = to_property_value(value)
    custom = getattr(fields, "custom_fields", {}) or {}
    for key, value in custom.items():
        if not PROPERTY_NAME.fullmatch(key):
            errors.append(
                {
                    "field": f"custom_fields.{key}",
                    "message": "not a HubSpot property name "
                    "(lower-case letters, digits, underscores)",
                }
            )
            continue
        out[key] = to_property_value(value)
    if errors:
        raise InputError(
            "Invalid input in: " + ", ".join(e["field"] for e in errors) + ".", errors=errors
        )
    return out


def collect_record_ids(
    field: str, raw: object, errors: list[dict[str, str]], *, max_items: int | None = None
) -> list[str]:
    """HubSpot record ids (digits) from a list, duplicates dropped; each problem is added to
    `errors` under `field.<n>`. The one check of record ids a caller sends."""
    if raw is None:
        return []
    if not isinstance(raw, list | tuple):
        errors.append({"field": field, "message": "must be a list of record ids"})
        return []
    if max_items is not None and len(raw) > max_items:
        errors.append({"field": field, "message": f"at most {max_items} ids"})
        return []
    out: list[str] = []
    for n, item in enumerate(raw):
        if not is_record_id(item):
            errors.append({"field": f"{field}.{n}", "message": NOT_A_RECORD_ID})
        elif (s := str(item).strip()) not in out:
            out.append(s)
    return out


def record_ids(field: str, raw: object, *, max_items: int | None = None) -> list[str]:
    """`collect_record_ids`, raising InputError naming every bad id."""
    errors: list[dict[str, str]] = []
    out = collect_record_ids(field, raw, errors, max_items=max_items)
    if errors:
        raise InputError(f"Invalid input in: {field}.", errors=errors)
    return out


def record_id(field: str, raw: object) -> str:
    """One HubSpot record (or list) id; InputError naming `field` when it is not one."""
    if not is_record_id(raw):
        raise InputError(
            f"Invalid input in: {field}.", errors=[{"field": field, "message": NOT_A_RECORD_ID}]
        )
    return str(raw).strip()


def is_record_id(raw: object) -> bool:
    """Whether `raw` is a HubSpot record id: 1 to 20 digits (a string or an int, not a bool)."""
    text = str(raw).strip() if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
    return bool(RECORD_ID.fullmatch(text))


# --------------------------------------------------------------------------- search


def property_for_field(kind: ObjectKind, field: str) -> str:
    """A unified field name (or a HubSpot property name) → the property to filter on."""
    mapping = FIELD_TO_PROPERTY[kind]
    if field in mapping:
        return mapping[field]
    if field == "created_at":
        return "createdate"
    if field == "updated_at":
        return MODIFIED_PROPERTY[kind]
    if field == "id":
        return "hs_object_id"
    if field.startswith("custom_fields."):
        field = field.removeprefix("custom_fields.")
    if PROPERTY_NAME.fullmatch(field):
        return field
    raise InputError(
        f"Cannot filter {OBJECT_TYPES[kind]} on {field!r}.",
        errors=[{"field": field, "message": "unknown field"}],
    )


def _filter_value(v: object) -> str:
    if isinstance(v, Money):
        return format_decimal(v.amount)
    if isinstance(v, datetime):
        return epoch_ms(v)
    if isinstance(v, date):
        return epoch_ms(datetime(v.year, v.month, v.day, tzinfo=UTC))
    return to_property_value(v)


def search_filter(kind: ObjectKind, f: SearchFilter) -> Filter:
    """One contract SearchFilter as a HubSpot search Filter."""
    prop = property_for_field(kind, f.field)
    op = OPERATORS[f.op]
    if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        return Filter(property_name=prop, operator=op)
    if op == "IN":
        values = f.value if isinstance(f.value, list | tuple | set) else [f.value]
        return Filter(property_name=prop, operator=op, values=[_filter_value(v) for v in values])
    if f.value is None:
        raise InputError(
            f"Filter on {f.field!r} with {f.op!r} needs a value.",
            errors=[{"field": f.field, "message": "value required"}],
        )
    value = _filter_value(f.value)
    if op == "CONTAINS_TOKEN" and "*" not in value:
        # CONTAINS_TOKEN matches whole tokens; wildcards make it a "contains".
        value = f"*{value}*"
    return Filter(property_name=prop, operator=op, value=value)


# --------------------------------------------------------------------------- pipelines


def to_stage(obj: StageModel) -> Stage:
    # Deal stage metadata is string-valued: {"probability": "0.5", "isClosed": "false"}.
    closed_raw = obj.metadata.get("isClosed")
    return Stage(
        id=obj.id,
        label=obj.label or obj.id,
        display_order=obj.display_order or 0,
        probability=parse_decimal(obj.metadata.get("probability")),
        is_closed=None if closed_raw is None else str(closed_raw).lower() == "true",
        archived=bool(obj.archived),
    )


def to_pipeline(obj: PipelineModel) -> Pipeline:
    stages = [to_stage(s) for s in obj.stages]
    stages.sort(key=lambda s: s.display_order)
    return Pipeline(
        id=obj.id,
        label=obj.label or obj.id,
        display_order=obj.display_order or 0,
        archived=bool(obj.archived),
        stages=stages,
    )


FIELDS_BY_KIND: dict[ObjectKind, type[BaseModel]] = {
    "contact": ContactFields,
    "company": CompanyFields,
    "deal": DealFields,
}
