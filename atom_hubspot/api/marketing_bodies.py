"""Request bodies of the marketing routes (HTTP input, checked by pydantic before any call)."""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from atom_hubspot.service import mapping
from atom_hubspot.service.lead_lists import Segment

MAX_TOKEN_VALUE = 65536  # HubSpot's limit for a string property value
# What one send may carry for personalisation, all values together: it is stored with a
# scheduled send, so it is bounded as a whole.
MAX_PERSONALISATION_CHARS = 65536
BoundedDate = Annotated[
    date,
    Field(ge=mapping.DAY_MIN, le=mapping.DAY_MAX, description=f"ISO date, {mapping.DATE_LIMIT}"),
]
PropertyName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,99}$", max_length=100)]
TokenName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,100}$", max_length=100)]
TokenValue = Annotated[str, Field(max_length=MAX_TOKEN_VALUE)] | float | bool | None

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
    start_date: BoundedDate | None = None
    end_date: BoundedDate | None = None
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
    contact_properties: dict[PropertyName, Annotated[str, Field(max_length=MAX_TOKEN_VALUE)]] = (
        Field(
            default_factory=dict,
            max_length=100,
            description="Contact property values for personalisation tokens",
        )
    )
    custom_properties: dict[TokenName, TokenValue] = Field(
        default_factory=dict,
        max_length=100,
        description="Values for the email's custom tokens",
    )
    send_at: datetime | None = Field(
        default=None,
        description="When to send (with a time zone). In the future: stored and sent then, "
        f"once; absent or past: sent now. {mapping.DATE_LIMIT}",
    )

    @field_validator("send_at")
    @classmethod
    def _send_at_in_range(cls, v: datetime | None) -> datetime | None:
        if v is not None and mapping.in_date_range(v) is None:
            raise ValueError(f"outside {mapping.DATE_LIMIT}")
        return v

    @model_validator(mode="after")
    def _personalisation_bounded(self) -> "SendEmailBody":
        # Stored with a scheduled send: bounded as a whole, not only field by field.
        size = sum(len(k) + len(str(v)) for k, v in self.contact_properties.items())
        size += sum(len(k) + len(str(v)) for k, v in self.custom_properties.items())
        if size > MAX_PERSONALISATION_CHARS:
            raise ValueError(
                f"contact_properties and custom_properties hold {size} characters; at most "
                f"{MAX_PERSONALISATION_CHARS} together"
            )
        return self
