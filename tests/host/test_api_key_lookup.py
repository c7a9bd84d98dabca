"""API keys are looked up by digest: the right principal for each key among many, nothing for a
wrong, truncated, extended or differently cased key, and no key kept in memory as given."""

from __future__ import annotations

import pytest

from atom_host_stub.auth import ApiKeyAuthenticator, Unauthorized, key_digest
from atom_host_stub.contract import Principal


def _keys(n: int) -> dict[str, Principal]:
    return {f"key-{i:05d}-secret": Principal(tenant_id=f"t{i}", user_id=f"u{i}") for i in range(n)}


def test_each_of_many_keys_finds_its_principal() -> None:
    keys = _keys(5000)
    auth = ApiKeyAuthenticator(keys)
    for key in ("key-00000-secret", "key-02500-secret", "key-04999-secret"):
        assert auth.principal_for(f"Bearer {key}") == keys[key]
        assert auth.principal_for(f"bearer   {key}  ") == keys[key]


@pytest.mark.parametrize(
    "offered",
    ["key-00001-secre", "key-00001-secretX", "KEY-00001-SECRET", "", " ", "key-00001"],
)
def test_near_misses_are_refused(offered: str) -> None:
    auth = ApiKeyAuthenticator(_keys(3))
    assert auth.principal_for_key(offered) is None
    with pytest.raises(Unauthorized):
        auth.principal_for(f"Bearer {offered}")


def test_keys_are_held_as_digests_only() -> None:
    auth = ApiKeyAuthenticator(_keys(2))
    held = repr(vars(auth))
    assert "key-00000-secret" not in held
    assert key_digest("key-00000-secret") in auth._by_digest
