"""The sandbox's change feed: HubSpot-style webhook deliveries of the changes made in it.

Every change to a portal (API call, or an edit "as a user in HubSpot's UI" through the admin
endpoint) becomes an event in `Portal.changes`. After each call the dispatcher takes them and,
when a target URL is set, POSTs them in batches of at most 100, signed the way HubSpot signs
(v3, plus the older v1 header), retrying failed deliveries with a growing delay, up to 10
attempts, as HubSpot does (scaled down: HubSpot spreads its retries over about a day).
https://developers.hubspot.com/docs/api-reference/webhooks-webhooks-v3/guide

The signing here is the sandbox's own: it shares no code with the plugin's verifier, so a test
that passes shows two independent implementations agree.
"""

from __future__ import annotations

import asyncio
import random
import time

from starlette.responses import Response

from atom_hubspot.sandbox.errors import ApiError, validation
from atom_hubspot.sandbox.objects import resolve_type
from atom_hubspot.sandbox.routing import Call, Router, json_response

# The admin endpoints below; the sandbox app serves this table.
routes = Router()


@routes.add("GET", "admin.webhooks.get", "/_sandbox/webhooks", kind="admin")
async def get_webhooks(call: Call) -> Response:
    return json_response(call.sandbox.webhooks.status())


@routes.add("GET", "admin.webhooks.events", "/_sandbox/webhooks/events", kind="admin")
async def get_webhook_events(call: Call) -> Response:
    """Every event the sandbox has emitted (still in its journal): [[portalId, eventId], …],
    so a benchmark can tell an event lost from one delivered."""
    book = call.sandbox.webhooks.journal_book
    return json_response(
        {"events": [[e["portalId"], e["eventId"]] for entry in book.entries for e in entry.events]}
    )


@routes.add("PUT", "admin.webhooks.put", "/_sandbox/webhooks", kind="admin")
async def put_webhooks(call: Call) -> Response:
    """Set where deliveries go: {"url": "http://host/webhooks/hubspot"} (null stops them)."""
    body = call.json_object()
    url = body.get("url")
    if url is not None and (
        not isinstance(url, str) or not url.startswith(("http://", "https://"))
    ):
        raise validation("url must be an absolute http(s) URL or null")
    hooks = call.sandbox.webhooks
    hooks.configure(url, transport=hooks.transport if url == hooks.url else None)
    for key, attr, kind in (
        ("max_attempts", "max_attempts", int),
        ("retry_base_s", "retry_base_s", float),
        ("disorder", "disorder", float),
    ):
        if key in body:
            try:
                setattr(hooks, attr, kind(body[key]))
            except (TypeError, ValueError):
                raise validation(f"{key} must be a number") from None
    return json_response(hooks.status())


@routes.add(
    "PATCH",
    "admin.portals.edit",
    "/_sandbox/portals/{portal_id}/objects/{object_type}/{object_id}",
    kind="admin",
)
async def edit_as_user(call: Call) -> Response:
    """Change a record as a HubSpot user would in HubSpot's UI (changeSource CRM_UI):
    {"properties": {"firstname": "Ada"}}. Webhook subscribers hear of it like any change."""
    portal = call.sandbox.portal(int(call.params["portal_id"]))
    otype = resolve_type(call.params["object_type"])
    record = portal.live(otype, call.params["object_id"])
    if record is None:
        raise ApiError(404, "resource not found", "OBJECT_NOT_FOUND")
    props = call.json_object().get("properties")
    if not isinstance(props, dict) or not props:
        raise validation("properties must be a non-empty object of property values")
    portal.update_as_user(otype, record, props, call.sandbox.now())
    return json_response({"id": str(record.id), "properties": record.properties})


@routes.add("POST", "admin.changes.stream", "/_sandbox/changes/stream", kind="admin")
async def start_change_stream(call: Call) -> Response:
    """Edit records "as a user" at a steady rate, from inside the sandbox (a benchmark's load
    without one HTTP call per change): {"objectType": "contacts", "ids": [...], "rate": 200,
    "count": 2000, "property": "firstname"}. Values are `v0`, `v1`, … in order."""
    body = call.json_object()
    otype = resolve_type(str(body.get("objectType", "contacts")))
    ids = [int(i) for i in body.get("ids") or [] if str(i).isdigit()]
    rate, count = float(body.get("rate", 100)), int(body.get("count", 100))
    prop = str(body.get("property", "firstname"))
    if not ids or not 0 < rate <= 10_000 or not 0 < count <= 1_000_000:
        raise validation("ids must be given; 0 < rate <= 10000; 0 < count <= 1000000")
    sb = call.sandbox
    portal = sb.portal(int(body.get("portalId") or next(iter(sb.portals))))
    stream = sb.webhooks.change_stream = {"edits": [], "running": True}
    rng = random.Random(count)  # noqa: S311 - which record changes next need not be secret

    async def run() -> None:
        t0 = time.monotonic()
        try:
            for n in range(count):
                delay = t0 + n / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                record = portal.live(otype, rng.choice(ids))
                if record is None:
                    continue
                portal.update_as_user(otype, record, {prop: f"v{n}"}, sb.now())
                stream["edits"].append([f"v{n}", record.id, time.time()])
                sb.webhooks.kick()
        finally:
            stream["running"] = False

    sb.webhooks.stream_task = asyncio.get_running_loop().create_task(run())
    return json_response({"started": True, "count": count, "rate": rate}, status=202)


@routes.add("GET", "admin.changes.stream.get", "/_sandbox/changes/stream", kind="admin")
async def get_change_stream(call: Call) -> Response:
    """The stream's progress and its edits: [[value, record id, epoch seconds], …]."""
    stream = call.sandbox.webhooks.change_stream or {"edits": [], "running": False}
    return json_response(stream)
