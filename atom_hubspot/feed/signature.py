"""HubSpot's webhook request signatures, checked on the raw bytes as they arrived.

v3 (the one to trust): base64(HMAC-SHA256(client secret, method + URI + raw body + timestamp)),
with `X-HubSpot-Request-Timestamp` in epoch milliseconds; deliveries older than five minutes are
refused so a captured request cannot be replayed later.
https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation

v1 (older, still sent next to v3): hex(SHA-256(client secret + raw body)), no timestamp and no
URI, so it cannot bound replay; accepted only where a setting allows it.
https://developers.hubspot.com/docs/faq/v1-request-validation

Mistakes other implementations made and this one avoids: hashing a re-serialised body instead
of the raw one, parsing the timestamp as a float, a window of 3000 s, and `==` on digests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum

MAX_AGE_MS = 5 * 60 * 1000
# HubSpot's clock and ours may differ a little; a timestamp further in the future is forged.
MAX_FUTURE_SKEW_MS = 60 * 1000

# HubSpot decodes these percent-escapes in the request URI before signing (the table on the
# request-validation page); anything else stays as HubSpot sent it.
_URI_DECODES = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_URI_ESCAPE = re.compile("|".join(_URI_DECODES), re.IGNORECASE)
_DIGITS = re.compile(r"[0-9]{1,16}")


class Rejection(StrEnum):
    """Why a delivery was refused; logged and counted, never echoed with secrets."""

    MISSING = "signature_missing"
    BAD_TIMESTAMP = "timestamp_malformed"
    STALE = "timestamp_stale"
    FUTURE = "timestamp_in_future"
    MISMATCH = "signature_mismatch"
    V1_NOT_ALLOWED = "v1_not_allowed"


class SignatureRejected(Exception):
    def __init__(self, reason: Rejection) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class Verified:
    """A delivery whose signature held: which scheme, and the digest to detect replays."""

    version: str
    timestamp_ms: int | None
    digest: str


def canonical_uri(uri: str) -> str:
    """The URI as HubSpot signs it: the listed percent-escapes decoded, the rest untouched."""
    return _URI_ESCAPE.sub(lambda m: _URI_DECODES[m.group(0).upper()], uri)


def sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp_ms: int | str) -> str:
    message = (
        method.upper().encode() + canonical_uri(uri).encode() + body + str(timestamp_ms).encode()
    )
    mac = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def sign_v1(secret: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + body).hexdigest()


def verify(
    *,
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    headers: dict[str, str],
    now_ms: int,
    allow_v1: bool = False,
) -> Verified:
    """Check a delivery; raise SignatureRejected saying why it fails. `headers` has lower-case
    names. v3 is checked whenever its headers are present, and then nothing else counts."""
    v3 = headers.get("x-hubspot-signature-v3")
    ts_raw = headers.get("x-hubspot-request-timestamp")
    if v3 is not None or ts_raw is not None:
        if not v3 or not ts_raw:
            raise SignatureRejected(Rejection.MISSING)
        if not _DIGITS.fullmatch(ts_raw):
            raise SignatureRejected(Rejection.BAD_TIMESTAMP)
        ts = int(ts_raw)
        if now_ms - ts > MAX_AGE_MS:
            raise SignatureRejected(Rejection.STALE)
        if ts - now_ms > MAX_FUTURE_SKEW_MS:
            raise SignatureRejected(Rejection.FUTURE)
        expected = sign_v3(secret, method, uri, body, ts_raw)
        if not hmac.compare_digest(expected.encode(), v3.strip().encode()):
            raise SignatureRejected(Rejection.MISMATCH)
        return Verified("v3", ts, hashlib.sha256(expected.encode()).hexdigest())
    v1 = headers.get("x-hubspot-signature")
    if not v1:
        raise SignatureRejected(Rejection.MISSING)
    if not allow_v1 or headers.get("x-hubspot-signature-version", "v1").lower() != "v1":
        raise SignatureRejected(Rejection.V1_NOT_ALLOWED)
    expected = sign_v1(secret, body)
    if not hmac.compare_digest(expected.encode(), v1.strip().lower().encode()):
        raise SignatureRejected(Rejection.MISMATCH)
    return Verified("v1", None, hashlib.sha256(expected.encode()).hexdigest())
