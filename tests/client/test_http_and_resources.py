"""The shared HTTP client's setup, the call log line, request shapes of the resource APIs,
and model tolerance."""

from __future__ import annotations

import logging

import httpx
import pytest

from atom_hubspot import __version__
from atom_hubspot.client import (
    CONTACT_TO_COMPANY,
    AccountDetails,
    CrmObject,
    ListModel,
    MembershipChange,
    OAuthAPI,
    SendResult,
    TokenResponse,
    default_association_type,
    inline_association,
)
from atom_hubspot.client.wire import HttpxWire
from atom_hubspot.errors import InputError, NotFound
from tests.client.fakes import TOKEN, make, obj


async def test_one_shared_client_with_user_agent_timeouts_and_base_url() -> None:
    client, http, rec, _ = make(
        lambda r: httpx.Response(200, json=obj(1)),
        HUBSPOT_CONNECT_TIMEOUT=3,
        HUBSPOT_READ_TIMEOUT=20,
    )
    await client.contacts.get(1)
    req = rec.requests[0]
    assert req.headers["User-Agent"] == f"atom-hubspot/{__version__}"
    assert req.headers["Authorization"] == f"Bearer {TOKEN}"
    assert str(req.url).startswith("http://hubspot.test/crm/objects/2026-09/contacts/1")
    assert isinstance(http.wire, HttpxWire)  # a transport given: httpx carries it
    t = http.wire.client.timeout
    assert (t.connect, t.read) == (3, 20)
    other = type(client)(http, client.token, portal_id=7)
    await other.deals.get(2)
    assert other.http.wire is client.http.wire  # one pool per process
    await http.aclose()
    assert http.wire.client.is_closed


async def test_a_cookie_set_on_one_answer_is_not_sent_on_later_calls() -> None:
    # One client serves every tenant; a cookie from HubSpot's edge must not travel between them.
    cookie = "__cf_bm=abc123; path=/; domain=.hubspot.test; HttpOnly"
    client, http, rec, _ = make(
        lambda r: httpx.Response(200, json=obj(1), headers={"Set-Cookie": cookie})
    )
    await client.contacts.get(1)
    other = type(client)(http, client.token, portal_id=7)
    await other.contacts.get(2)
    assert len(rec.requests) == 2
    assert "cookie" not in rec.requests[1].headers
    assert isinstance(http.wire, HttpxWire) and not http.wire.client.cookies


async def test_one_debug_line_per_call_with_template_status_ms_and_correlation_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="atom_hubspot.client")
    client, *_ = make(
        lambda r: httpx.Response(
            404,
            headers={"X-HubSpot-Correlation-Id": "cid-9"},
            json={"status": "error", "message": "nope", "correlationId": "cid-9"},
        )
    )
    with pytest.raises(NotFound):
        await client.contacts.get("ann@example.com", id_property="email")
    lines = [
        r for r in caplog.records if r.name == "atom_hubspot.client" and r.levelno == logging.DEBUG
    ]
    assert len(lines) == 1
    msg = lines[0].getMessage()
    assert msg.startswith("hubspot GET /crm/objects/2026-09/{objectType}/{objectId} -> 404 in ")
    assert "ms correlationId=cid-9" in msg


async def test_httpx_request_lines_are_dropped_for_hubspot_urls(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    client, *_ = make(lambda r: httpx.Response(200, json=obj(1)))
    await client.contacts.get("ann@example.com", id_property="email")
    assert not [r for r in caplog.records if r.name == "httpx"]
    # Other hosts' httpx lines are left alone.
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(200))
    ) as other:
        await other.get("http://elsewhere.test/x")
    assert [r for r in caplog.records if r.name == "httpx"]


async def test_create_with_inline_association_payload() -> None:
    client, _, rec, _ = make(lambda r: httpx.Response(201, json=obj(5)))
    await client.contacts.create(
        {"email": "a@b.c"}, associations=[inline_association("contact", "companies", 9)]
    )
    assert rec.body() == {
        "properties": {"email": "a@b.c"},
        "associations": [
            {
                "to": {"id": "9"},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}],
            }
        ],
    }
    assert CONTACT_TO_COMPANY == 279
    assert default_association_type("deals", "companies") == 341
    assert default_association_type("0-2", "0-3") == 342
    with pytest.raises(InputError):
        default_association_type("contacts", "tickets")


