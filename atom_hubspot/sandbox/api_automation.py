"""Automation: workflows (v4 flows, read only), sequences and their enrollments, and owners.

Flows stay on `/automation/v4/flows` (no date release); sequences answer on the legacy
`/automation/v4/sequences` and the date releases `/automation/sequences/{date}`; owners on
`/crm/v3/owners` and `/crm/owners/{date}`. Refusals follow HubSpot: a token without the
scope gets MISSING_SCOPES naming it, a portal without the hub a bare 403.
https://developers.hubspot.com/docs/api-reference/legacy/automation/workflows/guide
https://developers.hubspot.com/docs/api-reference/latest/automation/sequences/guide.md
https://developers.hubspot.com/docs/api-reference/crm-crm-owners-v3/guide
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.responses import Response

from atom_hubspot.sandbox.api_lists import page_cursor, page_offset
from atom_hubspot.sandbox.errors import ApiError, not_found, validation
from atom_hubspot.sandbox.objects import CONTACTS, iso_ms
from atom_hubspot.sandbox.routing import Call, Router, json_response
from atom_hubspot.sandbox.state import Portal

routes = Router()
# Flows have no date release: their routes name the family for that, with legacy paths only.
FLOWS_FAMILY = "automation.flows"

FLOWS = ("/automation/v4/flows",)
FLOWS_BATCH = ("/automation/v4/flows/batch/read",)
FLOW_PERFORMANCE = ("/automation/v4/flows/performance/{flow_id}",)
FLOW_ONE = ("/automation/v4/flows/{flow_id}",)
SEQUENCES = ("/automation/v4/sequences", "/automation/sequences/{date}")
SEQUENCE_ENROLL = (
    "/automation/v4/sequences/enrollments",
    "/automation/sequences/{date}/enrollments",
)
SEQUENCE_STATUS = (
    "/automation/v4/sequences/enrollments/contact/{contact_id}",
    "/automation/sequences/{date}/enrollments/contact/{contact_id}",
)
SEQUENCE_ONE = (
    "/automation/v4/sequences/{sequence_id}",
    "/automation/sequences/{date}/{sequence_id}",
)
OWNERS = ("/crm/v3/owners", "/crm/owners/{date}")

# The summary fields the flows list answers with (one flow answers everything).
SUMMARY_FIELDS = (
    "id",
    "name",
    "uuid",
    "isEnabled",
    "flowType",
    "objectTypeId",
    "revisionId",
    "createdAt",
    "updatedAt",
)


def _page(call: Call, items: list[dict[str, Any]], default_limit: int) -> dict[str, Any]:
    limit = call.int_query("limit", default_limit, low=1, high=100)
    offset = page_offset(call.query.get("after"))
    page = items[offset : offset + limit]
    body: dict[str, Any] = {"results": page}
    if offset + len(page) < len(items):
        after = page_cursor(offset + len(page))
        body["paging"] = {"next": {"after": after, "link": call.next_link(after)}}
    return body


# --------------------------------------------------------------------------- flows


def _flow(portal: Portal, flow_id: str) -> dict[str, Any]:
    flow = portal.flows.get(flow_id)
    if flow is None:
        raise not_found(f"Flow {flow_id} does not exist")
    return flow


def list_ids_enrolling(flow: dict[str, Any]) -> list[str]:
    """Lists whose membership is a flow's enrollment trigger (IN_LIST filters)."""
    out: list[str] = []

    def walk(branch: dict[str, Any]) -> None:
        for f in branch.get("filters") or []:
            if f.get("filterType") == "IN_LIST" and f.get("operator", "IN_LIST") == "IN_LIST":
                out.append(str(f.get("listId")))
        for child in branch.get("filterBranches") or []:
            walk(child)

    crit = flow.get("enrollmentCriteria") or {}
    if crit.get("type") == "LIST_BASED":
        walk(crit.get("listFilterBranch") or {})
    return out


@routes.add("GET", "flows.list", *FLOWS, scopes=("automation",), tier="flows", family=FLOWS_FAMILY)
async def list_flows(call: Call) -> Response:
    portal = call.require_portal()
    items = [
        {k: f[k] for k in SUMMARY_FIELDS if k in f}
        for f in sorted(portal.flows.values(), key=lambda f: int(f["id"]))
    ]
    return json_response(_page(call, items, 100))


