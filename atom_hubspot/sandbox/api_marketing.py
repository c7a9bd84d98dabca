"""Marketing: campaigns (+ metrics), marketing emails (+ statistics), single-send and
transactional sends (recorded for inspection)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.responses import Response

from atom_hubspot.sandbox.errors import ApiError, not_found, validation
from atom_hubspot.sandbox.objects import iso_ms, parse_datetime
from atom_hubspot.sandbox.routing import Call, Router, json_response, no_content
from atom_hubspot.sandbox.state import Campaign, Portal

# This module's endpoints; the sandbox app serves the tables it lists.
routes = Router()

CAMPAIGNS = ("/marketing/v3/campaigns", "/marketing/campaigns/{date}")
CAMPAIGN = ("/marketing/v3/campaigns/{guid}", "/marketing/campaigns/{date}/{guid}")
METRICS = (
    "/marketing/v3/campaigns/{guid}/reports/metrics",
    "/marketing/campaigns/{date}/{guid}/reports/metrics",
)
EMAILS = ("/marketing/v3/emails", "/marketing/emails/{date}")
EMAIL = ("/marketing/v3/emails/{email_id}", "/marketing/emails/{date}/{email_id}")
EMAIL_STATS = ("/marketing/v3/emails/statistics/list", "/marketing/emails/{date}/statistics/list")
SINGLE_SEND = ("/marketing/v4/email/single-send", "/marketing/email-campaigns/{date}/single-send")
TRANSACTIONAL = (
    "/marketing/v3/transactional/single-email/send",
    "/marketing/transactional/{date}/single-email/send",
)
CAMPAIGN_PROPS = (
    "hs_name",
    "hs_start_date",
    "hs_end_date",
    "hs_notes",
    "hs_audience",
    "hs_currency_code",
    "hs_campaign_status",
    "hs_owner",
    "hs_goal",
    "hs_color_hex",
    "hs_budget_items_sum_amount",
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# --------------------------------------------------------------------------- campaigns


def campaign_json(c: Campaign, props: list[str] | None) -> dict[str, Any]:
    keys = props or ["hs_name", "hs_start_date", "hs_end_date", "hs_notes"]
    return {
        "id": c.id,
        "properties": {k: c.properties.get(k) for k in keys},
        "createdAt": iso_ms(c.created),
        "updatedAt": iso_ms(c.updated),
        "businessUnits": [{"id": 0}],
    }


def campaign_assets(portal: Portal, c: Campaign) -> dict[str, Any]:
    """A campaign read answers its assets by type (here: its marketing emails).
    https://developers.hubspot.com/docs/api-reference/latest/marketing/campaigns/get-campaign"""
    emails = [
        {"id": str(eid), "name": e.get("name")}
        for eid, e in sorted(portal.emails.items())
        if e.get("campaign") == c.id
    ]
    return {"MARKETING_EMAIL": {"results": emails}} if emails else {}


def _campaign(portal: Portal, guid: str) -> Campaign:
    c = portal.campaigns.get(guid)
    if c is None:
        raise not_found(f"Campaign {guid} does not exist")
    return c


def _clean_campaign_props(raw: Any, *, for_create: bool) -> dict[str, str | None]:
    if not isinstance(raw, dict):
        raise validation("properties must be an object")
    unknown = [k for k in raw if k not in CAMPAIGN_PROPS]
    if unknown:
        raise validation(
            f"Unknown campaign properties: {', '.join(unknown)}",
            [
                {"message": f'Property "{k}" does not exist', "code": "PROPERTY_DOESNT_EXIST"}
                for k in unknown
            ],
        )
    if for_create and not str(raw.get("hs_name") or "").strip():
        raise validation(
            "hs_name is required", [{"message": "hs_name is required", "in": "hs_name"}]
        )
    for k in ("hs_start_date", "hs_end_date"):
        if raw.get(k) and not _DAY.match(str(raw[k])):
            raise validation(f"{k} must be a date YYYY-MM-DD")
    return {k: None if v is None else str(v) for k, v in raw.items()}


