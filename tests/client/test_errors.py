"""HubSpot error bodies → the plugin's error hierarchy; and no token anywhere."""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest

from atom_hubspot.client import OAuthAPI
from atom_hubspot.errors import (
    Conflict,
    HubSpotError,
    MissingScopes,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    ReconnectRequired,
    TierRequired,
    Unavailable,
    ValidationFailed,
)
from tests.client.fakes import TOKEN, error, make


async def fail(response: httpx.Response, call=lambda c: c.contacts.get(1), **env) -> HubSpotError:
    client, _, _rec, _ = make(lambda r: response, **env)
    with pytest.raises(HubSpotError) as info:
        await call(client)
    return info.value


async def test_401_needs_reconnect() -> None:
    err = await fail(error(401, category="INVALID_AUTHENTICATION", message="expired"))
    assert isinstance(err, ReconnectRequired)
    assert err.status == 401 and err.correlation_id == "corr-123"
    assert err.category == "INVALID_AUTHENTICATION"


async def test_403_missing_scopes_named_from_context() -> None:
    err = await fail(
        error(
            403,
            category="MISSING_SCOPES",
            message="This app hasn't been granted all required scopes to make this call.",
            errors=[
                {
                    "message": "missing",
                    "context": {"requiredGranularScopes": ["crm.objects.contacts.write"]},
                }
            ],
        )
    )
    assert isinstance(err, MissingScopes)
    assert err.required_scopes == ["crm.objects.contacts.write"]
    assert "crm.objects.contacts.write" in err.message
    assert err.to_dict()["details"]["required_scopes"] == ["crm.objects.contacts.write"]


async def test_403_missing_scopes_named_from_the_message() -> None:
    err = await fail(
        error(
            403,
            category="MISSING_SCOPES",
            message="requiredGranularScopes: [crm.lists.read, crm.lists.write]",
        )
    )
    assert isinstance(err, MissingScopes)
    assert err.required_scopes == ["crm.lists.read", "crm.lists.write"]


@pytest.mark.parametrize(
    ("call", "tier"),
    [
        (lambda c: c.campaigns.list(), "Marketing Hub Professional"),
        (lambda c: c.campaigns.create("x"), "Marketing Hub Professional"),
        (lambda c: c.sends.single_send(1, "a@b.c"), "Marketing Hub Enterprise"),
        (lambda c: c.sends.transactional(1, "a@b.c"), "the transactional email add-on"),
    ],
)
async def test_403_on_tier_gated_apis_names_the_tier(call, tier: str) -> None:
    err = await fail(error(403, category="FORBIDDEN", message="not allowed"), call)
    assert isinstance(err, TierRequired)
    assert err.required_tier == tier and tier in err.message
    assert err.correlation_id == "corr-123"


async def test_403_missing_scopes_on_a_tier_gated_api_says_both() -> None:
    err = await fail(
        error(
            403,
            category="MISSING_SCOPES",
            message="missing scopes",
            errors=[{"context": {"requiredGranularScopes": ["marketing-email"]}}],
        ),
        lambda c: c.sends.single_send(1, "a@b.c"),
    )
    assert isinstance(err, MissingScopes) and err.required_scopes == ["marketing-email"]
    assert "Marketing Hub Enterprise" in err.message
    assert err.to_dict()["details"]["required_tier"] == "Marketing Hub Enterprise"


async def test_plain_403_elsewhere_is_not_a_tier_error() -> None:
    err = await fail(error(403, category="FORBIDDEN", message="portal locked"))
    assert type(err) is HubSpotError and err.http_status == 403


async def test_404_not_found() -> None:
    err = await fail(error(404, category="OBJECT_NOT_FOUND", message="Object not found"))
    assert isinstance(err, NotFound) and err.status == 404


async def test_409_conflict_keeps_the_existing_id() -> None:
    err = await fail(
        error(409, category="CONFLICT", message="Contact already exists. Existing ID: 12345"),
        lambda c: c.contacts.create({"email": "a@b.c"}),
    )
    assert isinstance(err, Conflict)
    assert err.existing_id == "12345"
    assert err.to_dict()["details"]["existing_id"] == "12345"


async def test_400_validation_keeps_hubspot_errors() -> None:
    errors = [
        {
            "message": 'Property "foo" does not exist',
            "code": "PROPERTY_DOESNT_EXIST",
            "context": {"propertyName": ["foo"]},
        }
    ]
    err = await fail(
        error(
            400,
            category="VALIDATION_ERROR",
            message="Property values were not valid",
            errors=errors,
        ),
        lambda c: c.contacts.update(1, {"foo": "x"}),
    )
    assert isinstance(err, ValidationFailed)
    assert err.errors == errors
    assert err.to_dict()["errors"] == errors and err.to_dict()["correlation_id"] == "corr-123"


async def test_429_maps_to_rate_limited_with_policy() -> None:
    err = await fail(
        httpx.Response(
            429,
            headers={"Retry-After": "7"},
            json={
                "status": "error",
                "policyName": "DAILY",
                "correlationId": "c1",
                "errorType": "RATE_LIMIT",
                "message": "daily",
            },
        ),
    )
    assert isinstance(err, RateLimited)
    assert err.policy == "DAILY" and err.retry_after_s == 7
    assert err.correlation_id == "c1"


