"""Lists (the v3 lists API, the only one left): create, search, get, memberships."""

from __future__ import annotations

import base64
from typing import Any

from starlette.responses import Response

from atom_hubspot.sandbox.api_properties import definitions
from atom_hubspot.sandbox.errors import ApiError, not_found, validation
from atom_hubspot.sandbox.objects import OBJECT_TYPES, iso_ms
from atom_hubspot.sandbox.routing import Call, Router, json_response, no_content, require_scopes
from atom_hubspot.sandbox.state import CrmList, Portal, Record

# This module's endpoints; the sandbox app serves the tables it lists.
routes = Router()

LISTS = ("/crm/v3/lists", "/crm/lists/{date}")
LIST_SEARCH = ("/crm/v3/lists/search", "/crm/lists/{date}/search")
LIST_ONE = ("/crm/v3/lists/{list_id}", "/crm/lists/{date}/{list_id}")
MEMBERS = ("/crm/v3/lists/{list_id}/memberships", "/crm/lists/{date}/{list_id}/memberships")
MEMBERS_OP = (
    "/crm/v3/lists/{list_id}/memberships/{op}",
    "/crm/lists/{date}/{list_id}/memberships/{op}",
)
TYPE_BY_ID = {t.type_id: t for t in OBJECT_TYPES.values()}
PROCESSING_TYPES = ("MANUAL", "DYNAMIC", "SNAPSHOT")


def _filter_properties(branch: dict[str, Any]) -> list[str]:
    """Every property a filter branch refers to, depth first."""
    out = [
        str(f.get("property"))
        for f in branch.get("filters") or []
        if isinstance(f, dict) and f.get("filterType", "PROPERTY") == "PROPERTY"
    ]
    for child in branch.get("filterBranches") or []:
        if isinstance(child, dict):
            out += _filter_properties(child)
    return out


def _branch_matches(branch: dict[str, Any], rec: Record) -> bool:
    """A small evaluator of list filter branches (PROPERTY filters) for DYNAMIC lists."""
    kind = str(branch.get("filterBranchType", "AND")).upper()
    checks = [_filter_matches(f, rec) for f in branch.get("filters") or []]
    checks += [_branch_matches(b, rec) for b in branch.get("filterBranches") or []]
    if not checks:
        return kind == "AND"
    return any(checks) if kind == "OR" else all(checks)


def _filter_matches(f: dict[str, Any], rec: Record) -> bool:
    if f.get("filterType") != "PROPERTY":
        return False
    value = rec.properties.get(str(f.get("property")), "") or ""
    op = f.get("operation") or {}
    operator = str(op.get("operator", "")).upper()
    # STRING operations carry one `value`; MULTISTRING and ENUMERATION ones a `values` array
    # (any of them matches). https://developers.hubspot.com/docs/api-reference/2026-03/crm/lists/list-filters
    values = [str(v).lower() for v in op.get("values") or []]
    targets = values or [str(op.get("value", "")).lower()]
    v = value.lower()
    return {
        "IS_EQUAL_TO": v in targets,
        "IS_NOT_EQUAL_TO": v not in targets,
        "IS_ANY_OF": v in values,
        "IS_NONE_OF": v not in values,
        "CONTAINS": any(t in v for t in targets),
        "DOES_NOT_CONTAIN": not any(t in v for t in targets),
        "STARTS_WITH": any(v.startswith(t) for t in targets),
        "ENDS_WITH": any(v.endswith(t) for t in targets),
        "IS_KNOWN": v != "",
        "IS_UNKNOWN": v == "",
    }.get(operator, False)


def members_of(portal: Portal, lst: CrmList) -> list[int]:
    otype = TYPE_BY_ID[lst.object_type_id]
    if lst.processing_type == "DYNAMIC":
        return sorted(
            r.id
            for r in portal.records[otype.name].values()
            if not r.archived and lst.filter_branch and _branch_matches(lst.filter_branch, r)
        )
    return [rid for rid in lst.members if portal.live(otype, rid) is not None]