@routes.add(
    "GET",
    "campaigns.list",
    *CAMPAIGNS,
    scopes=("marketing.campaigns.read",),
    tier="campaigns",
    family="marketing.campaigns",
)
async def list_campaigns(call: Call) -> Response:
    portal = call.require_portal()
    limit = call.int_query("limit", 50, low=1, high=100)
    after = call.int_query("after", 0)
    name = (call.query.get("name") or "").lower()
    sort = call.query.get("sort") or "hs_name"
    desc = sort.startswith("-")
    key = sort.lstrip("-")
    found = [
        c
        for c in portal.campaigns.values()
        if name in str(c.properties.get("hs_name") or "").lower()
    ]
    if key in ("createdAt", "updatedAt"):
        found.sort(key=lambda c: c.created if key == "createdAt" else c.updated, reverse=desc)
    else:
        found.sort(key=lambda c: str(c.properties.get(key) or ""), reverse=desc)
    page = found[after : after + limit]
    body: dict[str, Any] = {
        "total": len(found),
        "results": [campaign_json(c, call.list_query("properties") or None) for c in page],
    }
    if after + len(page) < len(found):
        body["paging"] = {"next": {"after": str(after + len(page))}}
    return json_response(body)


@routes.add(
    "POST",
    "campaigns.create",
    *CAMPAIGNS,
    scopes=("marketing.campaigns.write",),
    tier="campaigns",
    family="marketing.campaigns",
)
async def create_campaign(call: Call) -> Response:
    portal = call.require_portal()
    body = call.json_object()
    props = _clean_campaign_props(body.get("properties"), for_create=True)
    name = str(props["hs_name"]).strip().lower()
    if any(
        str(c.properties.get("hs_name") or "").lower() == name for c in portal.campaigns.values()
    ):
        raise validation(
            f"A campaign named {props['hs_name']!r} already exists",
            [{"message": "campaign name must be unique", "code": "DUPLICATE_NAME"}],
        )
    guid = str(uuid.uuid4())
    c = Campaign(guid, props, call.now, call.now)
    portal.campaigns[guid] = c
    return json_response(campaign_json(c, sorted(props)), 201)


@routes.add(
    "GET",
    "campaigns.get",
    *CAMPAIGN,
    scopes=("marketing.campaigns.read",),
    tier="campaigns",
    family="marketing.campaigns",
)
async def get_campaign(call: Call) -> Response:
    portal = call.require_portal()
    c = _campaign(portal, call.params["guid"])
    body = campaign_json(c, call.list_query("properties") or None)
    body["assets"] = campaign_assets(portal, c)
    return json_response(body)


@routes.add(
    "PATCH",
    "campaigns.update",
    *CAMPAIGN,
    scopes=("marketing.campaigns.write",),
    tier="campaigns",
    family="marketing.campaigns",
)
async def update_campaign(call: Call) -> Response:
    c = _campaign(call.require_portal(), call.params["guid"])
    props = _clean_campaign_props(call.json_object().get("properties"), for_create=False)
    c.properties.update(props)
    c.updated = call.now
    return json_response(campaign_json(c, sorted(c.properties)))


@routes.add(
    "DELETE",
    "campaigns.delete",
    *CAMPAIGN,
    scopes=("marketing.campaigns.write",),
    tier="campaigns",
    family="marketing.campaigns",
)
async def delete_campaign(call: Call) -> Response:
    portal = call.require_portal()
    portal.campaigns.pop(call.params["guid"], None)  # 204 whether or not it existed
    return no_content()


def _day(call: Call, name: str) -> date | None:
    raw = call.query.get(name)
    if not raw:
        return None
    if not _DAY.match(raw):
        raise validation(f"{name} must be a date YYYY-MM-DD", [{"message": "bad date", "in": name}])
    return date.fromisoformat(raw)


