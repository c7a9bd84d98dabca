"""Marketing emails: set recipients (PATCH), publish (send now or at `publishDate`), unpublish.

Publishing needs Marketing Hub Enterprise or the transactional email add-on (the app's tier gate
`publish`); HubSpot answers 403 otherwise.
https://developers.hubspot.com/docs/api-reference/latest/marketing/marketing-emails/emails/publish-email
Recipients are lists (`to.contactIlsLists.include`, the lists API's ids) and contact ids
(`to.contactIds.include`). A publish with a `publishDate` in the future schedules the email;
the sandbox delivers it on the first request after that time.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from atom_hubspot.sandbox.api_lists import members_of
from atom_hubspot.sandbox.api_marketing import email_json
from atom_hubspot.sandbox.errors import not_found, validation
from atom_hubspot.sandbox.objects import iso_ms, parse_datetime
from atom_hubspot.sandbox.routing import Call, Router, json_response, no_content
from atom_hubspot.sandbox.state import Portal

routes = Router()

EMAIL = ("/marketing/v3/emails/{email_id}", "/marketing/emails/{date}/{email_id}")
PUBLISH = (
    "/marketing/v3/emails/{email_id}/publish",
    "/marketing/emails/{date}/{email_id}/publish",
)
UNPUBLISH = (
    "/marketing/v3/emails/{email_id}/unpublish",
    "/marketing/emails/{date}/{email_id}/unpublish",
)
_EDITABLE = ("name", "subject", "to", "publishDate")


def _email(portal: Portal, raw: str) -> dict[str, Any]:
    try:
        e = portal.emails.get(int(raw))
    except ValueError:
        e = None
    if e is None:
        raise not_found(f"Email {raw} does not exist")
    return e


def _ids(block: Any, key: str) -> list[str]:
    part = block.get(key) if isinstance(block, dict) else None
    include = part.get("include") if isinstance(part, dict) else None
    return [str(x) for x in include or []]


def deliver_due(portal: Portal, now: float) -> None:
    """Send every scheduled email whose time has come (called before each email request)."""
    for e in portal.emails.values():
        when = e.get("_scheduled_ts")
        if e.get("state") == "SCHEDULED" and when is not None and when <= now:
            _deliver(portal, e, when)


def _deliver(portal: Portal, e: dict[str, Any], at: float) -> None:
    """One send per distinct contact of the recipient lists and ids that has an address."""
    email_id = int(e["id"])
    to = e.get("to") or {}
    contact_ids: list[int] = []
    for lid in _ids(to, "contactIlsLists"):
        lst = portal.lists.get(int(lid)) if lid.isdigit() else None
        if lst is not None:
            contact_ids += members_of(portal, lst)
    contact_ids += [int(c) for c in _ids(to, "contactIds") if c.isdigit()]
    stats = portal.email_stats.setdefault(email_id, {})
    for cid in dict.fromkeys(contact_ids):
        rec = portal.records["contacts"].get(cid)
        address = rec.properties.get("email") if rec is not None and not rec.archived else None
        if not address:
            continue
        portal.sends.append(
            {
                "kind": "publish",
                "portalId": portal.portal_id,
                "emailId": email_id,
                "to": address,
                "contactId": str(cid),
                "sendResult": "SENT",
                "requestedAt": iso_ms(at),
            }
        )
        stats["sent"] = stats.get("sent", 0) + 1
        stats["delivered"] = stats.get("delivered", 0) + 1
    e.update(state="PUBLISHED", isPublished=True, publishDate=iso_ms(at), _published_ts=at)
    e.pop("_scheduled_ts", None)


@routes.add("PATCH", "emails.update", *EMAIL, scopes=("content",), family="marketing.emails")
async def update_email(call: Call) -> Response:
    portal = call.require_portal()
    deliver_due(portal, call.now)
    e = _email(portal, call.params["email_id"])
    body = call.json_object()
    unknown = sorted(k for k in body if k not in _EDITABLE)
    if unknown:
        raise validation(f"Unknown or read-only fields: {', '.join(unknown)}")
    to = body.get("to")
    if to is not None:
        if not isinstance(to, dict):
            raise validation("to must be an object")
        for lid in _ids(to, "contactIlsLists"):
            if not lid.isdigit() or int(lid) not in portal.lists:
                raise validation(
                    f"List {lid} does not exist",
                    [{"message": f"unknown list {lid}", "in": "to.contactIlsLists"}],
                )
    if e.get("state") in ("PUBLISHED", "SCHEDULED") and e.get("_published_ts") is not None:
        raise validation(f"Email {e['id']} was already sent")
    e.update({k: v for k, v in body.items() if k in _EDITABLE})
    e["updatedAt"] = iso_ms(call.now)
    return json_response(email_json(portal, e, False))


@routes.add(
    "POST",
    "emails.publish",
    *PUBLISH,
    scopes=("content",),
    tier="publish",
    family="marketing.emails",
)
async def publish_email(call: Call) -> Response:
    portal = call.require_portal()
    deliver_due(portal, call.now)
    e = _email(portal, call.params["email_id"])
    if e.get("_published_ts") is not None:
        raise validation(f"Email {e['id']} was already sent")
    to = e.get("to") or {}
    if not _ids(to, "contactIlsLists") and not _ids(to, "contactIds"):
        raise validation(
            f"Email {e['id']} has no recipients",
            [{"message": "set to.contactIlsLists or to.contactIds first", "in": "to"}],
        )
    when = parse_datetime(e.get("publishDate")) if e.get("publishDate") else None
    if when is not None and when > call.now:
        e.update(state="SCHEDULED", isPublished=True, _scheduled_ts=when)
    else:
        _deliver(portal, e, call.now)
    return no_content()


@routes.add(
    "POST",
    "emails.unpublish",
    *UNPUBLISH,
    scopes=("content",),
    tier="publish",
    family="marketing.emails",
)
async def unpublish_email(call: Call) -> Response:
    portal = call.require_portal()
    deliver_due(portal, call.now)
    e = _email(portal, call.params["email_id"])
    if e.get("_published_ts") is not None:
        raise validation(f"Email {e['id']} was already sent; it cannot be cancelled")
    if e.get("state") == "SCHEDULED":
        e.update(state="DRAFT", isPublished=False)
        e.pop("_scheduled_ts", None)
    return no_content()
