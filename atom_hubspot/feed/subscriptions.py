"""What the HubSpot app must subscribe to for the mirror to follow by change events.

Push (webhooks): subscriptions are set in the app (its settings page, or the project's webhook
configuration) with the target URL; a property change subscription names one property each, so
the list holds the properties the routes and analytics filter on — the incremental sync catches
changes to any other property.
https://developers.hubspot.com/docs/api-reference/latest/webhooks/guide
Pull (the Webhooks Journal): subscriptions are made through the journal's subscriptions API with
the app's client-credentials token, and can be read back, so they are checked.
https://developers.hubspot.com/docs/api-reference/latest/webhooks-journal/guide
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

OBJECTS = {"contact": "0-1", "company": "0-2", "deal": "0-3"}
# The properties the routes filter and sort on and the analytics count by.
WATCHED_PROPERTIES = {
    "contact": (
        "email",
        "firstname",
        "lastname",
        "phone",
        "company",
        "lifecyclestage",
        "hs_lead_status",
        "hubspotscore",
    ),
    "company": ("name", "domain", "industry", "numberofemployees", "city", "country"),
    "deal": ("dealname", "amount", "dealstage", "pipeline", "closedate", "hubspot_owner_id"),
}
PUSH_EVENTS = ("creation", "deletion", "merge", "restore", "associationChange")
JOURNAL_ACTIONS = ("CREATE", "UPDATE", "DELETE", "MERGE", "RESTORE")


@dataclass(frozen=True)
class PushSubscription:
    event_type: str
    property_name: str | None = None

    def __str__(self) -> str:
        return (
            f"{self.event_type} ({self.property_name})" if self.property_name else self.event_type
        )


def push_subscriptions() -> list[PushSubscription]:
    out = []
    for obj in OBJECTS:
        out += [PushSubscription(f"{obj}.{event}") for event in PUSH_EVENTS]
        out += [PushSubscription(f"{obj}.propertyChange", p) for p in WATCHED_PROPERTIES[obj]]
    out.append(PushSubscription("contact.privacyDeletion"))
    return out


def journal_subscriptions() -> list[dict[str, Any]]:
    """The journal subscriptions to create (one per object type; all properties)."""
    return [
        {"subscriptionType": "OBJECT", "objectTypeId": type_id, "actions": list(JOURNAL_ACTIONS)}
        for type_id in OBJECTS.values()
    ]


def missing_journal_subscriptions(existing: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What `journal_subscriptions()` asks for that the app's subscriptions do not cover
    (a subscription limited to some properties or object ids covers nothing fully)."""
    have: dict[str, set[str]] = {}
    for sub in existing:
        if sub.get("deletedAt") or sub.get("properties") or sub.get("objectIds"):
            continue
        if str(sub.get("subscriptionType", "OBJECT")).upper() != "OBJECT":
            continue
        have.setdefault(str(sub.get("objectTypeId")), set()).update(
            str(a).upper() for a in sub.get("actions") or ()
        )
    out = []
    for want in journal_subscriptions():
        lacking = [a for a in want["actions"] if a not in have.get(want["objectTypeId"], set())]
        if lacking:
            out.append({**want, "actions": lacking})
    return out
