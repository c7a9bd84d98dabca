"""The auth seam: the client asks a provider for the bearer token of a connection."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import SecretStr


@runtime_checkable
class TokenProvider(Protocol):
    async def access_token(self) -> str:
        """A valid bearer token for the connection (refreshed ahead of expiry if needed)."""
        ...


class StaticToken:
    """A private-app or service-key token: one account, no refresh."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("empty token")
        self._token = SecretStr(token)

    async def access_token(self) -> str:
        return self._token.get_secret_value()

    def __repr__(self) -> str:
        return "StaticToken(**********)"
