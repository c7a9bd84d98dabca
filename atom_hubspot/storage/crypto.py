"""Encryption of stored tokens: AES-256-GCM, a fresh nonce per value, the key id kept with it.

A stored value is `v1.<key id>.<base64url(nonce || ciphertext+tag)>`. The associated data
binds the value to where it lives (tenant, row, portal, column), so a ciphertext copied into
another row or column fails to decrypt instead of handing one user's token to another.
The first key of the ring encrypts; every key decrypts (key rotation).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from atom_hubspot.errors import DecryptionFailed, StorageError
from atom_hubspot.settings import HubSpotSettings, parse_encryption_keys

log = logging.getLogger("atom_hubspot.storage")

_VERSION = "v1"
_NONCE_BYTES = 12  # 96-bit nonces, the size GCM is specified for
DEMO_KEY_FILE = "hubspot-encryption.key"


def b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_key_spec(key_id: str | None = None) -> str:
    """A new `key_id:base64key` entry for ATOM_HUBSPOT_ENCRYPTION_KEYS (32 random bytes)."""
    kid = key_id or f"k{secrets.token_hex(3)}"
    if not kid or any(c in kid for c in ":,. "):
        raise ValueError("a key id may not contain ':', ',', '.' or spaces")
    return f"{kid}:{b64e(secrets.token_bytes(32))}"


def token_aad(tenant_id: str, owner_id: str, portal_id: int | None, column: str) -> bytes:
    """Associated data of one stored value: where it lives. Never secret, never stored."""
    return f"atom-hubspot|{tenant_id}|{owner_id}|{portal_id or 0}|{column}".encode()


class TokenCipher:
    """AES-256-GCM over a key ring; the first key encrypts, all decrypt."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]):
        if not keys:
            raise StorageError(
                "No encryption key is configured: set ATOM_HUBSPOT_ENCRYPTION_KEYS "
                "(`atom-host hubspot generate-key` prints one)."
            )
        self._keys = {kid: AESGCM(key) for kid, key in keys}
        self.primary_key_id = keys[0][0]

    @classmethod
    def from_settings(cls, settings: HubSpotSettings) -> TokenCipher:
        try:
            return cls(settings.key_ring())
        except ValueError as exc:
            raise StorageError(
                f"ATOM_HUBSPOT_ENCRYPTION_KEYS cannot be used: {exc}. "
                "`atom-host hubspot generate-key` prints a valid key."
            ) from None

    @classmethod
    def from_spec(cls, spec: str) -> TokenCipher:
        return cls(parse_encryption_keys(spec))

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def encrypt(self, plaintext: str, aad: bytes) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        ct = self._keys[self.primary_key_id].encrypt(nonce, plaintext.encode(), aad)
        return f"{_VERSION}.{self.primary_key_id}.{b64e(nonce + ct)}"

    @staticmethod
    def key_id_of(stored: str) -> str | None:
        parts = stored.split(".", 2)
        return parts[1] if len(parts) == 3 and parts[0] == _VERSION else None

    def decrypt(self, stored: str, aad: bytes) -> str:
        """Plaintext of `stored`, or DecryptionFailed (unknown key, tampered, wrong place)."""
        parts = stored.split(".", 2)
        if len(parts) != 3 or parts[0] != _VERSION:
            raise DecryptionFailed("A stored token has an unknown format and cannot be read.")
        _, kid, body = parts
        aes = self._keys.get(kid)
        if aes is None:
            raise DecryptionFailed(
                f"A stored token was encrypted with key {kid!r}, which is not in "
                "ATOM_HUBSPOT_ENCRYPTION_KEYS. Add that key back (after the current one).",
                key_id=kid,
            )
        try:
            raw = b64d(body)
            return aes.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad).decode()
        except (InvalidTag, binascii.Error, ValueError):
            raise DecryptionFailed(
                f"A stored token does not decrypt with key {kid!r}: the key is wrong or the "
                "value was altered or moved. Nothing was overwritten.",
                key_id=kid,
            ) from None

    def reencrypt(self, stored: str, aad: bytes) -> str:
        """`stored` under the primary key (unchanged when it already is)."""
        if self.key_id_of(stored) == self.primary_key_id:
            return stored
        return self.encrypt(self.decrypt(stored, aad), aad)


def ensure_demo_key(data_dir: str | os.PathLike[str]) -> str:
    """The demo key ring spec, from `<data_dir>/hubspot-encryption.key` (created 0600 if absent).

    Only demo mode uses this; a real deployment sets ATOM_HUBSPOT_ENCRYPTION_KEYS.
    """
    path = Path(data_dir) / DEMO_KEY_FILE
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # holds keys: owner only
    if path.exists():
        spec = path.read_text().strip()
        parse_encryption_keys(spec)  # a damaged file is an error, not a silent new key
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        return spec
    spec = new_key_spec("demo")
    # O_EXCL + mode 0600: the key is never readable by others, not even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(spec + "\n")
    log.warning(
        "demo mode: created a local token encryption key at %s (mode 0600); "
        "set ATOM_HUBSPOT_ENCRYPTION_KEYS for real use",
        path,
    )
    return spec
