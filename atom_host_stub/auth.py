"""Caller authentication: `Authorization: Bearer <key>` → Principal (tenant, user).

The FastAPI dependencies are built on demand, so this module imports without the web framework.
A missing or wrong key is answered 401 by the dependency itself — before any plugin code that
depends on it runs.
"""

# No `from __future__ import annotations` here: FastAPI resolves the dependencies' annotations
# at run time, and `Request` is imported inside `dependencies()` to keep fastapi optional.
import hmac
from collections.abc import Callable, Mapping
from typing import Any

from atom_host_stub.contract import Principal


class Unauthorized(Exception):
    """No key, or a key the host does not know; the app answers 401 with the envelope."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ApiKeyAuthenticator:
    """Looks API keys up in constant time, so response timing leaks nothing about them."""

    def __init__(self, keys: Mapping[str, Principal]) -> None:
        self._keys = [(key.encode(), principal) for key, principal in keys.items()]

    def principal_for(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthorized("Send your API key as `Authorization: Bearer <key>`.")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Use the Bearer scheme: `Authorization: Bearer <key>`.")
        offered = token.strip().encode()
        found: Principal | None = None
        for key, principal in self._keys:
            # Compare against every key, no early exit.
            if hmac.compare_digest(key, offered):
                found = principal
        if found is None:
            raise Unauthorized("The API key is not valid.")
        return found

    def dependencies(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        """(required, optional) FastAPI dependencies yielding the Principal (optional: or None)."""
        from fastapi import Request

        async def require_principal(request: Request) -> Principal:
            return self.principal_for(request.headers.get("authorization"))

        async def optional_principal(request: Request) -> Principal | None:
            # No key is fine (a browser redirect carries none); a wrong key is still a 401.
            authorization = request.headers.get("authorization")
            return self.principal_for(authorization) if authorization else None

        return require_principal, optional_principal
