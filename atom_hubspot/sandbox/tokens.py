"""What the sandbox's bearer and refresh tokens stand for."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass


def random_uuid() -> uuid.UUID:
    """A version-4 UUID from `secrets` (the CSPRNG), never from a seeded generator: in demo
    mode the sandbox's codes and tokens guard a host on a network."""
    return uuid.UUID(bytes=secrets.token_bytes(16), version=4)


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
