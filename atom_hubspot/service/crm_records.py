"""HubSpot CRM records as the routes answer them: HubSpot's own shape (every property value a
string), with associations flattened to ids."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from atom_hubspot.client.models import CrmObject
from atom_hubspot.service import mapping
from atom_hubspot.service.pages import ResultsPage


class HubSpotRecord(BaseModel):
    """A HubSpot CRM record as HubSpot keeps it: every property value is a string."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "101",
                    "properties": {"email": "ada@example.com", "firstname": "Ada"},
                    "created_at": "2026-01-05T10:00:00Z",
                    "updated_at": "2026-02-01T09:30:00Z",
                    "archived": False,
                    "associations": {"companies": ["201"]},
                }
            ]
        }
    )

    id: str
    properties: dict[str, str | None]
    created_at: datetime | None = None
    updated_at: datetime | None = None
    archived: bool = False
    associations: dict[str, list[str]] | None = Field(
        default=None, description="Associated record ids by object type, when asked for"
    )

    @classmethod
    def of(cls, obj: CrmObject) -> HubSpotRecord:
        rid, props, created, updated, archived = mapping.record_parts(obj)
        assoc = (
            {name: [ref.id for ref in refs] for name, refs in obj.associations.items()}
            if obj.associations
            else None
        )
        return cls(
            id=rid,
            properties=props,
            created_at=created,
            updated_at=updated,
            archived=archived,
            associations=assoc,
        )


class RecordPage(ResultsPage[HubSpotRecord]):
    """Records, one page (`total` for filtered lists only)."""


class Archived(BaseModel):
    id: str
    archived: Literal[True] = True