@routes.add(
    "GET",
    "campaigns.metrics",
    *METRICS,
    scopes=("marketing.campaigns.read",),
    tier="campaigns",
    family="marketing.campaigns",
)
async def campaign_metrics(call: Call) -> Response:
    """What the campaign's marketing emails did between startDate and endDate (whole UTC days),
    from the sandbox's own email events; zero where nothing happened. A click counts as a
    session; a contact who opened or clicked is influenced; a contact created in the range who
    was sent a campaign email in it is a new contact (first and last touch: email is the only
    channel here)."""
    portal = call.require_portal()
    c = _campaign(portal, call.params["guid"])
    start = _day(call, "startDate") or datetime.fromtimestamp(c.created, UTC).date()
    end = _day(call, "endDate") or datetime.fromtimestamp(call.now, UTC).date()
    if end < start:
        raise validation("endDate is before startDate")
    low = datetime.combine(start, datetime.min.time(), UTC).timestamp()
    high = datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC).timestamp()
    emails = {eid for eid, e in portal.emails.items() if e.get("campaign") == c.id}
    events = [e for e in portal.email_events if e["emailId"] in emails and low <= e["at"] < high]
    sessions = sum(e["count"] for e in events if e["type"] == "CLICK")
    engaged = {e["recipient"] for e in events if e["type"] in ("OPEN", "CLICK") and e["recipient"]}
    influenced = len(engaged) + sum(
        e["count"] for e in events if e["type"] == "OPEN" and e["recipient"] is None
    )
    reached = {e["recipient"] for e in events if e["type"] == "SENT" and e["recipient"]}
    new = sum(
        1
        for r in portal.records["contacts"].values()
        if not r.archived
        and low <= r.created < high
        and (r.properties.get("email") or "").lower() in reached
    )
    return json_response(
        {
            "sessions": sessions,
            "newContactsFirstTouch": new,
            "newContactsLastTouch": new,
            "influencedContacts": influenced,
        }
    )


# --------------------------------------------------------------------------- marketing emails


# Fields HubSpot's PublicEmail always carries (`isAb` is required in the 2026-03 reference,
# the others in the v3 one); emails stored without them answer these defaults.
# https://developers.hubspot.com/docs/api-reference/latest/marketing/marketing-emails/get-email
EMAIL_DEFAULTS: dict[str, Any] = {
    "isAb": False,
    "subcategory": "batch",
    "sendOnPublish": True,
    "content": {},
    "to": {},
    "from": {},
}


def email_json(portal: Portal, e: dict[str, Any], stats: bool) -> dict[str, Any]:
    out = {k: v for k, v in e.items() if not k.startswith("_")}
    for key, default in EMAIL_DEFAULTS.items():
        out.setdefault(key, default)
    if stats:
        counters = portal.email_stats.get(int(e["id"]), {})
        out["stats"] = stats_block(counters)
    return out


def stats_block(c: dict[str, int]) -> dict[str, Any]:
    sent = c.get("sent", 0)
    delivered = c.get("delivered", 0)

    def ratio(n: int, d: int) -> float:
        return round(100.0 * n / d, 2) if d else 0.0

    return {
        "counters": dict(c),
        "ratios": {
            "deliveredratio": ratio(delivered, sent),
            "openratio": ratio(c.get("open", 0), delivered),
            "clickratio": ratio(c.get("click", 0), delivered),
            "bounceratio": ratio(c.get("bounce", 0), sent),
            "unsubscribedratio": ratio(c.get("unsubscribed", 0), delivered),
        },
        "deviceBreakdown": {},
        "qualifierStats": {},
    }


@routes.add("GET", "emails.list", *EMAILS, scopes=("content",), family="marketing.emails")
async def list_emails(call: Call) -> Response:
    portal = call.require_portal()
    limit = call.int_query("limit", 10, low=1, high=500)
    after = call.int_query("after", 0)
    etype = call.query.get("type")
    published = call.query.get("isPublished")
    stats = call.query.get("includeStats", "false").lower() == "true"
    found = [
        e
        for _, e in sorted(portal.emails.items())
        if (etype is None or e["type"] == etype)
        and (published is None or str(e["isPublished"]).lower() == published.lower())
    ]
    page = found[after : after + limit]
    body: dict[str, Any] = {
        "total": len(found),
        "results": [email_json(portal, e, stats) for e in page],
    }
    if after + len(page) < len(found):
        body["paging"] = {"next": {"after": str(after + len(page))}}
    return json_response(body)


