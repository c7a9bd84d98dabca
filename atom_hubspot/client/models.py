"""Typed views of what HubSpot answers (pydantic v2).

HubSpot says every response field is optional and adds enum values over time, so: fields are
optional unless HubSpot cannot answer without them, enum-like fields are plain strings (known
values listed as constants where useful), and unknown fields are kept (`extra="allow"`, and
`raw` for the whole answer where a caller may need what we did not model).
Tokens are `SecretStr` so they never print.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic.alias_generators import to_camel


class HubSpotModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields kept."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=False
    )


class SnakeModel(BaseModel):
    """OAuth answers are snake_case already."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")


# --------------------------------------------------------------------------- OAuth


class TokenResponse(SnakeModel):
    """`POST /oauth/…/token`. HubSpot sends no hub_domain nor app_id here (introspect does)."""

    access_token: SecretStr
    refresh_token: SecretStr | None = None
    expires_in: int
    token_type: str = "bearer"  # noqa: S105 - a token kind, not a secret
    token_use: str | None = None
    hub_id: int | None = None
    user_id: int | None = None
    scopes: list[str] | None = None
    id_token: SecretStr | None = None


class TokenInfo(SnakeModel):
    """Token introspection (date-style form POST, or the legacy v1 access-token lookup)."""

    active: bool = True
    hub_id: int | None = None
    hub_domain: str | None = None
    user: str | None = None
    user_id: int | None = None
    app_id: int | None = None
    scopes: list[str] = Field(default_factory=list)
    expires_in: int | None = None
    token_type: str | None = None


# --------------------------------------------------------------------------- account


class AccountDetails(HubSpotModel):
    """`GET /account-info/…/details`."""

    portal_id: int
    account_type: str | None = None  # STANDARD, SANDBOX, DEVELOPER_TEST, … (not an enum here)
    time_zone: str | None = None
    company_currency: str | None = None
    ui_domain: str | None = None
    data_hosting_location: str | None = None


# --------------------------------------------------------------------------- CRM objects