def list_json(portal: Portal, lst: CrmList, *, include_filters: bool = False) -> dict[str, Any]:
    size = len(members_of(portal, lst))
    out: dict[str, Any] = {
        "listId": str(lst.list_id),
        "listVersion": 1,
        "name": lst.name,
        "objectTypeId": lst.object_type_id,
        "processingType": lst.processing_type,
        "processingStatus": "COMPLETE",
        "size": size,
        "createdAt": iso_ms(lst.created),
        "updatedAt": iso_ms(lst.updated),
        "filtersUpdatedAt": iso_ms(lst.created),
        "createdById": str(portal.user_id),
        "updatedById": str(portal.user_id),
        "additionalProperties": {"hs_list_size": str(size)},
    }
    if include_filters and lst.filter_branch is not None:
        out["filterBranch"] = lst.filter_branch
    return out


def _get(portal: Portal, raw: str) -> CrmList:
    try:
        lst = portal.lists.get(int(raw))
    except ValueError:
        lst = None
    if lst is None:
        raise not_found(f"List {raw} does not exist")
    return lst


@routes.add("POST", "lists.create", *LISTS, family="crm.lists")
async def create_list(call: Call) -> Response:
    require_scopes(call, "crm.lists.write")
    portal = call.require_portal()
    body = call.json_object()
    name = str(body.get("name") or "").strip()
    ptype = str(body.get("processingType") or "")
    otid = str(body.get("objectTypeId") or "")
    problems: list[dict[str, Any]] = []
    if not name:
        problems.append({"message": "name is required", "in": "name"})
    if ptype not in PROCESSING_TYPES:
        problems.append(
            {"message": f"processingType must be one of {PROCESSING_TYPES}", "in": "processingType"}
        )
    if otid not in TYPE_BY_ID:
        problems.append({"message": "objectTypeId must be 0-1, 0-2 or 0-3", "in": "objectTypeId"})
    if ptype in ("DYNAMIC", "SNAPSHOT") and not isinstance(body.get("filterBranch"), dict):
        problems.append({"message": f"a {ptype} list needs a filterBranch", "in": "filterBranch"})
    if otid in TYPE_BY_ID and isinstance(body.get("filterBranch"), dict):
        known = {d["name"] for d in definitions(portal, TYPE_BY_ID[otid], call.now)}
        for prop in _filter_properties(body["filterBranch"]):
            if prop not in known:
                problems.append(
                    {
                        "message": f"Property {prop!r} does not exist",
                        "in": "filterBranch",
                        "code": "PROPERTY_DOESNT_EXIST",
                        "context": {"propertyName": [prop]},
                    }
                )
    if problems:
        raise validation("Invalid list definition", problems)
    if any(lst.name.lower() == name.lower() for lst in portal.lists.values()):
        raise ApiError(409, f"A list named {name!r} already exists", "CONFLICT")
    lst = CrmList(
        portal.next_list_id, name, ptype, otid, body.get("filterBranch"), call.now, call.now
    )
    portal.next_list_id += 1
    if ptype == "SNAPSHOT":  # filters applied once, then it behaves like a manual list
        otype = TYPE_BY_ID[otid]
        lst.members = {
            r.id: call.now
            for r in sorted(portal.records[otype.name].values(), key=lambda r: r.id)
            if not r.archived and _branch_matches(lst.filter_branch or {}, r)
        }
    portal.lists[lst.list_id] = lst
    return json_response({"list": list_json(portal, lst, include_filters=True)})


@routes.add("POST", "lists.search", *LIST_SEARCH, family="crm.lists")
async def search_lists(call: Call) -> Response:
    require_scopes(call, "crm.lists.read")
    portal = call.require_portal()
    body = call.json_object()
    try:
        count = int(body.get("count", 20))
        offset = int(body.get("offset", 0))
    except (TypeError, ValueError):
        raise validation("count and offset must be integers") from None
    if not 1 <= count <= 500:
        raise validation("count must be between 1 and 500", [{"message": "max 500", "in": "count"}])
    query = str(body.get("query") or "").lower()
    ptypes = body.get("processingTypes") or None
    ids = {str(i) for i in body.get("listIds") or []} or None
    found = [
        lst
        for lst in sorted(portal.lists.values(), key=lambda x: x.list_id)
        if query in lst.name.lower()
        and (ptypes is None or lst.processing_type in ptypes)
        and (ids is None or str(lst.list_id) in ids)
    ]
    page = found[offset : offset + count]
    return json_response(
        {
            "lists": [list_json(portal, lst) for lst in page],
            "total": len(found),
            "offset": offset + len(page),
            "hasMore": offset + len(page) < len(found),
        }
    )


