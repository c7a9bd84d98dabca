"""CRM objects (contacts, companies, deals): CRUD, batch, merge, GDPR delete and search.

Associations are in `api_associations.py`, pipelines and account details in `api_pipelines.py`.
"""

from __future__ import annotations

import bisect
from typing import Any

from starlette.responses import Response

from atom_hubspot.sandbox.errors import ApiError, not_found, validation
from atom_hubspot.sandbox.objects import ObjectType, iso_ms, resolve_type
from atom_hubspot.sandbox.routing import (
    Call,
    Router,
    json_response,
    no_content,
    require_scopes,
)
from atom_hubspot.sandbox.search import run_search
from atom_hubspot.sandbox.state import (
    TYPE_NAMES,
    Portal,
    Record,
)

# This module's endpoints; the sandbox app serves the tables it lists.
routes = Router()


def _batch_error(exc: ApiError, key: str) -> dict[str, Any]:
    """One input's failure in a batch answer (HubSpot's 207 `errors[]` entry)."""
    return {
        "status": "error",
        "category": exc.category,
        "message": exc.message,
        "context": {"ids": [key]},
        "errors": exc.errors or [],
    }


OBJ = ("/crm/v3/objects/{otype}", "/crm/objects/{date}/{otype}")
ONE = ("/crm/v3/objects/{otype}/{oid}", "/crm/objects/{date}/{otype}/{oid}")
BATCH = ("/crm/v3/objects/{otype}/batch/{action}", "/crm/objects/{date}/{otype}/batch/{action}")
SEARCH = ("/crm/v3/objects/{otype}/search", "/crm/objects/{date}/{otype}/search")
BATCH_MAX = 100
LIST_MAX = 100


def object_type(call: Call, access: str, key: str = "otype") -> ObjectType:
    otype = resolve_type(call.params[key])
    require_scopes(call, f"crm.objects.{otype.name}.{access}")
    return otype


def props_param(call: Call) -> list[str] | None:
    props = call.list_query("properties")
    return props or None


def record_json(
    portal: Portal,
    otype: ObjectType,
    rec: Record,
    props: list[str] | None,
    assoc: list[str] | None = None,
) -> dict[str, Any]:
    if props is None:
        keys: list[str] = list(otype.default_props)
    else:
        keys = list(dict.fromkeys([*props, "hs_object_id", "createdate", otype.modified_prop]))
    out: dict[str, Any] = {
        "id": str(rec.id),
        "properties": {k: rec.properties.get(k) for k in keys},
        "createdAt": iso_ms(rec.created),
        "updatedAt": iso_ms(rec.updated),
        "archived": rec.archived,
    }
    if rec.archived and rec.archived_at is not None:
        out["archivedAt"] = iso_ms(rec.archived_at)
    if assoc:
        links: dict[str, Any] = {}
        for name in assoc:
            to = resolve_type(name)
            results = [
                {"id": str(tid), "type": TYPE_NAMES.get(t, str(t))}
                for tid, types in portal.associated(otype.name, rec.id, to.name)
                for t in sorted(types)
            ]
            if results:  # HubSpot leaves out object types without associations
                links[to.name] = {"results": results}
        if links:
            out["associations"] = links
    return out


def batch_answer(
    call: Call, results: list[dict[str, Any]], errors: list[dict[str, Any]], ok_status: int = 200
) -> Response:
    now = iso_ms(call.now)
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": now,
        "completedAt": now,
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
        return json_response(body, 207)
    return json_response(body, ok_status)


def batch_inputs(body: dict[str, Any], limit: int = BATCH_MAX) -> list[Any]:
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise validation("Invalid input JSON: `inputs` is required")
    if len(inputs) > limit:
        raise validation(
            f"Batch input limit exceeded: {len(inputs)} inputs, the maximum is {limit}",
            [{"message": f"size must be between 0 and {limit}", "in": "inputs"}],
        )
    return inputs