class AssociationRef(HubSpotModel):
    """One associated record as listed inline on a CRM object or by the v4 read."""

    id: str = Field(validation_alias=AliasChoices("id", "toObjectId", "to_object_id"))
    type: str | None = None
    association_types: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _ids_as_strings(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for k in ("id", "toObjectId"):
                if k in data and data[k] is not None:
                    data[k] = str(data[k])
        return data


class CrmObject(HubSpotModel):
    """A contact, company or deal. Property values travel as strings (or null)."""

    id: str
    properties: dict[str, str | None] = Field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    archived: bool | None = None
    archived_at: datetime | None = None
    # HubSpot answers {"companies": {"results": [{"id", "type"}], "paging": …}}; flattened here.
    associations: dict[str, list[AssociationRef]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("id") is not None:
            data["id"] = str(data["id"])
        props = data.get("properties")
        if isinstance(props, dict):
            data["properties"] = {
                k: (None if v is None else v if isinstance(v, str) else str(v))
                for k, v in props.items()
            }
        assoc = data.get("associations")
        if isinstance(assoc, dict):
            flat: dict[str, list[Any]] = {}
            for name, value in assoc.items():
                if isinstance(value, dict):
                    flat[name] = list(value.get("results") or [])
                elif isinstance(value, list):
                    flat[name] = value
            data["associations"] = flat
        return data


class ObjectPage(HubSpotModel):
    results: list[CrmObject] = Field(default_factory=list)
    next_after: str | None = None
    total: int | None = None


class BatchItemError(HubSpotModel):
    """One failure inside a batch: HubSpot's own `errors[]` entry, or a whole chunk that could
    not be done (then `inputs` lists what was sent and `code` is our error code)."""

    status: str | None = None
    category: str | None = None
    sub_category: str | None = None
    message: str = ""
    context: dict[str, Any] = Field(default_factory=dict)
    code: str | None = None
    correlation_id: str | None = None
    inputs: list[Any] = Field(default_factory=list)


class BatchResult(HubSpotModel):
    """Per-input outcome of a batch call. `status`: COMPLETE, PARTIAL (some errors) or FAILED."""

    results: list[CrmObject] = Field(default_factory=list)
    errors: list[BatchItemError] = Field(default_factory=list)
    status: str = "COMPLETE"

    @property
    def ok(self) -> bool:
        return not self.errors


# --------------------------------------------------------------------------- associations


class AssociationPage(HubSpotModel):
    results: list[AssociationRef] = Field(default_factory=list)
    next_after: str | None = None


# --------------------------------------------------------------------------- pipelines


class StageModel(HubSpotModel):
    id: str
    label: str | None = None
    display_order: int | None = None
    # Deal stage metadata is string-valued: {"probability": "0.5", "isClosed": "false"}.
    metadata: dict[str, Any] = Field(default_factory=dict)
    archived: bool | None = None


class PipelineModel(HubSpotModel):
    id: str
    label: str | None = None
    display_order: int | None = None
    archived: bool | None = None
    stages: list[StageModel] = Field(default_factory=list)


# --------------------------------------------------------------------------- properties


class PropertyDefinition(HubSpotModel):
    """One property of an object type, as the Properties API lists it.
    https://developers.hubspot.com/docs/api-reference/crm-properties-v3/guide

    `type` and `field_type` stay text (HubSpot adds kinds over time). Custom properties may come
    without `hubspotDefined` at all (the legacy v3 examples omit it), so only an explicit
    `true` marks a property as HubSpot's own.
    """

    name: str
    label: str | None = None
    type: str | None = None  # string, number, date, datetime, enumeration, bool, …
    field_type: str | None = None  # text, textarea, select, number, date, booleancheckbox, …
    group_name: str | None = None
    description: str | None = None
    hubspot_defined: bool | None = None
    archived: bool | None = None
    hidden: bool | None = None
    options: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def is_custom(self) -> bool:
        return self.hubspot_defined is not True


# --------------------------------------------------------------------------- lists


class ListModel(HubSpotModel):
    list_id: str
    name: str | None = None
    processing_type: str | None = None  # MANUAL, DYNAMIC, SNAPSHOT (and whatever comes next)
    object_type_id: str | None = None
    size: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    filter_branch: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _id_string(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if data.get("listId") is not None:
                data["listId"] = str(data["listId"])
            if "size" not in data and isinstance(data.get("additionalProperties"), dict):
                size = data["additionalProperties"].get("hs_list_size")
                if size is not None and str(size).isdigit():
                    data["size"] = int(size)
        return data


class ListSearchPage(HubSpotModel):
    lists: list[ListModel] = Field(default_factory=list)
    total: int | None = None
    offset: int | None = None
    has_more: bool = False


class MembershipChange(HubSpotModel):
    """Answer of add/remove members. HubSpot spells the first key `recordsIdsAdded` (sic)."""

    added: list[str] = Field(
        default_factory=list,
        validation_alias=AliasChoices("recordsIdsAdded", "recordIdsAdded", "added"),
    )
    removed: list[str] = Field(
        default_factory=list, validation_alias=AliasChoices("recordIdsRemoved", "removed")
    )
    missing: list[str] = Field(
        default_factory=list, validation_alias=AliasChoices("recordIdsMissing", "missing")
    )

    @model_validator(mode="before")
    @classmethod
    def _strings(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: [str(x) for x in v] if isinstance(v, list) else v for k, v in data.items()}
        return data


class ListMember(HubSpotModel):
    record_id: str
    membership_timestamp: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _id(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("recordId") is not None:
            data = {**data, "recordId": str(data["recordId"])}
        return data


class ListMemberPage(HubSpotModel):
    results: list[ListMember] = Field(default_factory=list)
    next_after: str | None = None
    total: int | None = None


# --------------------------------------------------------------------------- campaigns


class Campaign(HubSpotModel):
    id: str
    properties: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def name(self) -> str | None:
        value = self.properties.get("hs_name")
        return None if value is None else str(value)


class CampaignPage(HubSpotModel):
    results: list[Campaign] = Field(default_factory=list)
    next_after: str | None = None
    total: int | None = None


class CampaignMetrics(HubSpotModel):
    sessions: int | None = None
    new_contacts_first_touch: int | None = None
    new_contacts_last_touch: int | None = None
    influenced_contacts: int | None = None


# --------------------------------------------------------------------------- marketing email


class MarketingEmail(HubSpotModel):
    """A marketing email; its `id` is the `emailId` single-send and transactional take."""

    id: str
    name: str | None = None
    subject: str | None = None
    state: str | None = None  # DRAFT, PUBLISHED, AUTOMATED, … (kept as text)
    type: str | None = None
    email_type: str | None = None  # older answers name the type `emailType`
    sender: dict[str, Any] | None = Field(default=None, alias="from")  # fromName, replyTo, …
    is_published: bool | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    published_at: datetime | None = None
    stats: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _id(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("id") is not None:
            data = {**data, "id": str(data["id"])}
        return data


class EmailPage(HubSpotModel):
    results: list[MarketingEmail] = Field(default_factory=list)
    next_after: str | None = None
    total: int | None = None


class EmailStatistics(HubSpotModel):
    """`GET …/emails/statistics/list`: aggregate counters and ratios, plus per-email ids."""

    aggregate: dict[str, Any] = Field(default_factory=dict)
    emails: list[Any] = Field(default_factory=list)
    campaign_aggregations: dict[str, Any] = Field(default_factory=dict)


# --------------------------------------------------------------------------- sends


class SendResult(HubSpotModel):
    """Answer of single-send / transactional send. `status` e.g. PENDING, PROCESSING,
    COMPLETE, CANCELED; `send_result` e.g. SENT, QUEUED, or a rejection reason."""

    status: str | None = None
    status_id: str | None = None
    send_result: str | None = None
    requested_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    event_id: dict[str, Any] | None = None
