"""Browser sessions: sign in once with an API key, then a cookie stands for the same Principal.

Design (simple, and correct with several worker processes sharing a data directory):
- The cookie holds a signed, expiring token: `base64url(payload).base64url(HMAC-SHA256)`,
  keyed by the server secret (`ATOM_SESSION_SECRET`, or a random one kept 0600 in the data
  directory, which every worker process on the machine reads). The payload names a random
  session id, the expiry, and a keyed fingerprint of the API key that signed in — never the
  key, the tenant or the user. The principal is looked up from the configured keys on each
  request, so removing a key from ATOM_API_KEYS ends its sessions too.
- Sign-out writes a revocation record (one empty file per session id, in
  `$ATOM_DATA_DIR/revoked-sessions/`) that every process checks; records are dropped once the
  session they revoke would have expired anyway.
- Requests that change state and are authenticated by the cookie must come from the host's
  own pages: `Sec-Fetch-Site` must be `same-origin` or `none`; where a browser sends no
  `Sec-Fetch-Site`, an `Origin` header must name this host (Go 1.25's CrossOriginProtection,
  which datasette adopted). Bearer-key requests are not affected: a browser never adds them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from atom_host_stub.config import ensure_private_dir
from atom_host_stub.contract import Principal

COOKIE_NAME = "atom_session"
DEFAULT_MAX_AGE_S = 8 * 3600
SECRET_FILE = "session-secret"  # noqa: S105 - a file name
REVOKED_DIR = "revoked-sessions"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_SID = re.compile(r"^[A-Za-z0-9_-]{22}$")
_TOKEN_VERSION = b"atom-session-v1."


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_or_create_secret(data_dir: Path, configured: str | None) -> bytes:
    """The configured secret, or the data directory's own (created once, 0600, race-free:
    the first process to create the file wins and every other reads it)."""
    if configured:
        return configured.encode()
    ensure_private_dir(data_dir)
    path = data_dir / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process is between create and write
            value = path.read_bytes().strip()
            if value:
                return value
            time.sleep(0.01)
        raise RuntimeError(f"{path} is empty: delete it and start again") from None
    value = _b64(secrets.token_bytes(32)).encode()
    with os.fdopen(fd, "wb") as f:
        f.write(value + b"\n")
    return value


class RevocationRecords:
    """Signed-out session ids, as files every process on the machine can see."""

    def __init__(self, folder: Path, clock: Callable[[], float] = time.time) -> None:
        self.folder = folder
        self.clock = clock

    def revoke(self, sid: str, expires_at: int) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.folder / sid
        path.touch(mode=0o600)
        os.utime(path, (expires_at, expires_at))  # mtime = when the record may go
        self._purge()

    def is_revoked(self, sid: str) -> bool:
        return (self.folder / sid).exists()

    def _purge(self) -> None:
        now = self.clock()
        for entry in os.scandir(self.folder):
            try:
                if entry.stat().st_mtime < now:
                    os.unlink(entry.path)
            except FileNotFoundError:  # another process purged it first
                continue


@dataclass(frozen=True)
class IssuedSession:
    token: str
    principal: Principal
    expires_at: int
    max_age_s: int


class SessionAuthority:
    """Issues, reads and revokes session tokens for the configured API keys."""

    def __init__(
        self,
        secret: bytes,
        keys: Mapping[str, Principal],
        revocations: RevocationRecords,
        *,
        max_age_s: int = DEFAULT_MAX_AGE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self._by_fingerprint = {self._fingerprint(k): p for k, p in keys.items()}
        self.revocations = revocations
        self.max_age_s = max_age_s
        self.clock = clock

    def _fingerprint(self, api_key: str) -> str:
        return hmac.new(self._secret, b"api-key." + api_key.encode(), hashlib.sha256).hexdigest()

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, _TOKEN_VERSION + payload.encode(), "sha256").digest())

    def issue(self, api_key: str, principal: Principal) -> IssuedSession:
        """A new session for a key the caller has already proved (ApiKeyAuthenticator)."""
        expires_at = int(self.clock()) + self.max_age_s
        body = {
            "sid": secrets.token_urlsafe(16),
            "exp": expires_at,
            "kf": self._fingerprint(api_key),
        }
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return IssuedSession(
            f"{payload}.{self._mac(payload)}", principal, expires_at, self.max_age_s
        )

    def _claims(self, token: str) -> dict[str, object] | None:
        payload, dot, mac = token.partition(".")
        if not dot or len(token) > 512 or not hmac.compare_digest(self._mac(payload), mac):
            return None
        try:
            claims = json.loads(_unb64(payload))
        except ValueError:
            return None
        if not isinstance(claims, dict):
            return None
        sid, exp = claims.get("sid"), claims.get("exp")
        if not isinstance(sid, str) or not _SID.match(sid) or not isinstance(exp, int):
            return None
        if exp <= self.clock():
            return None
        return claims

    def principal_for(self, token: str) -> Principal | None:
        """The principal of a valid, unexpired, not signed-out session whose key is still
        configured; None otherwise."""
        claims = self._claims(token)
        if claims is None:
            return None
        principal = self._by_fingerprint.get(str(claims.get("kf")))
        if principal is None or self.revocations.is_revoked(str(claims["sid"])):
            return None
        return principal

    def revoke(self, token: str) -> bool:
        """End a session for every process; False when the token was not a live session."""
        claims = self._claims(token)
        if claims is None:
            return False
        sid, exp = str(claims["sid"]), claims["exp"]
        assert isinstance(exp, int)
        self.revocations.revoke(sid, exp)
        return True


def cross_site_refusal(
    method: str, headers: Mapping[str, str], own_hosts: frozenset[str]
) -> str | None:
    """Why a cookie-authenticated request must be refused as cross-site, or None to allow it.

    https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Sec-Fetch-Site
    """
    if method.upper() in SAFE_METHODS:
        return None
    site = headers.get("sec-fetch-site")
    if site is not None:
        if site in ("same-origin", "none"):
            return None
        return f"a {site} request cannot use this browser session to change anything"
    origin = headers.get("origin")
    if origin is None:
        return None  # not a browser, or one too old to say: SameSite=Lax still holds
    # Hosts, not whole origins: behind a TLS proxy the app may see http while the browser says
    # https; Go's check compares the Origin's host with Host the same way.
    if urlsplit(origin).netloc.lower() in own_hosts:
        return None
    return "a request from another site cannot use this browser session to change anything"
