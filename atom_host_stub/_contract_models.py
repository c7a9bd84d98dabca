"""The CRM capability's models and the answer envelope of the host contract.

Import them from `atom_host_stub.contract`, which loads this module the first time one of them
is asked for: building pydantic models costs start-up time that commands which never handle a
record (`atom-host plugins`, `check-config`) should not pay.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, Protocol, Self, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from atom_host_stub._contract_types import FilterOp, ObjectKind, ReadSource

# --------------------------------------------------------------------------- answer envelope

EnvelopeData = TypeVar("EnvelopeData")


class ErrorBody(BaseModel):
    """What went wrong: a stable `code` to branch on and a `message` for people."""

    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["No contact with id '123'."])
    correlation_id: str | None = Field(
        default=None,
        description="The provider's request id, for its support",
        examples=["aeb5f871-7f07-4993-9211-075dc63e7cbf"],
    )
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="One entry per field at fault"
    )
    details: dict[str, Any] | None = None


class ErrorEnvelope(BaseModel):
    """Every error answer of the host and its plugins."""

    ok: bool = False
    error: ErrorBody


class Envelope(BaseModel, Generic[EnvelopeData]):
    """Every success answer of the host and its plugins."""

    ok: bool = True
    data: EnvelopeData
    meta: dict[str, Any] = Field(default_factory=dict)


# --------------------------------------------------------------------------- CRM models


class ReadOrigin(BaseModel):
    """Which source answered a read and how current it is."""

    model_config = ConfigDict(frozen=True)

    source: Literal["mirror", "live"]
    as_of: datetime | None = Field(
        default=None, description="The answer holds every change made up to this time"
    )


class CRMRecord(BaseModel):
    """Fields every unified CRM record has; `raw` keeps the provider's record untouched.
    `origin` says where a read found it (None when the provider does not say)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    archived: bool = False
    custom_fields: dict[str, str | None] = Field(default_factory=dict)
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)
    _origin: ReadOrigin | None = PrivateAttr(default=None)

    @property
    def origin(self) -> ReadOrigin | None:
        return self._origin

    def with_origin(self, origin: ReadOrigin) -> Self:
        """This record, marked as read from `origin` (not part of its fields or dumps)."""
        self._origin = origin
        return self


class Money(BaseModel):
    amount: Decimal
    currency: str | None = Field(default=None, description="ISO 4217; None when unknown")


class Contact(CRMRecord):
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    company_name: str | None = None
    lifecycle_stage: str | None = None


class Company(CRMRecord):
    name: str | None = None
    domain: str | None = None
    industry: str | None = None
    employee_count: int | None = None
    city: str | None = None
    country: str | None = None


class Deal(CRMRecord):
    name: str | None = None
    amount: Money | None = None
    pipeline_id: str | None = None
    stage_id: str | None = None
    close_date: datetime | None = None
    owner_id: str | None = None


class Stage(BaseModel):
    id: str
    label: str
    display_order: int = 0
    probability: Decimal | None = None
    is_closed: bool | None = None
    archived: bool = False


class Pipeline(BaseModel):
    id: str
    label: str
    display_order: int = 0
    archived: bool = False
    stages: list[Stage] = Field(default_factory=list)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of records and the opaque cursor of the next one (None at the end); `total`
    and `origin` when the provider knows them. A cursor continues in the source its page
    came from."""

    items: list[T]
    next_cursor: str | None = None
    total: int | None = Field(default=None, description="Records matching, on every page")
    origin: ReadOrigin | None = None


# Inputs for create/update: every field optional (update is partial), custom fields by name.
# Every free-form value is bounded (and the bounds show in the OpenAPI): 65,536 characters a
# value (HubSpot's own limit for a text property), 1000 custom fields of names up to 100
# characters, 100 ids a list.
InputText = Annotated[str, Field(max_length=65536)]
CustomFields = Annotated[
    dict[Annotated[str, Field(min_length=1, max_length=100)], InputText | None],
    Field(max_length=1000),
]
IdList = Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=100)]


class ContactFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: InputText | None = None
    first_name: InputText | None = None
    last_name: InputText | None = None
    phone: InputText | None = None
    company_name: InputText | None = None
    lifecycle_stage: InputText | None = None
    custom_fields: CustomFields = Field(default_factory=dict)


class CompanyFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: InputText | None = None
    domain: InputText | None = None
    industry: InputText | None = None
    employee_count: Annotated[int, Field(ge=0, le=10**18)] | None = None
    city: InputText | None = None
    country: InputText | None = None
    custom_fields: CustomFields = Field(default_factory=dict)


class DealFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: InputText | None = None
    amount: Money | None = None
    pipeline_id: InputText | None = None
    stage_id: InputText | None = None
    close_date: datetime | None = None
    owner_id: InputText | None = None
    contact_ids: IdList = Field(default_factory=list)
    company_ids: IdList = Field(default_factory=list)
    custom_fields: CustomFields = Field(default_factory=dict)


class SearchFilter(BaseModel):
    """A filter on a unified field name (e.g. `email`, `stage_id`); filters are ANDed."""

    field: str = Field(max_length=100)
    op: FilterOp = "eq"
    value: Any = None


@runtime_checkable
class CRMService(Protocol):
    """The `crm` capability. HubSpot implements it; so can any other CRM plugin.

    Reads take `source` (see ReadSource) and say where they were answered from (`origin` of
    a page or record); callers accept a provider whose reads take no `source` (it reads live).
    """

    provider: str

    async def list_records(
        self,
        kind: ObjectKind,
        *,
        limit: int = 20,
        cursor: str | None = None,
        source: ReadSource = "auto",
    ) -> Page[Any]: ...

    async def get_record(
        self, kind: ObjectKind, record_id: str, *, source: ReadSource = "auto"
    ) -> Any: ...

    async def create_record(self, kind: ObjectKind, fields: BaseModel) -> Any: ...

    async def update_record(self, kind: ObjectKind, record_id: str, fields: BaseModel) -> Any: ...

    async def delete_record(self, kind: ObjectKind, record_id: str) -> None: ...

    async def search_records(
        self,
        kind: ObjectKind,
        filters: list[SearchFilter],
        *,
        limit: int = 20,
        cursor: str | None = None,
        source: ReadSource = "auto",
    ) -> Page[Any]: ...

    async def list_pipelines(self) -> list[Pipeline]: ...


RECORD_MODELS: dict[ObjectKind, type[CRMRecord]] = {
    "contact": Contact,
    "company": Company,
    "deal": Deal,
}
FIELDS_MODELS: dict[ObjectKind, type[BaseModel]] = {
    "contact": ContactFields,
    "company": CompanyFields,
    "deal": DealFields,
}