async def test_company_upsert_needs_a_unique_value_property_not_domain() -> None:
    client, _, rec, _ = make(
        lambda r: httpx.Response(200, json={"status": "COMPLETE", "results": []})
    )
    with pytest.raises(InputError, match="domain is not unique"):
        await client.companies.batch_upsert(
            [("acme.example", {"name": "Acme"})], id_property="domain"
        )
    with pytest.raises(InputError, match="needs id_property"):
        await client.companies.batch_upsert([("acme.example", {"name": "Acme"})])
    assert rec.requests == []  # refused before anything was sent
    await client.companies.batch_upsert([("E-1", {"name": "Acme"})], id_property="erp_id")
    assert rec.body() == {
        "inputs": [{"id": "E-1", "idProperty": "erp_id", "properties": {"name": "Acme"}}]
    }
    await client.contacts.batch_upsert([("ann@example.com", {"firstname": "Ann"})])
    assert rec.body()["inputs"][0]["idProperty"] == "email"


async def test_list_member_changes_send_a_bare_array() -> None:
    client, _, rec, _ = make(
        lambda r: httpx.Response(
            200, json={"recordsIdsAdded": ["1", "2"], "recordIdsMissing": ["3"]}
        )
    )
    change = await client.lists.add_members(12, [1, 2, 3])
    assert rec.requests[0].method == "PUT"
    assert rec.requests[0].url.path == "/crm/lists/2026-09/12/memberships/add"
    assert rec.body() == ["1", "2", "3"]
    assert change == MembershipChange(added=["1", "2"], removed=[], missing=["3"])


async def test_dynamic_list_needs_a_filter_branch() -> None:
    client, _, rec, _ = make()
    with pytest.raises(InputError):
        await client.lists.create("x", processing_type="DYNAMIC")
    with pytest.raises(InputError):
        await client.lists.create("x", processing_type="WHATEVER")
    assert rec.requests == []


async def test_send_payloads() -> None:
    answer = {
        "status": "PENDING",
        "statusId": "s-1",
        "requestedAt": "2026-05-01T10:00:00Z",
        "sendResult": "SOMETHING_NEW",
    }
    client, _, rec, _ = make(lambda r: httpx.Response(200, json=answer), HUBSPOT_API_VERSION="v3")
    res = await client.sends.single_send(
        11,
        "x@example.com",
        contact_properties={"firstname": "X"},
        custom_properties={"code": "A1"},
        send_id="send-1",
    )
    assert rec.requests[0].url.path == "/marketing/v4/email/single-send"
    assert rec.body() == {
        "emailId": 11,
        "message": {"to": "x@example.com", "sendId": "send-1"},
        "contactProperties": {"firstname": "X"},
        "customProperties": {"code": "A1"},
    }
    assert res.status == "PENDING" and res.send_result == "SOMETHING_NEW"  # unknown value kept
    await client.sends.transactional(11, "x@example.com")
    assert rec.requests[1].url.path == "/marketing/v3/transactional/single-email/send"
    for bad in ("two@a.com,three@b.com", "nobody", "a@b.com c@d.com", ""):
        with pytest.raises(InputError):
            await client.sends.single_send(11, bad)
    assert len(rec.requests) == 2


async def test_campaign_create_and_metrics_requests() -> None:
    client, _, rec, _ = make(
        lambda r: httpx.Response(
            200, json={"id": "guid-1", "properties": {"hs_name": "Spring"}, "sessions": 3}
        )
    )
    import datetime as dt

    camp = await client.campaigns.create("Spring", start_date=dt.date(2026, 3, 1), notes="n")
    assert rec.body() == {
        "properties": {"hs_name": "Spring", "hs_start_date": "2026-03-01", "hs_notes": "n"}
    }
    assert camp.name == "Spring"
    await client.campaigns.metrics("guid-1", "2026-03-01", dt.date(2026, 3, 31))
    q = rec.requests[1].url.params
    assert (q["startDate"], q["endDate"]) == ("2026-03-01", "2026-03-31")


async def test_email_statistics_query() -> None:
    client, _, rec, _ = make(lambda r: httpx.Response(200, json={"aggregate": {"counters": {}}}))
    await client.emails.statistics("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", [1, 2])
    assert rec.requests[0].url.path == "/marketing/emails/2026-09/statistics/list"
    assert rec.requests[0].url.params.get_list("emailIds") == ["1", "2"]


