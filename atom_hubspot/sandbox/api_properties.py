"""Property definitions: read all properties of an object type, create a custom one.

Answer shape: https://developers.hubspot.com/docs/api-reference/2026-03/crm/properties/get-properties
(legacy: https://developers.hubspot.com/docs/api-reference/legacy/crm/properties/get-properties).
HubSpot-defined properties are the ones the sandbox knows for each type (what the seed uses);
every other property a portal has is custom: those created here, those the portal was started
with (`extra_properties`), and any name a record of the type carries.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from atom_hubspot.sandbox.errors import ApiError, validation
from atom_hubspot.sandbox.objects import (
    PROPERTY_TYPES,
    ObjectType,
    property_definition,
    resolve_type,
)
from atom_hubspot.sandbox.routing import Call, Router, json_response, require_scopes
from atom_hubspot.sandbox.state import Portal

# This module's endpoints; the sandbox app serves the tables it lists.
routes = Router()

PROPERTIES = ("/crm/v3/properties/{otype}", "/crm/properties/{date}/{otype}")

# Sandbox value kind -> (HubSpot type, fieldType).
_WIRE_TYPES: dict[str, tuple[str, str]] = {
    "string": ("string", "text"),
    "email": ("string", "text"),
    "number": ("number", "number"),
    "datetime": ("datetime", "date"),
    "bool": ("bool", "booleancheckbox"),
    "lifecyclestage": ("enumeration", "select"),
    "lead_status": ("enumeration", "select"),
    # A score HubSpot calculates: `type: number`, `fieldType: calculation_score`, as HubSpot's
    # Properties API lists `hubspotscore` (its default score property).
    # https://developers.hubspot.com/docs/api-reference/crm-properties-v3/guide
    "score": ("number", "calculation_score"),
}
_LABELS = {"hubspotscore": "HubSpot Score"}
TYPES = ("string", "number", "date", "datetime", "enumeration", "bool", "phone_number", "json")
FIELD_TYPES = (
    "text",
    "textarea",
    "select",
    "radio",
    "checkbox",
    "booleancheckbox",
    "number",
    "date",
    "file",
    "html",
    "phonenumber",
    "calculation_equation",
)  # calculation_score too, but only HubSpot makes score properties
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
_GROUPS = {
    "contacts": "contactinformation",
    "companies": "companyinformation",
    "deals": "dealinformation",
}


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def definitions(portal: Portal, otype: ObjectType, now: float) -> list[dict[str, Any]]:
    """Every property of `otype` in `portal`: HubSpot's own first, then the custom ones."""
    builtin = PROPERTY_TYPES[otype.name]
    out = []
    for name, kind in builtin.items():
        type_, field_type = _WIRE_TYPES.get(kind, ("string", "text"))
        out.append(
            property_definition(
                otype,
                name,
                label=_LABELS.get(name) or _label(name),
                type_=type_,
                field_type=field_type,
                group=_GROUPS[otype.name],
                hubspot_defined=True,
                created=0.0,
                calculated=kind == "score",
            )
        )
    created = portal.property_defs.get(otype.name, {})
    custom = set(portal.extra_properties.get(otype.name, set()))
    for rec in portal.records[otype.name].values():
        custom.update(rec.properties)
    custom -= set(builtin)
    custom -= set(created)
    out += list(created.values())
    for name in sorted(custom):
        out.append(
            property_definition(
                otype,
                name,
                label=_label(name),
                type_="string",
                field_type="text",
                group=_GROUPS[otype.name],
                hubspot_defined=False,
                created=now,
            )
        )
    return out


def _otype(call: Call, access: str) -> ObjectType:
    otype = resolve_type(call.params["otype"])
    # Strict on purpose: only the schema scope. HubSpot's current reference also lists the
    # object scopes for this endpoint, but its property pages name crm.schemas.*.read, and a
    # connection made without it is what the plugin's fallback must cope with.
    require_scopes(call, f"crm.schemas.{otype.name}.{access}")
    return otype


@routes.add("GET", "crm.properties.list", *PROPERTIES, family="crm.properties")
async def list_properties(call: Call) -> Response:
    otype = _otype(call, "read")
    portal = call.require_portal()
    archived = call.query.get("archived", "false").lower() == "true"
    # Nothing is ever archived here: archived=true lists none.
    results = [] if archived else definitions(portal, otype, call.now)
    return json_response({"results": results})


@routes.add("POST", "crm.properties.create", *PROPERTIES, family="crm.properties")
async def create_property(call: Call) -> Response:
    """`{name, label, type, fieldType, groupName}` (all required, as HubSpot has them) → 201."""
    otype = _otype(call, "write")
    portal = call.require_portal()
    body = call.json_object()
    missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
    if missing:
        raise validation(
            f"Missing required fields: {', '.join(missing)}",
            [{"message": "is required", "in": k} for k in missing],
        )
    name, type_, field_type = str(body["name"]), str(body["type"]), str(body["fieldType"])
    problems = []
    if not _NAME.match(name):
        problems.append({"message": "lower-case letters, digits and underscores", "in": "name"})
    if type_ not in TYPES:
        problems.append({"message": f"must be one of {', '.join(TYPES)}", "in": "type"})
    if field_type not in FIELD_TYPES:
        problems.append({"message": f"must be one of {', '.join(FIELD_TYPES)}", "in": "fieldType"})
    if problems:
        raise validation("Property definition was not valid", problems)
    existing = {d["name"] for d in definitions(portal, otype, call.now)}
    if name in existing:
        raise ApiError(409, f"Property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
    definition = property_definition(
        otype,
        name,
        label=str(body["label"]),
        type_=type_,
        field_type=field_type,
        group=str(body["groupName"]),
        hubspot_defined=False,
        created=call.now,
        description=str(body.get("description") or ""),
        options=body.get("options") if isinstance(body.get("options"), list) else None,
    )
    # A custom unique-value property: what an upsert of companies (or any type) keys on.
    definition["hasUniqueValue"] = body.get("hasUniqueValue") is True
    portal.property_defs.setdefault(otype.name, {})[name] = definition
    # Records may carry it from now on.
    portal.extra_properties.setdefault(otype.name, set()).add(name)
    return json_response(definition, 201)
