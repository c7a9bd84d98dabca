"""The ATOM host contract: what a plugin may import from the host.

In production this module is the published ATOM SDK package; here it plays that part. It holds
only data models and protocols — no host machinery — so a plugin that imports it stays
independent of how the host discovers, serves or configures it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, Protocol, Self, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

# --------------------------------------------------------------------------- principal


class Principal(BaseModel):
    """Who is calling: authenticated by the host, never taken from a query or a body."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    user_id: str


# --------------------------------------------------------------------------- config


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class ConfigIssue(BaseModel):
    """One problem with a plugin's configuration, reported at startup."""

    key: str = Field(description="The environment variable at fault, e.g. HUBSPOT_CLIENT_ID")
    severity: Severity = Severity.ERROR
    message: str = Field(description="What is wrong; never the secret value itself")
    hint: str = Field(default="", description="What to do about it")


class ConfigValue(BaseModel):
    """A setting as the plugin applies it (e.g. the API version one family uses), shown by
    `check-config` and the dashboard. Never a secret."""

    key: str = Field(description="The environment variable it comes from")
    name: str = Field(description="What it governs")
    value: str


# --------------------------------------------------------------------------- health


class HealthStatus(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"


class ConnectedAccount(BaseModel):
    """An external account an integration is connected to, as the dashboard shows it (never a
    token or a secret)."""

    id: str = Field(examples=["1234567"])
    name: str | None = Field(default=None, examples=["acme.hubspot.com"])
    environment: str | None = Field(default=None, examples=["production"])
    status: str = Field(default="connected", examples=["connected", "reauth_required"])


class HealthResult(BaseModel):
    """A check's outcome. `message` is public (the status page shows it to anyone): keep
    tenant data out of it. `details` are shown to authenticated callers only, and
    `tenant_details[tenant_id]` / `tenant_accounts[tenant_id]` only to callers of that tenant
    (`accounts`, all tenants' together, decide the status and are shown to no caller)."""

    status: HealthStatus
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    accounts: list[ConnectedAccount] | None = Field(
        default=None,
        description="The accounts the integration is connected to; None when the check does "
        "not report accounts. An empty list (or none `connected`) shows 'not connected'.",
    )
    connect_url: str | None = Field(
        default=None, description="Where a user connects an account (a host-relative URL)"
    )
    tenant_details: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # `accounts` by tenant: each caller is shown its own tenant's; nobody without a key any.
    tenant_accounts: dict[str, list[ConnectedAccount]] = Field(default_factory=dict)


HealthCheck = Callable[[], Awaitable[HealthResult]]


# --------------------------------------------------------------------------- features


class FeatureState(BaseModel):
    """An optional part of a plugin, on or off, and how to turn it on."""

    name: str
    enabled: bool
    reason: str = ""
    extra: str | None = Field(default=None, description="pip extra that brings it back")


# --------------------------------------------------------------------------- host context

# The host reads every request body within its size limit and parses JSON bodies strictly
# (no NaN/Infinity, bounded numbers) before any plugin code runs; the parsed value is left in
# the ASGI scope under this key, so a plugin's route need not parse the same bytes again.
JSON_BODY_SCOPE_KEY = "atom.json_body"


@dataclass
class HostContext:
    """What the host hands every plugin at startup and registration time."""

    env: Mapping[str, str]
    data_dir: Path
    database_url: str
    demo: bool = False
    # A FastAPI dependency that yields the authenticated Principal (401 before plugin code).
    principal_dependency: Callable[..., Any] | None = None
    # A FastAPI dependency that yields the Principal when the caller sent a valid key, else None
    # (browser redirects such as the OAuth callback carry no API key).
    optional_principal_dependency: Callable[..., Any] | None = None
    # Where the host serves, once known (demo mode uses it for redirect URLs).
    public_url: str = "http://127.0.0.1:8000"
    # How many worker processes serve this host (`serve --workers`): whatever a plugin keeps
    # in process memory exists that many times, so what must be shared goes to its database.
    workers: int = 1
    # Free-form state a plugin keeps between startup and shutdown, keyed by plugin name.
    state: dict[str, Any] = field(default_factory=dict)


# Callbacks the host passes into registration hooks (llm-style: the host validates,
# de-duplicates and records who registered what).
class RegisterRoutes(Protocol):
    def __call__(self, router: Any, *, prefix: str, tags: list[str] | None = None) -> None: ...


class RegisterHealthCheck(Protocol):
    def __call__(self, name: str, check: HealthCheck, *, timeout_s: float = 5.0) -> None: ...


ServiceFactory = Callable[[Principal], Awaitable[Any]]


class RegisterService(Protocol):
    def __call__(self, capability: str, factory: ServiceFactory) -> None: ...


class RegisterMount(Protocol):
    """Mount a whole ASGI app under a path (demo mode: the offline sandbox's pages)."""

    def __call__(self, path: str, app: Any) -> None: ...


# --------------------------------------------------------------------------- agent tools


class ToolContext(Protocol):
    """What a tool's handler gets besides its input: the caller and their services.

    For a read-only tool `service("crm")` is a read-only view: a write through it raises, so a
    tool marked read-only cannot change anything whatever its code does. `progress` says how
    far a long call (or a job) has come; it reaches the caller when they asked for progress."""

    principal: Principal

    async def service(self, capability: str) -> Any: ...

    async def progress(
        self, done: float, total: float | None = None, message: str | None = None
    ) -> None: ...


ToolHandler = Callable[[ToolContext, Any], Awaitable[BaseModel]]


@dataclass(frozen=True)
class AgentTool:
    """One tool an assistant may call (served over MCP by the host).

    `input_model` types the arguments, `output_model` the structured answer. A tool that is not
    `read_only` changes data: the host first answers a preview made by `preview` (what would
    change, how many recipients, what it costs) with a single-use confirmation token, and runs
    `handler` only when the same arguments come back with that token. A `job` (bulk work)
    runs its confirmed `handler` in the background: the call answers a job id at once, and
    `job_status` reports its progress and, at the end, its result."""

    name: str
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    handler: ToolHandler
    read_only: bool = True
    destructive: bool = False
    preview: ToolHandler | None = None
    job: bool = False


class RegisterTool(Protocol):
    def __call__(self, tool: AgentTool) -> None: ...


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


# --------------------------------------------------------------------------- errors


class CRMError(Exception):
    """Base of every error a CRM capability raises; `code` is stable across providers."""

    code: str = "crm_error"
    http_status: int = 502

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    @property
    def crm_code(self) -> str:
        """The provider-independent code: that of the contract class the error belongs to.
        A provider may refine `code` for its own API (e.g. `hubspot_validation_error`);
        callers of the capability branch on `crm_code`, which every provider shares."""
        for cls in type(self).__mro__:
            if cls.__module__ == __name__ and issubclass(cls, CRMError):
                return cls.code
        return CRMError.code


class CRMNotFound(CRMError):
    code = "not_found"
    http_status = 404


class CRMValidationError(CRMError):
    code = "validation_error"
    http_status = 422


class CRMConflict(CRMError):
    code = "conflict"
    http_status = 409


class CRMNotConnected(CRMError):
    code = "not_connected"
    http_status = 401


# --------------------------------------------------------------------------- CRM models


# Where a read is answered from: `live` asks the CRM itself now; `mirror` a local copy the
# provider keeps, however far behind; `auto` (the default) the local copy while it is current,
# else the CRM. A provider that keeps no copy reads live whatever is asked.
ReadSource = Literal["auto", "mirror", "live"]


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


FilterOp = Literal["eq", "neq", "lt", "lte", "gt", "gte", "in", "contains", "has", "not_has"]


class SearchFilter(BaseModel):
    """A filter on a unified field name (e.g. `email`, `stage_id`); filters are ANDed."""

    field: str = Field(max_length=100)
    op: FilterOp = "eq"
    value: Any = None


ObjectKind = Literal["contact", "company", "deal"]


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