# --------------------------------------------------------------------------- basic CRUD


@routes.add("GET", "crm.objects.list", *OBJ, family="crm.objects")
async def list_objects(call: Call) -> Response:
    otype = object_type(call, "read")
    portal = call.require_portal()
    limit = call.int_query("limit", 10, low=1, high=LIST_MAX)
    after = call.int_query("after", 0)
    archived = call.query.get("archived", "false").lower() == "true"
    # Records are kept in id order (ids only grow): start at `after`, stop after one extra.
    records = portal.records[otype.name]
    ids = list(records)
    recs: list[Record] = []
    for rid in ids[bisect.bisect_left(ids, after) :]:
        r = records[rid]
        if r.archived == archived:
            recs.append(r)
            if len(recs) > limit:
                break
    page = recs[:limit]
    props, assoc = props_param(call), call.list_query("associations")
    body: dict[str, Any] = {"results": [record_json(portal, otype, r, props, assoc) for r in page]}
    if len(recs) > limit:
        nxt = str(page[-1].id + 1)
        body["paging"] = {"next": {"after": nxt, "link": call.next_link(nxt)}}
    return json_response(body)


@routes.add("POST", "crm.objects.create", *OBJ, family="crm.objects")
async def create_object(call: Call) -> Response:
    otype = object_type(call, "write")
    portal = call.require_portal()
    body = call.json_object()
    rec = portal.create(otype, body.get("properties"), call.now, body.get("associations"))
    return json_response(record_json(portal, otype, rec, sorted(rec.properties)), 201)


@routes.add("GET", "crm.objects.get", *ONE, family="crm.objects")
async def get_object(call: Call) -> Response:
    otype = object_type(call, "read")
    portal = call.require_portal()
    rec = portal.get_by(otype, call.params["oid"], call.query.get("idProperty"))
    if rec is None and call.params["oid"].isdigit() and not call.query.get("idProperty"):
        # A merged-away id answers the record it was merged into.
        survivor = portal.merged.get(otype.name, {}).get(int(call.params["oid"]))
        rec = portal.live(otype, survivor) if survivor is not None else None
    if rec is None and call.query.get("archived", "false").lower() == "true":
        try:
            cand = portal.records[otype.name].get(int(call.params["oid"]))
        except ValueError:
            cand = None
        rec = cand if cand is not None and cand.archived else None
    if rec is None:
        raise not_found(
            f"Object not found. objectId are usually numeric. ({otype.label} {call.params['oid']})"
        )
    return json_response(
        record_json(portal, otype, rec, props_param(call), call.list_query("associations"))
    )


@routes.add("PATCH", "crm.objects.update", *ONE, family="crm.objects")
async def update_object(call: Call) -> Response:
    otype = object_type(call, "write")
    portal = call.require_portal()
    rec = portal.get_by(otype, call.params["oid"], call.query.get("idProperty"))
    if rec is None:
        raise not_found(f"Object not found. ({otype.label} {call.params['oid']})")
    body = call.json_object()
    portal.update(otype, rec, body.get("properties"), call.now)
    return json_response(record_json(portal, otype, rec, sorted(rec.properties)))


@routes.add("DELETE", "crm.objects.archive", *ONE, family="crm.objects")
async def archive_object(call: Call) -> Response:
    otype = object_type(call, "write")
    portal = call.require_portal()
    rec = portal.live(otype, call.params["oid"])
    if rec is not None:  # HubSpot answers 204 for ids that do not exist too
        portal.archive(otype, rec, call.now)
    return no_content()


# --------------------------------------------------------------------------- batch


@routes.add("POST", "crm.objects.batch", *BATCH, family="crm.objects")
async def batch(call: Call) -> Response:
    action = call.params["action"]
    handler = {
        "read": _batch_read,
        "create": _batch_create,
        "update": _batch_update,
        "upsert": _batch_upsert,
        "archive": _batch_archive,
    }.get(action)
    if handler is None:
        raise not_found(f"Unknown batch action {action}")
    otype = object_type(call, "read" if action == "read" else "write")
    return await handler(call, otype, call.require_portal(), call.json_object())


