"""AES-256-GCM token encryption: round trip, fresh nonces, AAD binding, key ring, demo key."""

from __future__ import annotations

import os
import stat

import pytest

from atom_hubspot.errors import DecryptionFailed
from atom_hubspot.settings import parse_encryption_keys
from atom_hubspot.storage.crypto import (
    TokenCipher,
    ensure_demo_key,
    new_key_spec,
    token_aad,
)

AAD = token_aad("t1", "conn-1", 42, "access_token")


def test_round_trip_and_fresh_nonce():
    cipher = TokenCipher.from_spec(new_key_spec("k1"))
    a = cipher.encrypt("secret-token", AAD)
    b = cipher.encrypt("secret-token", AAD)
    assert a != b  # a fresh nonce every time
    assert "secret-token" not in a
    assert a.startswith("v1.k1.")
    assert cipher.decrypt(a, AAD) == cipher.decrypt(b, AAD) == "secret-token"


@pytest.mark.parametrize(
    "other",
    [
        token_aad("t2", "conn-1", 42, "access_token"),  # another tenant
        token_aad("t1", "conn-2", 42, "access_token"),  # another row
        token_aad("t1", "conn-1", 43, "access_token"),  # another portal
        token_aad("t1", "conn-1", 42, "refresh_token"),  # another column
    ],
)
def test_aad_swap_fails(other):
    cipher = TokenCipher.from_spec(new_key_spec("k1"))
    stored = cipher.encrypt("secret-token", AAD)
    with pytest.raises(DecryptionFailed):
        cipher.decrypt(stored, other)


def test_tampered_value_fails():
    cipher = TokenCipher.from_spec(new_key_spec("k1"))
    stored = cipher.encrypt("secret-token", AAD)
    body = stored.rsplit(".", 1)[1]
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(DecryptionFailed):
        cipher.decrypt(stored.rsplit(".", 1)[0] + "." + flipped, AAD)


def test_key_ring_first_encrypts_all_decrypt():
    old, new = new_key_spec("old"), new_key_spec("new")
    before = TokenCipher.from_spec(old).encrypt("v", AAD)
    ring = TokenCipher.from_spec(f"{new},{old}")
    assert ring.primary_key_id == "new"
    assert ring.decrypt(before, AAD) == "v"
    assert ring.encrypt("v", AAD).startswith("v1.new.")
    rotated = ring.reencrypt(before, AAD)
    assert TokenCipher.from_spec(new).decrypt(rotated, AAD) == "v"


def test_unknown_key_is_a_clear_error():
    stored = TokenCipher.from_spec(new_key_spec("gone")).encrypt("v", AAD)
    with pytest.raises(DecryptionFailed) as ei:
        TokenCipher.from_spec(new_key_spec("k1")).decrypt(stored, AAD)
    assert "gone" in ei.value.message and "ATOM_HUBSPOT_ENCRYPTION_KEYS" in ei.value.message
    assert ei.value.code == "token_undecryptable"


def test_same_id_wrong_key_fails():
    stored = TokenCipher.from_spec(new_key_spec("k1")).encrypt("v", AAD)
    with pytest.raises(DecryptionFailed):
        TokenCipher.from_spec(new_key_spec("k1")).decrypt(stored, AAD)


def test_demo_key_file_is_private_and_stable(tmp_path, caplog):
    spec = ensure_demo_key(tmp_path / "data")
    path = tmp_path / "data" / "hubspot-encryption.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert parse_encryption_keys(spec)[0][0] == "demo"
    assert "created a local token encryption key" in caplog.text
    assert spec.split(":", 1)[1] not in caplog.text
    assert ensure_demo_key(tmp_path / "data") == spec


def test_generated_keys_parse():
    kid, key = parse_encryption_keys(new_key_spec())[0]
    assert len(key) == 32 and kid