async def test_5xx_and_timeouts_are_unavailable() -> None:
    err = await fail(error(503), HUBSPOT_RETRY_MAX_ATTEMPTS=1)
    assert isinstance(err, Unavailable)
    client, _, rec, _ = make(HUBSPOT_RETRY_MAX_ATTEMPTS=2)
    rec.then(httpx.ReadTimeout("slow"), httpx.ReadTimeout("slow"))
    with pytest.raises(Unavailable):
        await client.contacts.get(1)


async def test_correlation_id_from_the_header_when_the_body_has_none() -> None:
    err = await fail(
        httpx.Response(404, headers={"X-HubSpot-Correlation-Id": "hdr-1"}, text="nope")
    )
    assert isinstance(err, NotFound) and err.correlation_id == "hdr-1"


async def test_non_json_error_body() -> None:
    err = await fail(httpx.Response(400, text="<html>bad</html>"))
    assert isinstance(err, ValidationFailed) and "400" in err.message


async def test_invalid_grant_on_refresh_needs_reconnect() -> None:
    _client, http, rec, _ = make(
        lambda r: httpx.Response(
            400,
            json={
                "status": "BAD_REFRESH_TOKEN",
                "message": "missing or invalid refresh token",
                "correlationId": "c-oauth",
                "error": "invalid_grant",
                "error_description": "missing or invalid refresh token",
            },
        )
    )
    oauth = OAuthAPI(http, "cid", "csecret-value")
    with pytest.raises(ReconnectRequired) as info:
        await oauth.refresh("refresh-token-value")
    assert info.value.correlation_id == "c-oauth"
    assert len(rec.requests) == 1


# --------------------------------------------------------------------------- no token


def _texts(exc: BaseException) -> list[str]:
    out = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    if isinstance(exc, HubSpotError):
        out.append(repr(exc.to_dict()))
    return out


LEAKY_BODY = {
    "status": "error",
    "message": f"Token {TOKEN} is not valid",
    "correlationId": "c",
    "errors": [{"message": f"bearer {TOKEN}"}],
}


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(401, json=LEAKY_BODY),
        httpx.Response(400, json=LEAKY_BODY),
        httpx.Response(403, json=LEAKY_BODY),
        httpx.Response(409, json=LEAKY_BODY),
        httpx.Response(503, json=LEAKY_BODY),
        httpx.ReadTimeout(f"timed out for Bearer {TOKEN}"),
        httpx.ConnectError(f"refused Bearer {TOKEN}"),
    ],
)
async def test_no_token_in_logs_or_errors(failure, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    def always(request: httpx.Request) -> httpx.Response:
        if isinstance(failure, Exception):
            raise failure
        return failure

    client, _, rec, _ = make(always, HUBSPOT_RETRY_MAX_ATTEMPTS=2)
    for call in (
        lambda: client.contacts.get("ann@example.com", id_property="email"),
        lambda: client.contacts.create({"email": "ann@example.com"}),
    ):
        with pytest.raises(HubSpotError) as info:
            await call()
        for text in _texts(info.value):
            assert TOKEN not in text
    assert rec.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"  # it was used
    # Every log record of every library (httpx logs request URLs at INFO by itself).
    logged = [r.getMessage() for r in caplog.records] + [repr(r.args) for r in caplog.records]
    assert any("/{objectType}/{objectId}" in m for m in logged)  # there were log lines
    for line in logged:
        assert TOKEN not in line
        assert "ann@example.com" not in line  # no personal data in the path either


async def test_oauth_secrets_never_surface(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret, refresh, code = "csecret-XYZ-123", "rt-SECRET-456", "code-SECRET-789"
    body = {
        "status": "error",
        "error": "invalid_client",
        "message": f"bad {secret} {refresh} {code}",
        "correlationId": "c",
    }
    for version in ("2026-03", "v3"):
        _client, http, _rec, _ = make(
            lambda r: httpx.Response(400, json=body), HUBSPOT_API_VERSION=version
        )
        oauth = OAuthAPI(http, "cid", secret)
        for name, own in (("refresh", refresh), ("exchange", code), ("revoke", refresh)):
            with pytest.raises(HubSpotError) as info:
                if name == "refresh":
                    await oauth.refresh(refresh)
                elif name == "exchange":
                    await oauth.exchange_code(code, "http://x/cb")
                else:
                    await oauth.revoke(refresh)
            for text in _texts(info.value):
                assert secret not in text and own not in text
    for record in caplog.records:
        line = record.getMessage()
        assert secret not in line and refresh not in line and code not in line


async def test_legacy_introspection_keeps_the_token_out_of_logs_and_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    _client, http, rec, _ = make(
        lambda r: httpx.Response(500, json={"message": f"failed for {TOKEN}"}),
        HUBSPOT_API_VERSION="v3",
        HUBSPOT_RETRY_MAX_ATTEMPTS=1,
    )
    oauth = OAuthAPI(http, "cid", "csecret")
    with pytest.raises(Unavailable) as info:
        await oauth.introspect(TOKEN)
    assert TOKEN in rec.requests[0].url.path  # the legacy API puts it in the path …
    for text in _texts(info.value):
        assert TOKEN not in text  # … but it surfaces nowhere
    assert caplog.records and all(TOKEN not in r.getMessage() for r in caplog.records)


async def test_outcome_unknown_does_not_chain_the_transport_error() -> None:
    client, _, rec, _ = make()
    rec.then(httpx.ReadTimeout(f"Bearer {TOKEN}"))
    with pytest.raises(OutcomeUnknown) as info:
        await client.contacts.create({"email": "a@b.c"})
    assert info.value.__cause__ is None and info.value.__suppress_context__
