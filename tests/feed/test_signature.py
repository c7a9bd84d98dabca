"""HubSpot's webhook signatures: published vectors, and every part of the signed message
matters (secret, method, URI, body, timestamp)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atom_hubspot.feed.signature import (
    MAX_AGE_MS,
    Rejection,
    SignatureRejected,
    canonical_uri,
    sign_v1,
    sign_v3,
    verify,
)

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"  # noqa: S105 - HubSpot's documented example
URI = "https://www.example.com/webhook_uri"
NOW = 1_800_000_000_000


def test_v1_vector_from_hubspots_documentation() -> None:
    # https://developers.hubspot.com/docs/faq/v1-request-validation
    body = (
        b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
        b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,'
        b'"changeSource":"CRM","changeFlag":"NEW","appId":54321}]'
    )
    assert sign_v1(SECRET, body) == (
        "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
    )


def test_v3_vector_from_hubspots_sdk_tests() -> None:
    # hubspot-api-python tests/spec/utils/test_signature.py (test_get_signature__v3)
    body = b"{'example_field':'example_value'}"
    assert sign_v3(SECRET, "POST", URI, body, 15000000) == (
        "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="
    )


def _headers(sig: str, ts: int | str) -> dict[str, str]:
    return {"x-hubspot-signature-v3": sig, "x-hubspot-request-timestamp": str(ts)}


def _check(
    body: bytes,
    headers: dict[str, str],
    *,
    uri: str = URI,
    secret: str = SECRET,
    method: str = "POST",
    now: int = NOW,
    allow_v1: bool = False,
) -> Rejection | None:
    try:
        verify(
            secret=secret,
            method=method,
            uri=uri,
            body=body,
            headers=headers,
            now_ms=now,
            allow_v1=allow_v1,
        )
    except SignatureRejected as exc:
        return exc.reason
    return None


BODY = b'[{"eventId":7,"portalId":1,"occurredAt":1,"subscriptionType":"contact.creation"}]'


def test_good_v3_passes_and_each_part_is_signed() -> None:
    ts = NOW - 1000
    sig = sign_v3(SECRET, "POST", URI, BODY, ts)
    assert _check(BODY, _headers(sig, ts)) is None
    wrong = "other-secret"
    assert _check(BODY, _headers(sig, ts), secret=wrong) is Rejection.MISMATCH
    assert _check(BODY + b" ", _headers(sig, ts)) is Rejection.MISMATCH
    assert _check(BODY, _headers(sig, ts), uri=URI + "?x=1") is Rejection.MISMATCH
    assert _check(BODY, _headers(sig, ts), method="PUT") is Rejection.MISMATCH
    assert _check(BODY, _headers(sig, ts + 1)) is Rejection.MISMATCH


def test_timestamps_outside_the_window_or_malformed_are_refused() -> None:
    stale = NOW - MAX_AGE_MS - 1
    assert _check(BODY, _headers(sign_v3(SECRET, "POST", URI, BODY, stale), stale)) is (
        Rejection.STALE
    )
    future = NOW + 10 * 60 * 1000
    assert _check(BODY, _headers(sign_v3(SECRET, "POST", URI, BODY, future), future)) is (
        Rejection.FUTURE
    )
    # A float, an exponent or a sign is not HubSpot's timestamp (HubSpot's SDK once parsed it
    # as a float); neither is an absurdly long number.
    for ts in ("1.8e12", "1800000000000.0", "-1", "+1800000000000", "9" * 40, ""):
        sig = sign_v3(SECRET, "POST", URI, BODY, ts)
        assert _check(BODY, _headers(sig, ts)) in (Rejection.BAD_TIMESTAMP, Rejection.MISSING)


def test_missing_signature_and_v1_only_deliveries() -> None:
    assert _check(BODY, {}) is Rejection.MISSING
    assert _check(BODY, {"x-hubspot-request-timestamp": str(NOW)}) is Rejection.MISSING
    v1 = {"x-hubspot-signature": sign_v1(SECRET, BODY), "x-hubspot-signature-version": "v1"}
    assert _check(BODY, v1) is Rejection.V1_NOT_ALLOWED
    assert _check(BODY, v1, allow_v1=True) is None
    assert _check(BODY + b"x", v1, allow_v1=True) is Rejection.MISMATCH
    # When v3 headers are there, a good v1 signature does not rescue a bad v3 one.
    both = {**v1, **_headers("AAAA", NOW)}
    assert _check(BODY, both, allow_v1=True) is Rejection.MISMATCH


def test_uri_is_signed_with_hubspots_listed_escapes_decoded() -> None:
    assert canonical_uri("https://h/p?a=%3A%2f%40&b=%20") == "https://h/p?a=:/@&b=%20"
    ts = NOW
    sig = sign_v3(SECRET, "POST", "https://h/p?x=a:b", BODY, ts)
    assert _check(BODY, _headers(sig, ts), uri="https://h/p?x=a%3Ab") is None


@given(
    body=st.binary(min_size=1, max_size=512),
    flip=st.integers(min_value=0, max_value=511),
    bit=st.integers(min_value=0, max_value=7),
)
def test_any_changed_bit_of_the_body_fails(body: bytes, flip: int, bit: int) -> None:
    ts = NOW
    sig = sign_v3(SECRET, "POST", URI, body, ts)
    assert _check(body, _headers(sig, ts)) is None
    i = flip % len(body)
    tampered = body[:i] + bytes([body[i] ^ (1 << bit)]) + body[i + 1 :]
    assert _check(tampered, _headers(sig, ts)) is Rejection.MISMATCH


@pytest.mark.parametrize("sig", ["", " ", "x" * 10_000, "é"])
def test_odd_signature_values_are_refused_not_crashing(sig: str) -> None:
    assert _check(BODY, _headers(sig, NOW)) in (Rejection.MISMATCH, Rejection.MISSING)