async def test_oauth_forms_and_legacy_paths() -> None:
    seen: list[httpx.Request] = []

    def handler(r: httpx.Request) -> httpx.Response:
        seen.append(r)
        if r.url.path.endswith("/token"):
            return httpx.Response(
                200,
                json={
                    "access_token": "at",
                    "refresh_token": "rt",
                    "expires_in": 1800,
                    "token_type": "bearer",
                    "hub_id": 5,
                    "scopes": ["oauth"],
                },
            )
        if "access-tokens" in r.url.path:
            return httpx.Response(
                200,
                json={
                    "token": "at",
                    "hub_id": 5,
                    "hub_domain": "d",
                    "app_id": 9,
                    "scopes": ["oauth"],
                    "user": "u@d",
                },
            )
        if r.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(404, json={"message": "gone"})

    # OAuth has no 2025-09 release: under it the v1 paths are used, as under v3.
    for version in ("2026-09", "2026-03", "2025-09", "v3"):
        seen.clear()
        _, http, _, _ = make(handler, HUBSPOT_API_VERSION=version)
        oauth = OAuthAPI(http, "cid", "sec")
        tok = await oauth.exchange_code("the-code", "http://cb", code_verifier="ver")
        assert isinstance(tok, TokenResponse) and tok.hub_id == 5
        assert "at" not in repr(tok)  # SecretStr
        form = dict(httpx.QueryParams(seen[0].content.decode()))
        assert form == {
            "client_id": "cid",
            "client_secret": "sec",
            "grant_type": "authorization_code",
            "redirect_uri": "http://cb",
            "code": "the-code",
            "code_verifier": "ver",
        }
        assert "authorization" not in seen[0].headers  # no bearer on token calls
        expected = {"2026-09": "/oauth/2026-09/token", "2026-03": "/oauth/2026-03/token"}
        assert seen[0].url.path == expected.get(version, "/oauth/v1/token")
        if version in ("2025-09", "v3"):
            info = await oauth.introspect("at")
            assert info.active and info.app_id == 9 and seen[-1].method == "GET"
            await oauth.revoke("rt")
            assert seen[-1].method == "DELETE"
            assert seen[-1].url.path == "/oauth/v1/refresh-tokens/rt"
            gone = await oauth.introspect("at", token_type_hint="refresh_token")  # noqa: S106
            assert gone.active is False


def test_models_tolerate_new_values_and_keep_unknown_fields() -> None:
    o = CrmObject.model_validate(
        {
            "id": 7,
            "properties": {"amount": 12.5, "x": None},
            "associations": {"companies": {"results": [{"id": "3", "type": "contact_to_company"}]}},
            "brandNewField": {"a": 1},
        }
    )
    assert o.id == "7" and o.properties == {"amount": "12.5", "x": None}
    assert o.associations["companies"][0].id == "3"
    assert o.model_extra == {"brandNewField": {"a": 1}}
    lst = ListModel.model_validate(
        {
            "listId": 12,
            "processingType": "FUTURE_KIND",
            "additionalProperties": {"hs_list_size": "40"},
        }
    )
    assert lst.list_id == "12" and lst.processing_type == "FUTURE_KIND" and lst.size == 40
    acc = AccountDetails.model_validate(
        {"portalId": 1, "accountType": "NEW_TYPE", "timeZone": "Europe/Paris"}
    )
    assert acc.account_type == "NEW_TYPE" and acc.time_zone == "Europe/Paris"
    assert SendResult.model_validate({}).status is None


async def test_properties_list_tolerates_unknown_fields_kinds_and_nameless_entries() -> None:
    answer = {
        "results": [
            {"name": "email", "type": "string", "fieldType": "text", "hubspotDefined": True},
            # Legacy answers leave `hubspotDefined` out for custom properties.
            {"name": "shoe_size", "type": "number", "fieldType": "number", "groupName": "g"},
            {
                "name": "tier",
                "type": "quantum",
                "fieldType": "hologram",
                "hubspotDefined": False,
                "archived": False,
                "somethingNew": {"x": 1},
            },
            {"label": "no name"},
            "junk",
        ]
    }
    client, _http, rec, _ = make(lambda r: httpx.Response(200, json=answer))
    props = await client.properties.list("contacts")
    assert rec.requests[0].url.path == "/crm/properties/2026-09/contacts"
    assert [(p.name, p.is_custom) for p in props] == [
        ("email", False),
        ("shoe_size", True),
        ("tier", True),
    ]
    assert props[2].type == "quantum" and props[2].field_type == "hologram"
    assert props[1].group_name == "g"