def not_found_error(otype: ObjectType, ids: list[str], verb: str = "get") -> dict[str, Any]:
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": f"Could not {verb} some {otype.label} objects, they may be deleted or not "
        "exist. Check that ids are valid.",
        "context": {"ids": ids},
    }


async def _batch_read(
    call: Call, otype: ObjectType, portal: Portal, body: dict[str, Any]
) -> Response:
    with_history = bool(body.get("propertiesWithHistory"))
    inputs = batch_inputs(body, 50 if with_history else BATCH_MAX)
    props = body.get("properties") or None
    id_property = body.get("idProperty")
    results, missing = [], []
    for item in inputs:
        key = str(item.get("id", "")) if isinstance(item, dict) else ""
        rec = portal.get_by(otype, key, id_property) if key else None
        if rec is None:
            missing.append(key)
        else:
            results.append(record_json(portal, otype, rec, props))
    errors = [not_found_error(otype, missing)] if missing else []
    return batch_answer(call, results, errors)


async def _batch_create(
    call: Call, otype: ObjectType, portal: Portal, body: dict[str, Any]
) -> Response:
    inputs = batch_inputs(body)
    # HubSpot creates all or nothing: check every input before the first write.
    seen: set[str] = set()
    check = portal.property_check(otype)
    for item in inputs:
        if not isinstance(item, dict):
            raise validation("each input needs `properties`")
        props = check.clean(item.get("properties") or {}, for_create=True)
        if otype.unique_prop and props.get(otype.unique_prop):
            key = props[otype.unique_prop].lower()
            existing = portal.find_by(otype, otype.unique_prop, key)
            if existing is not None:
                raise ApiError(
                    409,
                    f"{otype.singular.capitalize()} already exists. Existing ID: {existing.id}",
                    "CONFLICT",
                )
            if key in seen:
                raise validation(f"Duplicate {otype.unique_prop} {key} in the batch inputs")
            seen.add(key)
        portal._check_inline_associations(otype, item.get("associations"))
    results = [
        record_json(
            portal,
            otype,
            portal.create(otype, item.get("properties"), call.now, item.get("associations")),
            sorted(item.get("properties") or {}),
        )
        for item in inputs
    ]
    return batch_answer(call, results, [], 201)


async def _batch_update(
    call: Call, otype: ObjectType, portal: Portal, body: dict[str, Any]
) -> Response:
    inputs = batch_inputs(body)
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    missing: list[str] = []
    for item in inputs:
        key = str(item.get("id", "")) if isinstance(item, dict) else ""
        rec = portal.get_by(otype, key, item.get("idProperty")) if key else None
        if rec is None:
            missing.append(key)
            continue
        try:
            portal.update(otype, rec, item.get("properties"), call.now)
        except ApiError as exc:
            errors.append(_batch_error(exc, key))
            continue
        results.append(record_json(portal, otype, rec, sorted(item.get("properties") or {})))
    if missing:
        errors.insert(0, not_found_error(otype, missing, "update"))
    return batch_answer(call, results, errors)


