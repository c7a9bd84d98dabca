"""The plugin's one error hierarchy.

Every error that can reach an HTTP caller has a stable `code`, a human `message`, the HTTP
status the routes answer with, and HubSpot's `correlation_id` when HubSpot gave one (HubSpot
support asks for it). No token or secret is ever put into an error: messages are built from
HubSpot's own message text and our ids only.

They subclass the host contract's CRMError family, so a caller of the `crm` capability sees
the same `code`s whichever CRM plugin serves it.
"""

from __future__ import annotations

from typing import Any

from atom_host_stub.contract import (
    CRMConflict,
    CRMError,
    CRMNotConnected,
    CRMNotFound,
    CRMValidationError,
)


class HubSpotError(CRMError):
    """Base class. `status` is HubSpot's HTTP status (None when no answer came)."""

    code = "hubspot_error"
    http_status = 502

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        category: str | None = None,
        correlation_id: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, **details)
        self.status = status
        self.category = category
        self.correlation_id = correlation_id
        self.errors = errors or []

    def to_dict(self) -> dict[str, Any]:
        """The error as the routes' envelope shows it."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.correlation_id:
            out["correlation_id"] = self.correlation_id
        if self.errors:
            out["errors"] = self.errors
        if self.details:
            out["details"] = self.details
        return out


class InputError(HubSpotError, CRMValidationError):
    """The caller's input is wrong before anything is sent to HubSpot (fields named)."""

    code = "invalid_input"
    http_status = 422


class ValidationFailed(HubSpotError, CRMValidationError):
    """HubSpot rejected the input (400 VALIDATION_ERROR); HubSpot's `errors[]` kept."""

    code = "hubspot_validation_error"
    http_status = 422


class NotConnected(HubSpotError, CRMNotConnected):
    """The principal has no HubSpot connection (or not the portal asked for)."""

    code = "not_connected"
    http_status = 401


class ReconnectRequired(HubSpotError, CRMNotConnected):
    """The refresh token is dead (invalid_grant / BAD_REFRESH_TOKEN) or the token was
    rejected: only the user reconnecting helps; retrying will not."""

    code = "reconnect_required"
    http_status = 401


class MissingScopes(HubSpotError):
    """403 because the token lacks scopes; `required_scopes` names them when HubSpot does."""

    code = "missing_scopes"
    http_status = 403

    def __init__(self, message: str, *, required_scopes: list[str] | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.required_scopes = required_scopes or []
        if self.required_scopes:
            self.details.setdefault("required_scopes", self.required_scopes)


class TierRequired(HubSpotError):
    """403 on a tier-gated API: the portal needs a HubSpot tier or add-on (named)."""

    code = "hubspot_tier_required"
    http_status = 403

    def __init__(self, message: str, *, required_tier: str | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.required_tier = required_tier
        if required_tier:
            self.details.setdefault("required_tier", required_tier)


class NotFound(HubSpotError, CRMNotFound):
    code = "not_found"
    http_status = 404


class MirrorNotReady(HubSpotError):
    """409: the caller asked for the mirror (`source=mirror`) of an object type whose first
    sync has not finished; `source=live` or `auto` answers from HubSpot meanwhile."""

    code = "mirror_not_ready"
    http_status = 409


class EnvironmentMismatch(HubSpotError):
    """409: the connection addressed was made under the other HUBSPOT_ENVIRONMENT (another
    HubSpot app); it is not used until the host runs there again or the user reconnects here.
    `details`: `connection_environment`, `host_environment`, `portal_id`."""

    code = "environment_mismatch"
    http_status = 409


class Conflict(HubSpotError, CRMConflict):
    """409, e.g. a contact with that email exists; `existing_id` parsed when HubSpot gives it."""

    code = "conflict"
    http_status = 409

    def __init__(self, message: str, *, existing_id: str | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.existing_id = existing_id
        if existing_id:
            self.details.setdefault("existing_id", existing_id)


class NotSupportedByHubSpot(HubSpotError):
    """501: HubSpot's public API offers no way to do this (e.g. unenrolling a contact from a
    sequence); the message says what to do instead. Nothing was sent to HubSpot."""

    code = "not_supported_by_hubspot"
    http_status = 501


class RateLimited(HubSpotError):
    """HubSpot's limit was hit and waiting in-line is not sensible (DAILY) or not allowed."""

    code = "rate_limited"
    http_status = 429

    def __init__(
        self,
        message: str,
        *,
        policy: str | None = None,
        retry_after_s: float | None = None,
        **kw: Any,
    ):
        super().__init__(message, **kw)
        self.policy = policy
        self.retry_after_s = retry_after_s
        if policy:
            self.details.setdefault("policy", policy)
        if retry_after_s is not None:
            self.details.setdefault("retry_after_s", round(retry_after_s, 3))


class Unavailable(HubSpotError):
    """HubSpot did not answer usefully (5xx, timeout, connection error) after retries."""

    code = "hubspot_unavailable"
    http_status = 503


class OutcomeUnknown(HubSpotError):
    """A non-repeatable call (a create, a send) may have reached HubSpot but no answer came.
    It was not re-sent, to avoid a duplicate: check in HubSpot (or upsert) before retrying."""

    code = "outcome_unknown"
    http_status = 504


class StorageError(HubSpotError):
    """Local storage failed (database unreachable, key cannot decrypt, not migrated)."""

    code = "storage_unavailable"
    http_status = 503


class DecryptionFailed(StorageError):
    """A stored token cannot be decrypted with the configured keys (nothing overwritten)."""

    code = "token_undecryptable"
    http_status = 503
