"""CRM associations (v4): read, create, default, remove, and their batch forms."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from atom_hubspot.sandbox.api_crm import batch_answer, batch_inputs, not_found_error, object_type
from atom_hubspot.sandbox.errors import not_found, validation
from atom_hubspot.sandbox.objects import ObjectType, iso_ms, resolve_type
from atom_hubspot.sandbox.routing import (
    Call,
    Router,
    json_response,
    no_content,
)
from atom_hubspot.sandbox.state import (
    ASSOCIATION_TYPES,
    PRIMARY_IDS,
    Portal,
    Record,
)

routes = Router()


# --------------------------------------------------------------------------- associations (v4)

ASSOC_READ = (
    "/crm/v4/objects/{otype}/{oid}/associations/{totype}",
    "/crm/objects/{date}/{otype}/{oid}/associations/{totype}",
)
ASSOC_DEFAULT = (
    "/crm/v4/objects/{otype}/{oid}/associations/default/{totype}/{toid}",
    "/crm/objects/{date}/{otype}/{oid}/associations/default/{totype}/{toid}",
)
ASSOC_ONE = (
    "/crm/v4/objects/{otype}/{oid}/associations/{totype}/{toid}",
    "/crm/objects/{date}/{otype}/{oid}/associations/{totype}/{toid}",
)
ASSOC_BATCH = (
    "/crm/v4/associations/{otype}/{totype}/batch/{action}",
    "/crm/associations/{date}/{otype}/{totype}/batch/{action}",
)
ASSOC_BATCH_PAGE = 500  # associations per input and page in a batch read
ASSOC_BATCH_DEFAULT = (
    "/crm/v4/associations/{otype}/{totype}/batch/associate/default",
    "/crm/associations/{date}/{otype}/{totype}/batch/associate/default",
)


def _assoc_types(types: set[int]) -> list[dict[str, Any]]:
    return [
        {
            "category": "HUBSPOT_DEFINED",
            "typeId": t,
            "label": "Primary" if t in PRIMARY_IDS else None,
        }
        for t in sorted(types)
    ]


def _pair(call: Call, access: str) -> tuple[ObjectType, ObjectType]:
    a = object_type(call, access)
    b = resolve_type(call.params["totype"])
    if (a.name, b.name) not in ASSOCIATION_TYPES:
        raise validation(f"No association types between {a.name} and {b.name}")
    return a, b


def _live_or_404(portal: Portal, otype: ObjectType, oid: Any) -> Record:
    rec = portal.live(otype, oid)
    if rec is None:
        raise not_found(f"No {otype.singular} with ID {oid}")
    return rec


@routes.add("GET", "crm.associations.read", *ASSOC_READ, family="crm.object_associations")
async def assoc_read(call: Call) -> Response:
    a, b = _pair(call, "read")
    portal = call.require_portal()
    rec = _live_or_404(portal, a, call.params["oid"])
    limit = call.int_query("limit", 500, low=1, high=500)
    after = call.int_query("after", 0)
    rows = [
        (tid, types) for tid, types in portal.associated(a.name, rec.id, b.name) if tid >= after
    ]
    page = rows[:limit]
    body: dict[str, Any] = {
        "results": [{"toObjectId": tid, "associationTypes": _assoc_types(t)} for tid, t in page]
    }
    if len(rows) > limit:
        body["paging"] = {"next": {"after": str(page[-1][0] + 1)}}
    return json_response(body)


def _default_result(
    a: ObjectType, from_id: int, b: ObjectType, to_id: int, type_id: int
) -> dict[str, Any]:
    return {
        "from": {"id": str(from_id)},
        "to": {"id": str(to_id)},
        "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id},
    }


# Answer shape: https://developers.hubspot.com/docs/api-reference/2026-03/crm/associations/associate-records/update-association
@routes.add("PUT", "crm.associations.default", *ASSOC_DEFAULT, family="crm.object_associations")
async def assoc_default(call: Call) -> Response:
    a, b = _pair(call, "write")
    portal = call.require_portal()
    src = _live_or_404(portal, a, call.params["oid"])
    dst = _live_or_404(portal, b, call.params["toid"])
    type_id = portal.link_default(a.name, src.id, b.name, dst.id, now=call.sandbox.now())
    now = iso_ms(call.now)
    return json_response(
        {
            "status": "COMPLETE",
            "results": [
                _default_result(a, src.id, b, dst.id, type_id),
                _default_result(b, dst.id, a, src.id, ASSOCIATION_TYPES[(b.name, a.name)][0]),
            ],
            "startedAt": now,
            "completedAt": now,
        }
    )


@routes.add("PUT", "crm.associations.create", *ASSOC_ONE, family="crm.object_associations")
async def assoc_create(call: Call) -> Response:
    a, b = _pair(call, "write")
    portal = call.require_portal()
    src = _live_or_404(portal, a, call.params["oid"])
    dst = _live_or_404(portal, b, call.params["toid"])
    specs = call.json(default=[])
    if not isinstance(specs, list) or not specs:
        raise validation("Body must be a list of {associationCategory, associationTypeId}")
    allowed = ASSOCIATION_TYPES[(a.name, b.name)]
    for spec in specs:
        tid = spec.get("associationTypeId") if isinstance(spec, dict) else None
        # https://developers.hubspot.com/docs/api-reference/2026-03/crm/associations/associate-records/update-association-labeled
        category = spec.get("associationCategory", "HUBSPOT_DEFINED")
        if tid not in allowed or category != "HUBSPOT_DEFINED":
            raise validation(f"invalid association type {tid} from {a.singular} to {b.singular}")
        portal.link(a.name, src.id, b.name, dst.id, int(str(tid)), now=call.sandbox.now())
    return json_response(
        {
            "fromObjectTypeId": a.type_id,
            "fromObjectId": src.id,
            "toObjectTypeId": b.type_id,
            "toObjectId": dst.id,
            "labels": ["Primary"]
            if any(s.get("associationTypeId") in PRIMARY_IDS for s in specs)
            else [],
        },
        201,
    )


@routes.add("DELETE", "crm.associations.archive", *ASSOC_ONE, family="crm.object_associations")
async def assoc_delete(call: Call) -> Response:
    a, b = _pair(call, "write")
    portal = call.require_portal()
    src = _live_or_404(portal, a, call.params["oid"])
    portal.unlink(a.name, src.id, b.name, int(call.params["toid"]), now=call.sandbox.now())
    return no_content()


@routes.add(
    "POST", "crm.associations.batch_default", *ASSOC_BATCH_DEFAULT, family="crm.associations"
)
async def assoc_batch_default(call: Call) -> Response:
    a, b = _pair(call, "write")
    portal = call.require_portal()
    results, missing = [], []
    for item in batch_inputs(call.json_object()):
        src = portal.live(a, (item.get("from") or {}).get("id", ""))
        dst = portal.live(b, (item.get("to") or {}).get("id", ""))
        if src is None or dst is None:
            missing.append(str((item.get("from") or {}).get("id", "")))
            continue
        type_id = portal.link_default(a.name, src.id, b.name, dst.id, now=call.sandbox.now())
        results.append(_default_result(a, src.id, b, dst.id, type_id))
    errors = [not_found_error(a, missing, "associate")] if missing else []
    return batch_answer(call, results, errors)


@routes.add("POST", "crm.associations.batch", *ASSOC_BATCH, family="crm.associations")
async def assoc_batch(call: Call) -> Response:
    action = call.params["action"]
    a, b = _pair(call, "read" if action == "read" else "write")
    portal = call.require_portal()
    body = call.json_object()
    if action == "read":
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for item in batch_inputs(body, 1000):
            key = str(item.get("id", "")) if isinstance(item, dict) else ""
            rec = portal.live(a, key)
            rows = portal.associated(a.name, rec.id, b.name) if rec is not None else []
            try:  # per input, `after` resumes where the previous page of that id stopped
                after = int(str(item.get("after") or 0)) if isinstance(item, dict) else 0
            except ValueError:
                raise validation("after must be the cursor a previous page returned") from None
            rows = [(tid, t) for tid, t in rows if tid >= after]
            if not rows:
                # HubSpot reports ids without associations as errors next to the results.
                errors.append(
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                        "message": f"No {b.singular} is associated with {a.singular} {key}.",
                        "context": {
                            "fromObjectId": [key],
                            "fromObjectType": [a.label],
                            "toObjectType": [b.label],
                        },
                    }
                )
                continue
            page = rows[:ASSOC_BATCH_PAGE]
            result: dict[str, Any] = {
                "from": {"id": key},
                "to": [{"toObjectId": tid, "associationTypes": _assoc_types(t)} for tid, t in page],
            }
            if len(rows) > len(page):  # present only when there is more
                result["paging"] = {"next": {"after": str(page[-1][0] + 1)}}
            results.append(result)
        return batch_answer(call, results, errors)
    if action == "create":
        created: list[dict[str, Any]] = []
        for item in batch_inputs(body, 2000):
            src = _live_or_404(portal, a, (item.get("from") or {}).get("id", ""))
            dst = _live_or_404(portal, b, (item.get("to") or {}).get("id", ""))
            for spec in item.get("types") or []:
                tid = spec.get("associationTypeId")
                if tid not in ASSOCIATION_TYPES[(a.name, b.name)]:
                    raise validation(f"invalid association type {tid}")
                portal.link(a.name, src.id, b.name, dst.id, int(tid), now=call.sandbox.now())
            created.append(
                {
                    "fromObjectTypeId": a.type_id,
                    "fromObjectId": src.id,
                    "toObjectTypeId": b.type_id,
                    "toObjectId": dst.id,
                    "labels": [],
                }
            )
        return batch_answer(call, created, [], 201)
    if action == "archive":
        for item in batch_inputs(body, 2000):
            from_id = (item.get("from") or {}).get("id", "")
            for to in item.get("to") or []:
                try:
                    portal.unlink(
                        a.name, int(from_id), b.name, int(to.get("id", "")), now=call.sandbox.now()
                    )
                except ValueError:
                    continue
        return no_content()
    raise not_found(f"Unknown association batch action {action}")