@routes.add(
    "POST",
    "flows.batch_read",
    *FLOWS_BATCH,
    scopes=("automation",),
    tier="flows",
    family=FLOWS_FAMILY,
)
async def batch_read_flows(call: Call) -> Response:
    portal = call.require_portal()
    inputs = call.json_object().get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise validation("inputs must be a non-empty array")
    if len(inputs) > 100:
        raise validation("At most 100 inputs per batch")
    started = iso_ms(call.now)
    results, errors = [], []
    for item in inputs:
        fid = str(item.get("flowId")) if isinstance(item, dict) else ""
        if fid in portal.flows:
            results.append(portal.flows[fid])
        else:
            errors.append({"status": "error", "category": "OBJECT_NOT_FOUND", "message": fid})
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": iso_ms(call.now),
    }
    if errors:
        body.update(errors=errors, numErrors=len(errors))
    return json_response(body, 207 if errors else 200)


@routes.add(
    "GET",
    "flows.performance",
    *FLOW_PERFORMANCE,
    scopes=("automation",),
    tier="flows",
    family=FLOWS_FAMILY,
)
async def flow_performance(call: Call) -> Response:
    """Enrolled contacts per bucket. The sandbox enrolls a contact into an enabled flow when it
    joins a list the flow enrolls from (MANUAL and SNAPSHOT lists keep when)."""
    portal = call.require_portal()
    flow = _flow(portal, call.params["flow_id"])
    now_ms = int(call.now * 1000)
    end = call.int_query("end", now_ms, low=0)
    start = call.int_query("start", end - 30 * 86_400_000, low=0)
    bucket = (call.query.get("bucketType") or "DAY").upper()
    if bucket not in ("DAY", "WEEK", "MONTH"):
        raise validation("bucketType must be one of DAY, WEEK, MONTH")
    counts: dict[str, int] = {}
    if flow.get("isEnabled"):
        for lid in list_ids_enrolling(flow):
            lst = portal.lists.get(int(lid)) if lid.isdigit() else None
            if lst is None or lst.processing_type == "DYNAMIC":
                continue
            for rid, at in lst.members.items():
                if portal.live(CONTACTS, rid) is None or not start <= at * 1000 < end:
                    continue
                day = datetime.fromtimestamp(at, UTC).date()
                if bucket == "WEEK":
                    day -= timedelta(days=day.weekday())
                elif bucket == "MONTH":
                    day = day.replace(day=1)
                counts[day.isoformat()] = counts.get(day.isoformat(), 0) + 1
    results = [
        {"series": "ENROLLED", "bucket": day, "frequency": n} for day, n in sorted(counts.items())
    ]
    return json_response({"results": results})


@routes.add(
    "GET", "flows.get", *FLOW_ONE, scopes=("automation",), tier="flows", family=FLOWS_FAMILY
)
async def get_flow(call: Call) -> Response:
    return json_response(_flow(call.require_portal(), call.params["flow_id"]))


# --------------------------------------------------------------------------- sequences


def _user(call: Call) -> Portal:
    """The portal, after checking the required `userId` names its user."""
    portal = call.require_portal()
    user_id = call.query.get("userId")
    if not user_id:
        raise validation("userId is required", [{"message": "userId is required", "in": "userId"}])
    if user_id != str(portal.user_id):
        raise ApiError(
            403,
            f"User {user_id} does not have access to sequences in this portal.",
            "FORBIDDEN",
        )
    return portal


def _sequence_summary(seq: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in seq.items() if k not in ("steps", "dependencies")}


@routes.add(
    "GET",
    "sequences.list",
    *SEQUENCES,
    scopes=("automation.sequences.read",),
    tier="sequences",
    family="automation.sequences",
)
async def list_sequences(call: Call) -> Response:
    portal = _user(call)
    name = (call.query.get("name") or "").lower()
    items = [
        _sequence_summary(s)
        for s in sorted(portal.sequences.values(), key=lambda s: int(s["id"]))
        if name in str(s.get("name", "")).lower()
    ]
    body = _page(call, items, 20)
    body["total"] = len(items)
    return json_response(body)


