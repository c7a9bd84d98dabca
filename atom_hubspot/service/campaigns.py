"""Campaigns as the routes answer them, built from the client's Campaign and CampaignMetrics."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from atom_hubspot.client.models import (
    Campaign,
    CampaignMetrics,
)
from atom_hubspot.service.email_stats import EmailPerformance
from atom_hubspot.service.pages import ResultsPage


def _str(v: object) -> str | None:
    return None if v is None else str(v)


class CampaignInfo(BaseModel):
    """A campaign as the routes answer it: its main properties by name, and all of them."""

    id: str = Field(examples=["edb9b6c3-d2e2-4ca8-8396-832262aed0d4"])
    name: str | None = Field(default=None, examples=["Spring launch"])
    start_date: str | None = Field(default=None, examples=["2026-03-01"])
    end_date: str | None = Field(default=None, examples=["2026-04-30"])
    notes: str | None = Field(default=None, examples=["Webinar series and nurture emails"])
    created_at: datetime | None = None
    updated_at: datetime | None = None
    properties: dict[str, Any] = Field(
        default_factory=dict, description="All campaign properties as HubSpot returned them"
    )

    @classmethod
    def of(cls, c: Campaign) -> CampaignInfo:
        props = c.properties
        return cls(
            id=c.id,
            name=c.name,
            start_date=_str(props.get("hs_start_date")),
            end_date=_str(props.get("hs_end_date")),
            notes=_str(props.get("hs_notes")),
            created_at=c.created_at,
            updated_at=c.updated_at,
            properties=props,
        )


class CampaignInfoPage(ResultsPage[CampaignInfo]):
    """Campaigns, one page."""


class CampaignReport(BaseModel):
    """HubSpot's metrics of one campaign over a date range."""

    campaign_id: str
    start_date: str
    end_date: str
    sessions: int | None = Field(default=None, examples=[1520])
    new_contacts_first_touch: int | None = Field(default=None, examples=[48])
    new_contacts_last_touch: int | None = Field(default=None, examples=[31])
    influenced_contacts: int | None = Field(default=None, examples=[212])
    raw: dict[str, Any] = Field(default_factory=dict, description="HubSpot's answer as is")
    emails: EmailPerformance | None = Field(
        default=None, description="The performance of the campaign's emails sent in the range"
    )

    @classmethod
    def of(cls, campaign_id: str, start: date, end: date, m: CampaignMetrics) -> CampaignReport:
        return cls(
            campaign_id=campaign_id,
            start_date=start.isoformat(),
            end_date=end.isoformat(),
            sessions=m.sessions,
            new_contacts_first_touch=m.new_contacts_first_touch,
            new_contacts_last_touch=m.new_contacts_last_touch,
            influenced_contacts=m.influenced_contacts,
            raw=m.model_dump(by_alias=True, mode="json"),
        )
