"""CRM object types, their properties and the rules HubSpot applies to property values."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from atom_hubspot.sandbox.errors import ApiError


@dataclass(frozen=True)
class ObjectType:
    name: str  # plural path name: contacts
    type_id: str  # 0-1
    singular: str  # contact
    label: str  # CONTACT (used in HubSpot messages)
    modified_prop: str
    default_props: tuple[str, ...]
    searchable: tuple[str, ...]
    unique_prop: str | None


CONTACTS = ObjectType(
    "contacts",
    "0-1",
    "contact",
    "CONTACT",
    "lastmodifieddate",
    ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    ("firstname", "lastname", "email", "phone", "company"),
    "email",
)
COMPANIES = ObjectType(
    "companies",
    "0-2",
    "company",
    "COMPANY",
    "hs_lastmodifieddate",
    ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    ("name", "domain", "website", "phone"),
    # Through the API HubSpot does not deduplicate companies by domain: two companies may share
    # one, and an upsert needs a unique-value property instead.
    # https://developers.hubspot.com/docs/api-reference/latest/crm/objects/companies/guide
    None,
)
DEALS = ObjectType(
    "deals",
    "0-3",
    "deal",
    "DEAL",
    "hs_lastmodifieddate",
    (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
    ("dealname", "pipeline", "dealstage", "description", "dealtype"),
    None,
)
OBJECT_TYPES = {t.name: t for t in (CONTACTS, COMPANIES, DEALS)}
_ALIASES = {alias: t for t in OBJECT_TYPES.values() for alias in (t.name, t.type_id, t.singular)}


def resolve_type(name: str) -> ObjectType:
    t = _ALIASES.get(name.lower())
    if t is None:
        raise ApiError(
            400 if name.startswith("0-") or name.startswith("2-") else 404,
            f"Unable to infer object type from: {name}",
            "OBJECT_NOT_FOUND" if not name.startswith("0-") else "VALIDATION_ERROR",
        )
    return t


LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
LEAD_STATUSES = (
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
)

_COMMON = {
    "createdate": "datetime",
    "hs_object_id": "number",
    "hubspot_owner_id": "string",
    # Ids merged into this record, ";"-separated (HubSpot sets it on the surviving record).
    "hs_merged_object_ids": "string",
}
PROPERTY_TYPES: dict[str, dict[str, str]] = {
    "contacts": {
        **_COMMON,
        "lastmodifieddate": "datetime",
        "email": "email",
        "firstname": "string",
        "lastname": "string",
        "phone": "string",
        "mobilephone": "string",
        "company": "string",
        "jobtitle": "string",
        "website": "string",
        "address": "string",
        "city": "string",
        "state": "string",
        "zip": "string",
        "country": "string",
        "industry": "string",
        "lifecyclestage": "lifecyclestage",
        "hs_lead_status": "lead_status",
        "annualrevenue": "number",
        "notes_last_updated": "datetime",
        "hs_email_optout": "bool",
        # HubSpot's legacy default score: a number HubSpot calculates (fieldType
        # calculation_score), never written by callers.
        "hubspotscore": "score",
    },
    "companies": {
        **_COMMON,
        "hs_lastmodifieddate": "datetime",
        "name": "string",
        "domain": "string",
        "website": "string",
        "industry": "string",
        "numberofemployees": "number",
        "annualrevenue": "number",
        "city": "string",
        "state": "string",
        "country": "string",
        "phone": "string",
        "description": "string",
        "type": "string",
        "lifecyclestage": "lifecyclestage",
    },
    "deals": {
        **_COMMON,
        "hs_lastmodifieddate": "datetime",
        "dealname": "string",
        "amount": "number",
        "dealstage": "string",
        "pipeline": "string",
        "closedate": "datetime",
        "dealtype": "string",
        "description": "string",
        "deal_currency_code": "string",
        "hs_is_closed": "bool",
        "hs_is_closed_won": "bool",
        "hs_deal_stage_probability": "number",
    },
}
# HubSpot property `type` -> the value check PropertyCheck applies (others: any string).
VALUE_KINDS: dict[str, str] = {
    "number": "number",
    "date": "datetime",
    "datetime": "datetime",
    "bool": "bool",
}
# Written by HubSpot, never by callers.
READ_ONLY = {
    "hs_object_id",
    "hs_merged_object_ids",
    "lastmodifieddate",
    "hs_lastmodifieddate",
    "hs_is_closed",
    "hs_is_closed_won",
    "hs_deal_stage_probability",
    "hubspotscore",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@functools.lru_cache(maxsize=65_536)  # timestamps repeat across reads; strftime is slow
def iso_ms(epoch_s: float) -> str:
    """HubSpot's datetime format: 2026-05-01T12:00:00.123Z."""
    dt = datetime.fromtimestamp(epoch_s, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_datetime(value: Any) -> float | None:
    """Epoch ms, ISO-8601 or YYYY-MM-DD → epoch seconds (None when unparseable)."""
    if value is None:
        return None
    s = str(value).strip()
    if not s:
        return None
    if re.fullmatch(r"-?\d+", s):
        return int(s) / 1000.0
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def as_number(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _invalid(name: str, value: Any, code: str, why: str) -> dict[str, Any]:
    return {
        "isValid": False,
        "message": f"{value!s} was not a valid {why}.",
        "error": code,
        "name": name,
        "localizedErrorMessage": f"Property values were not valid: {name}",
    }


@dataclass
class PropertyCheck:
    """Validates and normalises property values; collects every problem at once."""

    otype: ObjectType
    known: dict[str, str]
    deal_stages: dict[str, set[str]] = field(default_factory=dict)  # pipeline -> stage ids
    # HubSpot's own read-only properties, and custom ones whose definition says readOnlyValue.
    read_only: frozenset[str] = frozenset(READ_ONLY)

    def clean(self, props: Any, *, for_create: bool) -> dict[str, str]:
        if not isinstance(props, dict):
            raise ApiError(
                400, "Invalid input JSON: properties must be an object", "VALIDATION_ERROR"
            )
        out: dict[str, str] = {}
        problems: list[dict[str, Any]] = []
        for name, raw in props.items():
            kind = self.known.get(name)
            if kind is None:
                problems.append(
                    {
                        "isValid": False,
                        "message": f'Property "{name}" does not exist',
                        "error": "PROPERTY_DOESNT_EXIST",
                        "name": name,
                        "localizedErrorMessage": f'Property "{name}" does not exist',
                    }
                )
                continue
            if name in self.read_only:
                problems.append(_invalid(name, raw, "READ_ONLY_VALUE", "writable value"))
                continue
            value = "" if raw is None else (str(raw).lower() if isinstance(raw, bool) else str(raw))
            if value == "":
                out[name] = ""
                continue
            if kind == "number":
                n = as_number(value)
                if n is None:
                    problems.append(_invalid(name, value, "INVALID_DECIMAL", "number"))
                    continue
                value = format(n, "f")  # 1E+3 -> 1000: HubSpot keeps plain decimals
            elif kind == "datetime":
                ts = parse_datetime(value)
                if ts is None:
                    problems.append(_invalid(name, value, "INVALID_DATE", "date"))
                    continue
                value = iso_ms(ts)
            elif kind == "email":
                if not _EMAIL.match(value):
                    problems.append(_invalid(name, value, "INVALID_EMAIL", "email address"))
                    continue
                value = value.lower()
            elif kind == "lifecyclestage":
                if value not in LIFECYCLE_STAGES:
                    problems.append(_invalid(name, value, "INVALID_OPTION", "option"))
                    continue
            elif kind == "lead_status":
                if value not in LEAD_STATUSES:
                    problems.append(_invalid(name, value, "INVALID_OPTION", "option"))
                    continue
            elif kind == "bool":
                if value.lower() not in ("true", "false"):
                    problems.append(_invalid(name, value, "INVALID_BOOLEAN", "boolean"))
                    continue
                value = value.lower()
            out[name] = value
        if problems:
            raise ApiError(
                400,
                "Property values were not valid: " + json.dumps(problems),
                "VALIDATION_ERROR",
                errors=[
                    {
                        "message": p["message"],
                        "code": p["error"],
                        "context": {"propertyName": [p["name"]]},
                    }
                    for p in problems
                ],
            )
        return out


# --------------------------------------------------------------------------- definitions


def property_definition(
    otype: ObjectType,
    name: str,
    *,
    label: str,
    type_: str,
    field_type: str,
    group: str,
    hubspot_defined: bool,
    created: float,
    description: str = "",
    options: list[Any] | None = None,
    calculated: bool = False,
) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "groupName": group,
        "description": description,
        "options": options or [],
        "displayOrder": -1,
        "hidden": False,
        "formField": otype.name == "contacts" and not hubspot_defined and not calculated,
        "hasUniqueValue": name == otype.unique_prop,
        "calculated": calculated,
        "externalOptions": False,
        "hubspotDefined": hubspot_defined,
        "archived": False,
        "createdAt": iso_ms(created),
        "updatedAt": iso_ms(created),
        "modificationMetadata": {
            "archivable": not hubspot_defined,
            "readOnlyDefinition": hubspot_defined,
            # HubSpot writes these itself; the API refuses a value for them.
            "readOnlyValue": name in READ_ONLY or calculated,
        },
    }


def lead_score_definition(
    otype: ObjectType, name: str, *, label: str, created: float
) -> dict[str, Any]:
    """A score property as the lead scoring tool makes one when a score is published: a
    calculated number (`fieldType: calculation_score`) that only HubSpot writes, in the
    portal's own properties (not HubSpot-defined). The group name is the sandbox's choice.
    https://knowledge.hubspot.com/scoring/build-lead-scores"""
    return property_definition(
        otype,
        name,
        label=label,
        type_="number",
        field_type="calculation_score",
        group="scoring",
        hubspot_defined=False,
        created=created,
        description="Set by the lead scoring tool",
        calculated=True,
    )
