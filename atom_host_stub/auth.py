"""Caller authentication: `Authorization: Bearer <key>`, or a browser session signed in with
such a key (sessions.py) → Principal (tenant, user). Plugins get the same Principal either way.

The FastAPI dependencies are built on demand, so this module imports without the web framework.
A missing or wrong key is answered 401 by the dependency itself — before any plugin code that
depends on it runs; a cross-site request riding on a session cookie is answered 403 there too.
"""

# No `from __future__ import annotations` here: FastAPI resolves the dependencies' annotations
# at run time, and `Request` is imported inside `dependencies()` to keep fastapi optional.
import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Any

from atom_host_stub.contract import Principal
from atom_host_stub.sessions import COOKIE_NAME, SessionAuthority, cross_site_refusal


class Unauthorized(Exception):
    """No key, or a key the host does not know; the app answers 401 with the envelope."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CrossSiteRefused(Exception):
    """A state-changing request authenticated by a session cookie came from another site."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def key_digest(api_key: str) -> bytes:
    """SHA-256 of a key: what keys are looked up by, so a lookup costs the same for 1 or 10,000
    keys and timing says nothing about any stored key (the caller cannot steer a digest)."""
    return hashlib.sha256(api_key.encode()).digest()


class ApiKeyAuthenticator:
    """Looks API keys up by digest and compares digests in constant time, so neither the number
    of keys nor response timing tells anything about them."""

    def __init__(
        self,
        keys: Mapping[str, Principal],
        sessions: SessionAuthority | None = None,
        *,
        public_host: str | None = None,
    ) -> None:
        self._by_digest = {key_digest(key): (key_digest(key), p) for key, p in keys.items()}
        self.sessions = sessions
        self.public_host = public_host

    def principal_for_key(self, api_key: str) -> Principal | None:
        offered = key_digest(api_key.strip())
        entry = self._by_digest.get(offered)
        # The dict found it by hash and equality; compare again in constant time all the same,
        # so the check does not rest on how a dict compares bytes.
        if entry is None or not hmac.compare_digest(entry[0], offered):
            return None
        return entry[1]

    def session_principal(self, method: str, headers: Mapping[str, str], cookie: str) -> Principal:
        """The principal of a session cookie; 401 when it is not a live session, 403 when the
        request changes state and came from another site."""
        principal = self.sessions.principal_for(cookie) if self.sessions else None
        if principal is None:
            raise Unauthorized(
                "Your browser session has ended: sign in again at /sign-in, or send your API "
                "key as `Authorization: Bearer <key>`."
            )
        refusal = cross_site_refusal(method, headers, self.own_hosts(headers))
        if refusal:
            raise CrossSiteRefused(f"Refused: {refusal}.")
        return principal

    def own_hosts(self, headers: Mapping[str, str]) -> frozenset[str]:
        """The hosts a same-site request names in `Origin`: this request's, and the public one."""
        hosts = {headers.get("host", "").lower(), (self.public_host or "").lower()}
        return frozenset(hosts - {""})

    def principal_for(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthorized("Send your API key as `Authorization: Bearer <key>`.")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Use the Bearer scheme: `Authorization: Bearer <key>`.")
        found = self.principal_for_key(token)
        if found is None:
            raise Unauthorized("The API key is not valid.")
        return found

    def dependencies(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        """(required, optional) FastAPI dependencies yielding the Principal (optional: or None)."""
        from fastapi import Request

        async def require_principal(request: Request) -> Principal:
            authorization = request.headers.get("authorization")
            cookie = request.cookies.get(COOKIE_NAME)
            if authorization or not cookie:
                return self.principal_for(authorization)
            return self.session_principal(request.method, request.headers, cookie)

        async def optional_principal(request: Request) -> Principal | None:
            # No key and no session is fine (a browser redirect may carry neither); a wrong key
            # is still a 401. An ended session counts as none: the route says what to do.
            authorization = request.headers.get("authorization")
            if authorization:
                return self.principal_for(authorization)
            cookie = request.cookies.get(COOKIE_NAME)
            if not cookie:
                return None
            try:
                return self.session_principal(request.method, request.headers, cookie)
            except Unauthorized:
                return None

        return require_principal, optional_principal