@routes.add("GET", "lists.get", *LIST_ONE, family="crm.lists")
async def get_list(call: Call) -> Response:
    require_scopes(call, "crm.lists.read")
    portal = call.require_portal()
    lst = _get(portal, call.params["list_id"])
    include = call.query.get("includeFilters", "false").lower() == "true"
    return json_response({"list": list_json(portal, lst, include_filters=include)})


@routes.add("DELETE", "lists.delete", *LIST_ONE, family="crm.lists")
async def delete_list(call: Call) -> Response:
    require_scopes(call, "crm.lists.write")
    portal = call.require_portal()
    lst = _get(portal, call.params["list_id"])
    del portal.lists[lst.list_id]
    return no_content()


def page_cursor(offset: int) -> str:
    # Opaque like HubSpot's: callers must hand it back, not compute it.
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def page_offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(raw.removeprefix("o:"))
    except (ValueError, UnicodeDecodeError):
        raise validation("after is not a valid paging cursor") from None


@routes.add("GET", "lists.memberships", *MEMBERS, family="crm.lists")
async def memberships(call: Call) -> Response:
    require_scopes(call, "crm.lists.read")
    portal = call.require_portal()
    lst = _get(portal, call.params["list_id"])
    limit = call.int_query("limit", 100, low=1, high=250)
    offset = page_offset(call.query.get("after"))
    ids = members_of(portal, lst)
    page = ids[offset : offset + limit]
    body: dict[str, Any] = {
        "results": [
            {"recordId": str(rid), "membershipTimestamp": iso_ms(lst.members.get(rid, lst.updated))}
            for rid in page
        ],
        "total": len(ids),
    }
    if offset + len(page) < len(ids):
        body["paging"] = {"next": {"after": page_cursor(offset + len(page))}}
    return json_response(body)


def _change(
    call: Call, portal: Portal, lst: CrmList, add: list[Any], remove: list[Any]
) -> dict[str, list[str]]:
    if lst.processing_type == "DYNAMIC":
        raise validation(
            f"List {lst.list_id} is DYNAMIC: its members come from its filters",
            [
                {
                    "message": "Only MANUAL and SNAPSHOT lists can be changed by hand",
                    "code": "INVALID_LIST_PROCESSING_TYPE",
                }
            ],
        )
    otype = TYPE_BY_ID[lst.object_type_id]
    added, removed, missing = [], [], []
    for raw in add:
        rec = portal.live(otype, raw)
        if rec is None:
            missing.append(str(raw))
        elif rec.id not in lst.members:
            lst.members[rec.id] = call.now
            added.append(str(rec.id))
    for raw in remove:
        try:
            rid = int(str(raw))
        except ValueError:
            missing.append(str(raw))
            continue
        if lst.members.pop(rid, None) is not None:
            removed.append(str(rid))
        else:
            missing.append(str(raw))
    lst.updated = call.now
    # "recordsIdsAdded" (sic) is how HubSpot spells it.
    return {"recordsIdsAdded": added, "recordIdsRemoved": removed, "recordIdsMissing": missing}


@routes.add("PUT", "lists.memberships.change", *MEMBERS_OP, family="crm.lists")
async def change_members(call: Call) -> Response:
    require_scopes(call, "crm.lists.write")
    portal = call.require_portal()
    lst = _get(portal, call.params["list_id"])
    op = call.params["op"]
    body = call.json(default=None)
    if op in ("add", "remove"):
        if not isinstance(body, list):
            raise validation("Invalid input JSON: expected a JSON array of record ids")
        return json_response(
            _change(call, portal, lst, body if op == "add" else [], body if op == "remove" else [])
        )
    if op == "add-and-remove":
        if not isinstance(body, dict):
            raise validation("Invalid input JSON: expected {recordIdsToAdd, recordIdsToRemove}")
        return json_response(
            _change(
                call,
                portal,
                lst,
                body.get("recordIdsToAdd") or [],
                body.get("recordIdsToRemove") or [],
            )
        )
    raise not_found(f"Unknown membership operation {op}")