@routes.add(
    "POST",
    "sequences.enroll",
    *SEQUENCE_ENROLL,
    scopes=("automation.sequences.enrollments.write",),
    tier="sequences",
    family="automation.sequences",
)
async def enroll(call: Call) -> Response:
    portal = _user(call)
    body = call.json_object()
    missing = [k for k in ("sequenceId", "contactId", "senderEmail") if not body.get(k)]
    if missing:
        raise validation(
            f"Missing required fields: {', '.join(missing)}",
            [{"message": "required", "in": k} for k in missing],
        )
    seq_id = str(body["sequenceId"])
    if seq_id not in portal.sequences:
        raise not_found(f"Sequence {seq_id} does not exist")
    contact = portal.live(CONTACTS, body["contactId"])
    if contact is None:
        raise not_found(f"Contact {body['contactId']} does not exist")
    if str(body["senderEmail"]).lower() != portal.user_email.lower():
        raise validation(
            "senderEmail must be an inbox connected by the enrolling user",
            [{"message": "not a connected inbox of the user", "in": "senderEmail"}],
        )
    to_email = contact.properties.get("email") or ""
    if not to_email:
        raise validation("The contact has no email address", [{"message": "no email"}])
    # A contact can be in one sequence at a time.
    for e in portal.sequence_enrollments:
        if e["contactId"] == str(contact.id) and e["state"] == "EXECUTING":
            raise validation(
                f"Contact {contact.id} is already enrolled in sequence {e['sequenceId']}",
                [{"message": "contact already enrolled in a sequence", "in": "contactId"}],
            )
    enrollment = {
        "id": str(9_000_000 + len(portal.sequence_enrollments) + 1),
        "sequenceId": seq_id,
        "contactId": str(contact.id),
        "toEmail": to_email,
        "state": "EXECUTING",
        "enrolledAt": iso_ms(call.now),
        "updatedAt": iso_ms(call.now),
    }
    portal.sequence_enrollments.append(enrollment)
    return json_response(
        {k: enrollment[k] for k in ("id", "toEmail", "enrolledAt", "updatedAt")}, 200
    )


@routes.add(
    "GET",
    "sequences.enrollment_status",
    *SEQUENCE_STATUS,
    scopes=("automation.sequences.read",),
    tier="sequences",
    family="automation.sequences",
)
async def enrollment_status(call: Call) -> Response:
    portal = call.require_portal()
    cid = call.params["contact_id"]
    for e in reversed(portal.sequence_enrollments):
        if e["contactId"] == cid:
            return json_response(
                {
                    "id": e["id"],
                    "sequenceId": e["sequenceId"],
                    "sequenceName": portal.sequences[e["sequenceId"]].get("name"),
                    "enrolledAt": e["enrolledAt"],
                    "updatedAt": e["updatedAt"],
                    "toEmail": e["toEmail"],
                    "enrolledBy": str(portal.user_id),
                    "enrolledByEmail": portal.user_email,
                }
            )
    raise not_found(f"Contact {cid} is not enrolled in a sequence")


@routes.add(
    "GET",
    "sequences.get",
    *SEQUENCE_ONE,
    scopes=("automation.sequences.read",),
    tier="sequences",
    family="automation.sequences",
)
async def get_sequence(call: Call) -> Response:
    portal = _user(call)
    seq = portal.sequences.get(call.params["sequence_id"])
    if seq is None:
        raise not_found(f"Sequence {call.params['sequence_id']} does not exist")
    return json_response(seq)


# --------------------------------------------------------------------------- owners


@routes.add("GET", "owners.list", *OWNERS, scopes=("crm.objects.owners.read",), family="crm.owners")
async def list_owners(call: Call) -> Response:
    portal = call.require_portal()
    owner = {
        "id": str(portal.owner_id),
        "email": portal.user_email,
        "type": "PERSON",
        "firstName": "Demo",
        "lastName": "Owner",
        "userId": portal.user_id,
        "userIdIncludingInactive": portal.user_id,
        "createdAt": "2024-01-02T09:00:00.000Z",
        "updatedAt": "2024-01-02T09:00:00.000Z",
        "archived": False,
    }
    email = (call.query.get("email") or "").lower()
    items = [owner] if not email or email == portal.user_email.lower() else []
    return json_response(_page(call, items, 100))
