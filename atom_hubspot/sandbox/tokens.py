"""What the sandbox's bearer and refresh tokens stand for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TokenGrant:
    """What a bearer or refresh token stands for."""

    portal_id: int
    scopes: list[str]
    user_id: int
    user: str
    kind: str  # "oauth" | "private_app"
    expires_at: float | None = None  # access tokens only
    refresh_token: str | None = None
    revoked: bool = False
