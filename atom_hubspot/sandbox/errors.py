"""HubSpot-shaped error answers raised anywhere inside the sandbox."""

from __future__ import annotations

from typing import Any

import httpx


class ApiError(Exception):
    """Becomes `{status:"error", message, correlationId, category, errors[]...}` with `status`."""

    def __init__(
        self,
        http_status: int,
        message: str,
        category: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        sub_category: str | None = None,
        context: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.message = message
        self.category = category
        self.errors = errors
        self.sub_category = sub_category
        self.context = context
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self, correlation_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": correlation_id,
            "category": self.category,
        }
        if self.sub_category:
            out["subCategory"] = self.sub_category
        if self.errors is not None:
            out["errors"] = self.errors
        if self.context is not None:
            out["context"] = self.context
        out.update(self.extra)
        return out


class OAuthError(Exception):
    """RFC 6749 error of the token endpoints: `{error, error_description, status, message}`."""

    def __init__(self, error: str, status: str, description: str, http_status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.status = status
        self.description = description
        self.http_status = http_status

    def body(self, correlation_id: str) -> dict[str, Any]:
        return {
            "error": self.error,
            "error_description": self.description,
            "status": self.status,
            "message": self.description,
            "correlationId": correlation_id,
        }


def not_found(message: str = "Resource not found") -> ApiError:
    return ApiError(404, message, "OBJECT_NOT_FOUND")


def validation(message: str, errors: list[dict[str, Any]] | None = None) -> ApiError:
    return ApiError(400, message, "VALIDATION_ERROR", errors=errors or [{"message": message}])


# In-process faults surface as the very httpx errors a real network produces, so the client's
# error handling is exercised unchanged (httpx.ASGITransport lets app exceptions through).
class SimulatedReset(httpx.ReadError):
    """The connection was reset before an answer arrived."""


class SimulatedTimeout(httpx.ReadTimeout):
    """No answer arrived in time."""
