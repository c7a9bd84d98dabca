"""The ATOM host contract: what a plugin may import from the host.

In production this module is the published ATOM SDK package; here it plays that part. It holds
only data models and protocols — no host machinery — so a plugin that imports it stays
independent of how the host discovers, serves or configures it.

What every plugin and every command needs (principal, config issues, health, features, the host
context, registration callbacks, CRM errors) is defined here, as plain dataclasses
(`_records.Record`: pydantic-style `model_validate`, `model_dump` and `model_copy`, and read
by pydantic and FastAPI like any dataclass) so that importing the contract imports no pydantic.
The CRM capability's models and the answer envelope are pydantic models; they live in
`_contract_models` and are built on first use: importing them from here (`from
atom_host_stub.contract import Contact`) works as usual, but a command that never touches a
contact (`atom-host plugins`) does not pay for building them.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from atom_host_stub._contract_types import FilterOp, ObjectKind, ReadSource
from atom_host_stub._records import Record, about

if TYPE_CHECKING:
    from pydantic import BaseModel

    from atom_host_stub._contract_models import (
        FIELDS_MODELS,
        RECORD_MODELS,
        Company,
        CompanyFields,
        Contact,
        ContactFields,
        CRMRecord,
        CRMService,
        CustomFields,
        Deal,
        DealFields,
        Envelope,
        EnvelopeData,
        ErrorBody,
        ErrorEnvelope,
        IdList,
        InputText,
        Money,
        Page,
        Pipeline,
        ReadOrigin,
        SearchFilter,
        Stage,
        T,
    )

# --------------------------------------------------------------------------- principal


@dataclass(frozen=True, kw_only=True)
class Principal(Record):
    """Who is calling: authenticated by the host, never taken from a query or a body."""

    tenant_id: str
    user_id: str


# --------------------------------------------------------------------------- config


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(kw_only=True)
class ConfigIssue(Record):
    """One problem with a plugin's configuration, reported at startup."""

    key: str = field(metadata=about("The environment variable at fault, e.g. HUBSPOT_CLIENT_ID"))
    severity: Severity = Severity.ERROR
    message: str = field(metadata=about("What is wrong; never the secret value itself"))
    hint: str = field(default="", metadata=about("What to do about it"))

    def __post_init__(self) -> None:
        self.severity = Severity(self.severity)


@dataclass(kw_only=True)
class ConfigValue(Record):
    """A setting as the plugin applies it (e.g. the API version one family uses), shown by
    `check-config` and the dashboard. Never a secret."""

    key: str = field(metadata=about("The environment variable it comes from"))
    name: str = field(metadata=about("What it governs"))
    value: str


# --------------------------------------------------------------------------- health


class HealthStatus(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(kw_only=True)
class ConnectedAccount(Record):
    """An external account an integration is connected to, as the dashboard shows it (never a
    token or a secret)."""

    id: str = field(metadata=about(examples=["1234567"]))
    name: str | None = field(default=None, metadata=about(examples=["acme.hubspot.com"]))
    environment: str | None = field(default=None, metadata=about(examples=["production"]))
    status: str = field(
        default="connected", metadata=about(examples=["connected", "reauth_required"])
    )


@dataclass(kw_only=True)
class HealthResult(Record):
    """A check's outcome. `message` is public (the status page shows it to anyone): keep
    tenant data out of it. `details` are shown to authenticated callers only, and
    `tenant_details[tenant_id]` / `tenant_accounts[tenant_id]` only to callers of that tenant
    (`accounts`, all tenants' together, decide the status and are shown to no caller)."""

    status: HealthStatus
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    accounts: list[ConnectedAccount] | None = field(
        default=None,
        metadata=about(
            "The accounts the integration is connected to; None when the check does not report "
            "accounts. An empty list (or none `connected`) shows 'not connected'."
        ),
    )
    connect_url: str | None = field(
        default=None, metadata=about("Where a user connects an account (a host-relative URL)")
    )
    tenant_details: dict[str, dict[str, Any]] = field(default_factory=dict)
    # `accounts` by tenant: each caller is shown its own tenant's; nobody without a key any.
    tenant_accounts: dict[str, list[ConnectedAccount]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.status = HealthStatus(self.status)


HealthCheck = Callable[[], Awaitable[HealthResult]]


# --------------------------------------------------------------------------- features


@dataclass(kw_only=True)
class FeatureState(Record):
    """An optional part of a plugin, on or off, and how to turn it on."""

    name: str
    enabled: bool
    reason: str = ""
    extra: str | None = field(default=None, metadata=about("pip extra that brings it back"))


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


ToolHandler = Callable[[ToolContext, Any], Awaitable["BaseModel"]]


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


# --------------------------------------------------------------------------- CRM vocabulary

# FilterOp, ObjectKind and ReadSource (the CRM vocabulary) come from _contract_types.

# --------------------------------------------------------------------------- built on first use

__all__ = [
    "FIELDS_MODELS",
    "JSON_BODY_SCOPE_KEY",
    "RECORD_MODELS",
    "AgentTool",
    "CRMConflict",
    "CRMError",
    "CRMNotConnected",
    "CRMNotFound",
    "CRMRecord",
    "CRMService",
    "CRMValidationError",
    "Company",
    "CompanyFields",
    "ConfigIssue",
    "ConfigValue",
    "ConnectedAccount",
    "Contact",
    "ContactFields",
    "CustomFields",
    "Deal",
    "DealFields",
    "Envelope",
    "EnvelopeData",
    "ErrorBody",
    "ErrorEnvelope",
    "FeatureState",
    "FilterOp",
    "HealthCheck",
    "HealthResult",
    "HealthStatus",
    "HostContext",
    "IdList",
    "InputText",
    "Money",
    "ObjectKind",
    "Page",
    "Pipeline",
    "Principal",
    "ReadOrigin",
    "ReadSource",
    "RegisterHealthCheck",
    "RegisterMount",
    "RegisterRoutes",
    "RegisterService",
    "RegisterTool",
    "SearchFilter",
    "ServiceFactory",
    "Severity",
    "Stage",
    "T",
    "ToolContext",
    "ToolHandler",
]

_MODELS_MODULE = "atom_host_stub._contract_models"
_LAZY = frozenset(
    {
        "EnvelopeData",
        "ErrorBody",
        "ErrorEnvelope",
        "Envelope",
        "CRMRecord",
        "Money",
        "Contact",
        "Company",
        "Deal",
        "Stage",
        "Pipeline",
        "T",
        "Page",
        "InputText",
        "CustomFields",
        "IdList",
        "ContactFields",
        "CompanyFields",
        "DealFields",
        "SearchFilter",
        "CRMService",
        "RECORD_MODELS",
        "FIELDS_MODELS",
        "ReadOrigin",
    }
)


def __getattr__(name: str) -> Any:
    """The CRM models and the answer envelope, imported (and their schemas built) on first
    access; each is then kept in this module like any other name."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODELS_MODULE), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
