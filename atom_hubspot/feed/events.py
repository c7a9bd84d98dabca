"""The change events HubSpot pushes (webhooks) or journals, parsed leniently.

A webhook delivery is a JSON array of up to 100 events; every field is treated as optional and
unknown fields are kept, because HubSpot adds fields without notice.
https://developers.hubspot.com/docs/api-reference/webhooks-webhooks-v3/guide
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# HubSpot sends at most 100 events a request; more is not a HubSpot delivery.
MAX_EVENTS_PER_DELIVERY = 100

OBJECT_TYPE_IDS = {"0-1": "contacts", "0-2": "companies", "0-3": "deals"}
_SUBSCRIPTION_OBJECTS = {"contact": "contacts", "company": "companies", "deal": "deals"}


class DeliveryMalformed(ValueError):
    """The body is not a HubSpot event array; the message says what is wrong."""


class WebhookEvent(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    event_id: int = Field(alias="eventId", ge=0, le=2**63 - 1)
    portal_id: int = Field(alias="portalId", ge=1, le=2**63 - 1)
    occurred_at: int = Field(alias="occurredAt", ge=0, le=2**53)
    subscription_type: str = Field(alias="subscriptionType", min_length=1, max_length=128)
    subscription_id: int | None = Field(default=None, alias="subscriptionId")
    app_id: int | None = Field(default=None, alias="appId")
    attempt_number: int | None = Field(default=None, alias="attemptNumber")
    object_id: int | None = Field(default=None, alias="objectId", ge=0, le=2**63 - 1)
    object_type_id: str | None = Field(default=None, alias="objectTypeId", max_length=32)
    change_source: str | None = Field(default=None, alias="changeSource", max_length=128)
    property_name: str | None = Field(default=None, alias="propertyName", max_length=256)
    property_value: str | None = Field(default=None, alias="propertyValue")
    primary_object_id: int | None = Field(default=None, alias="primaryObjectId")
    merged_object_ids: list[int] | None = Field(default=None, alias="mergedObjectIds")
    new_object_id: int | None = Field(default=None, alias="newObjectId")
    association_type: str | None = Field(default=None, alias="associationType", max_length=128)
    from_object_id: int | None = Field(default=None, alias="fromObjectId")
    to_object_id: int | None = Field(default=None, alias="toObjectId")
    association_removed: bool | None = Field(default=None, alias="associationRemoved")

    @property
    def action(self) -> str:
        """`creation`, `propertyChange`, `deletion`, `merge`, … (after the last dot)."""
        return self.subscription_type.rsplit(".", 1)[-1]

    @property
    def object_type(self) -> str | None:
        """`contacts`, `companies` or `deals` where the event names one; None otherwise."""
        head = self.subscription_type.split(".", 1)[0]
        if head in _SUBSCRIPTION_OBJECTS:
            return _SUBSCRIPTION_OBJECTS[head]
        if self.object_type_id is not None:
            return OBJECT_TYPE_IDS.get(self.object_type_id)
        return None

    def payload(self) -> dict[str, Any]:
        """The event as HubSpot sent it (its own field names), for the inbox."""
        return self.model_dump(by_alias=True, exclude_none=True)


def parse_delivery(body: bytes) -> list[WebhookEvent]:
    """Parse a delivery body; raise DeliveryMalformed naming the first problem found."""
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise DeliveryMalformed(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise DeliveryMalformed("body must be a JSON array of events")
    if len(data) > MAX_EVENTS_PER_DELIVERY:
        raise DeliveryMalformed(
            f"{len(data)} events in one delivery; HubSpot sends at most {MAX_EVENTS_PER_DELIVERY}"
        )
    events: list[WebhookEvent] = []
    for n, item in enumerate(data):
        try:
            events.append(WebhookEvent.model_validate(item))
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise DeliveryMalformed(f"event {n}: {where or 'event'}: {first['msg']}") from None
    return events


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")