async def _batch_upsert(
    call: Call, otype: ObjectType, portal: Portal, body: dict[str, Any]
) -> Response:
    inputs = batch_inputs(body)
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for item in inputs:
        if not isinstance(item, dict) or not item.get("id"):
            errors.append(
                {
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": "each upsert input needs `id` and `idProperty`",
                    "context": {"ids": [""]},
                }
            )
            continue
        key = str(item["id"])
        id_prop = item.get("idProperty") or "hs_object_id"
        if id_prop != "hs_object_id" and id_prop not in portal.unique_properties(otype):
            errors.append(
                {
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": f"{id_prop} is not a unique property of {otype.name}",
                    "context": {"ids": [key]},
                }
            )
            continue
        props = dict(item.get("properties") or {})
        try:
            rec = portal.get_by(otype, key, id_prop)
            if rec is not None:
                portal.update(otype, rec, props, call.now)
                new = False
            else:
                if id_prop == "hs_object_id":
                    raise ApiError(404, f"No {otype.singular} with ID {key}", "OBJECT_NOT_FOUND")
                props.setdefault(id_prop, key)
                rec = portal.create(otype, props, call.now)
                new = True
        except ApiError as exc:
            errors.append(_batch_error(exc, key))
            continue
        out = record_json(portal, otype, rec, sorted(props))
        out["new"] = new
        results.append(out)
    return batch_answer(call, results, errors)


async def _batch_archive(
    call: Call, otype: ObjectType, portal: Portal, body: dict[str, Any]
) -> Response:
    for item in batch_inputs(body):
        rec = portal.live(otype, item.get("id", "")) if isinstance(item, dict) else None
        if rec is not None:
            portal.archive(otype, rec, call.now)
    return no_content()


# --------------------------------------------------------------------------- merge, GDPR

MERGE = ("/crm/v3/objects/{otype}/merge", "/crm/objects/{date}/{otype}/merge")
GDPR = ("/crm/v3/objects/{otype}/gdpr-delete", "/crm/objects/{date}/{otype}/gdpr-delete")


# https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/basic/post-crm-v3-objects-contacts-merge
@routes.add("POST", "crm.objects.merge", *MERGE, family="crm.objects")
async def merge_objects(call: Call) -> Response:
    otype = object_type(call, "write")
    portal = call.require_portal()
    body = call.json_object()
    primary = portal.live(otype, body.get("primaryObjectId", ""))
    other = portal.live(otype, body.get("objectIdToMerge", ""))
    if primary is None or other is None:
        raise not_found(f"Object not found. ({otype.label} merge)")
    if primary.id == other.id:
        raise validation("A record cannot be merged with itself")
    rec = portal.merge(otype, primary, other, call.now)
    return json_response(record_json(portal, otype, rec, sorted(rec.properties)))


# https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/gdpr/post-crm-v3-objects-contacts-gdpr-delete
@routes.add("POST", "crm.objects.gdpr_delete", *GDPR, family="crm.objects")
async def gdpr_delete(call: Call) -> Response:
    otype = object_type(call, "write")
    portal = call.require_portal()
    body = call.json_object()
    rec = portal.get_by(otype, str(body.get("objectId", "")), body.get("idProperty"))
    if rec is None:
        raise not_found(f"Object not found. ({otype.label} {body.get('objectId')})")
    portal.gdpr_delete(otype, rec, call.now)
    return no_content()


# --------------------------------------------------------------------------- search


@routes.add("POST", "crm.objects.search", *SEARCH, search=True, family="crm.objects")
async def search(call: Call) -> Response:
    otype = object_type(call, "read")
    portal = call.require_portal()
    body = call.json_object()
    # HubSpot's search index trails writes by a few seconds: search sees each record as it
    # was `search_lag_s` ago (created since: not at all; updated since: its older values).
    # https://developers.hubspot.com/docs/api-reference/search/guide#limitations
    cutoff = call.now - call.sandbox.config.search_lag_s
    live = [
        view
        for r in portal.records[otype.name].values()
        if not r.archived and (view := r.search_view(cutoff)) is not None
    ]
    # Numbers compare as numbers, also for the portal's own number properties (lead scores).
    kinds = portal.property_check(otype).known
    page, total, offset, _limit = run_search(otype, live, body, kinds)
    props = body.get("properties") or None
    out: dict[str, Any] = {
        "total": total,
        "results": [record_json(portal, otype, r, props) for r in page],
    }
    nxt = offset + len(page)
    if page and nxt < total:
        out["paging"] = {"next": {"after": str(nxt)}}
    return json_response(out)