@routes.add(
    "GET", "emails.statistics", *EMAIL_STATS, scopes=("content",), family="marketing.emails"
)
async def email_statistics(call: Call) -> Response:
    portal = call.require_portal()
    start = parse_datetime(call.query.get("startTimestamp"))
    end = parse_datetime(call.query.get("endTimestamp"))
    ids = set()
    for raw in call.list_query("emailIds"):
        try:
            ids.add(int(raw))
        except ValueError:
            raise validation(f"emailIds: {raw} is not a number") from None
    total: dict[str, int] = {}
    chosen: list[int] = []
    for eid, e in sorted(portal.emails.items()):
        if ids and eid not in ids:
            continue
        published = e.get("_published_ts")
        if published is None:
            continue
        if (start is not None and published < start) or (end is not None and published > end):
            continue
        chosen.append(eid)  # integers, as HubSpot's AggregateEmailStatistics has them
        for k, v in portal.email_stats.get(eid, {}).items():
            total[k] = total.get(k, 0) + v
    return json_response(
        {"emails": chosen, "aggregate": stats_block(total), "campaignAggregations": {}}
    )


@routes.add("GET", "emails.get", *EMAIL, scopes=("content",), family="marketing.emails")
async def get_email(call: Call) -> Response:
    portal = call.require_portal()
    try:
        e = portal.emails.get(int(call.params["email_id"]))
    except ValueError:
        e = None
    if e is None:
        raise not_found(f"Email {call.params['email_id']} does not exist")
    stats = call.query.get("includeStats", "false").lower() == "true"
    return json_response(email_json(portal, e, stats))


# --------------------------------------------------------------------------- sends


def _send(call: Call, kind: str) -> Response:
    portal = call.require_portal()
    body = call.json_object()
    email_id = body.get("emailId")
    if not isinstance(email_id, int) or isinstance(email_id, bool):
        raise validation(
            "emailId must be an integer", [{"message": "emailId is required", "in": "emailId"}]
        )
    email = portal.emails.get(email_id)
    if email is None:
        raise ApiError(
            400,
            f"Email {email_id} not found",
            "VALIDATION_ERROR",
            errors=[{"message": "unknown emailId", "code": "EMAIL_NOT_FOUND"}],
        )
    if not email.get("isPublished"):
        raise ApiError(
            400,
            f"Email {email_id} is not published",
            "VALIDATION_ERROR",
            errors=[
                {
                    "message": "the email must be published before sending",
                    "code": "EMAIL_NOT_PUBLISHED",
                }
            ],
        )
    message = body.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("to"), str):
        raise validation(
            "message.to is required: one recipient address per call",
            [{"message": "message.to is required", "in": "message.to"}],
        )
    to = message["to"].strip()
    send_id = message.get("sendId")
    now = call.now
    status_id = str(uuid.uuid4())
    if send_id and str(send_id) in portal.send_ids:
        result = "IDEMPOTENT_IGNORE"  # one email per sendId, whatever the retries
    elif not _EMAIL.match(to):
        result = "INVALID_TO_ADDRESS"
    elif "bounce" in to.lower():
        result = "PREVIOUSLY_BOUNCED"
    elif "blocked" in to.split("@")[-1].lower():
        result = "BLOCKED_DOMAIN"
    else:
        result = "SENT"
    record = {
        "kind": kind,
        "portalId": portal.portal_id,
        "statusId": status_id,
        "emailId": email_id,
        "to": to,
        "message": message,
        "contactProperties": body.get("contactProperties") or {},
        "customProperties": body.get("customProperties") or {},
        "sendId": send_id,
        "sendResult": result,
        "requestedAt": iso_ms(now),
    }
    if result != "IDEMPOTENT_IGNORE":
        portal.sends.append(record)
        if send_id:
            portal.send_ids[str(send_id)] = status_id
        if result == "SENT":
            portal.record_email_event(email_id, "SENT", now, recipient=to.lower())
    return json_response(
        {
            "status": "COMPLETE",
            "statusId": status_id,
            "sendResult": result,
            "requestedAt": iso_ms(now),
            "startedAt": iso_ms(now),
            "completedAt": iso_ms(now),
            "eventId": {"id": status_id, "created": iso_ms(now)},
        }
    )


@routes.add(
    "POST",
    "sends.single_send",
    *SINGLE_SEND,
    scopes=("marketing-email",),
    tier="single_send",
    family="marketing.single_send",
)
async def single_send(call: Call) -> Response:
    return _send(call, "single_send")


@routes.add(
    "POST",
    "sends.transactional",
    *TRANSACTIONAL,
    scopes=("transactional-email",),
    tier="transactional",
    family="marketing.transactional",
)
async def transactional(call: Call) -> Response:
    return _send(call, "transactional")
