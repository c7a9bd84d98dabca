"""Request bodies of the marketing routes (HTTP input, checked by pydantic before any call)."""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from atom_hubspot.service.lead_lists import Segment

ContactIdList = Annotated[
    list[Annotated[str, Field(pattern=r"^[0-9]{1,20}$")]],
    Field(min_length=1, max_length=1000, examples=[["101", "102"]]),
]


class CampaignCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Spring launch",
                    "start_date": "2026-03-01",
                    "end_date": "2026-04-30",
                    "notes": "Webinar series and nurture emails",
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=255)
    start_date: date | None = None
    end_date: date | None = None
    notes: str | None = Field(default=None, max_length=5000)


class LeadListCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "Webinar leads", "processing_type": "MANUAL"},
                {
                    "name": "German leads",
                    "processing_type": "DYNAMIC",
                    "segment": {
                        "match": "all",
                        "conditions": [
                            {"property": "lifecyclestage", "operator": "eq", "value": "lead"},
                            {"property": "country", "operator": "eq", "value": "Germany"},
                        ],
                    },
                },
            ]
        },
    )

    name: str = Field(min_length=1, max_length=255, description="Unique among the portal's lists")
    processing_type: Literal["MANUAL", "DYNAMIC"] = Field(
        default="MANUAL",
        description="MANUAL: members added by hand; DYNAMIC: HubSpot keeps the members that "
        "match `segment`",
    )
    segment: Segment | None = None


class MembersBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"contact_ids": ["101", "102"]}]}
    )

    contact_ids: ContactIdList


class SendEmailBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"email_id": 123456789, "contact_ids": ["101", "102"]},
                {
                    "email_id": 123456789,
                    "emails": ["ada@example.com"],
                    "contact_properties": {"firstname": "Ada"},
                    "custom_properties": {"offer": "20% off"},
                    "send_at": "2026-12-01T09:00:00Z",
                },
            ]
        },
    )

    email_id: int = Field(ge=1, le=2**53, description="The marketing email to send (its id)")
    contact_ids: list[Annotated[str, Field(pattern=r"^[0-9]{1,20}$")]] = Field(
        default_factory=list,
        max_length=1000,
        description="Contacts to send to; each one's e-mail address is looked up",
    )
    emails: list[Annotated[str, Field(max_length=254)]] = Field(
        default_factory=list, max_length=1000, description="Addresses to send to"
    )
    contact_properties: dict[str, Annotated[str, Field(max_length=65536)]] = Field(
        default_factory=dict,
        max_length=100,
        description="Contact property values for personalisation tokens",
    )
    custom_properties: dict[str, Any] = Field(
        default_factory=dict,
        max_length=100,
        description="Values for the email's custom tokens",
    )
    send_at: datetime | None = Field(
        default=None,
        description="When to send (with a time zone). In the future: stored and sent then, "
        "once; absent or past: sent now",
    )
