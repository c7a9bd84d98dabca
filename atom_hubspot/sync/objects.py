"""What the sync knows of HubSpot's CRM objects: the types it mirrors, the property each one's
last modification is in, the links it keeps and how HubSpot names their types, and a HubSpot
object as the mirror holds it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from atom_hubspot.storage.mirror import MirroredRecord

if TYPE_CHECKING:
    from atom_hubspot.client import CrmObject

RECORD_TYPES = ("contacts", "companies", "deals")
SYNC_TYPES = (*RECORD_TYPES, "pipelines", "lists", "campaigns")
MODIFIED_PROPERTY = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}
# The links mirrored, read from the side HubSpot lists them on.
ASSOCIATED = {"contacts": ("companies",), "companies": (), "deals": ("contacts", "companies")}
# Inline associations on list answers name their type; these are HubSpot's default ones.
# https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide
ASSOCIATION_TYPE_NAMES = {
    "contact_to_company": 1,
    "contact_to_company_unlabeled": 279,
    "company_to_contact": 2,
    "company_to_contact_unlabeled": 280,
    "deal_to_contact": 3,
    "contact_to_deal": 4,
    "deal_to_company": 5,
    "deal_to_company_unlabeled": 341,
    "company_to_deal": 6,
    "company_to_deal_unlabeled": 342,
}
# A list call names its properties in the URL; connectors keep that under about 15,000
# characters. Properties past it are read by batch read, which takes them in the body.
URL_PROPERTY_BUDGET = 15_000
FALLBACK_PROPERTIES = {
    "contacts": ["email", "firstname", "lastname", "phone", "company", "lifecyclestage"],
    "companies": ["name", "domain", "industry", "numberofemployees", "city", "country"],
    "deals": ["dealname", "amount", "dealstage", "pipeline", "closedate", "deal_currency_code"],
}


def ms(dt: datetime) -> str:
    return str(int(dt.timestamp() * 1000))


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def to_mirrored(obj: CrmObject) -> MirroredRecord:
    return MirroredRecord(
        id=int(obj.id),
        properties=dict(obj.properties),
        created_at=obj.created_at,
        updated_at=obj.updated_at,
        archived=bool(obj.archived),
        archived_at=obj.archived_at,
    )


def chunks(names: Sequence[str], budget: int) -> list[list[str]]:
    out: list[list[str]] = [[]]
    size = 0
    for name in names:
        if out[-1] and size + len(name) + 1 > budget:
            out.append([])
            size = 0
        out[-1].append(name)
        size += len(name) + 1
    return out
