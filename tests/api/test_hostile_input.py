"""Hostile input through the whole host (guard → plugin → sandbox): every request here is one
an attacker sent, and each must get a clear, prompt 4xx naming the field and the limit —
never a 500, never a stalled event loop, never a value expanded and sent on to HubSpot."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from atom_hubspot.service import mapping
from tests.api.conftest import KEYS, Stack

pytestmark = pytest.mark.asyncio(loop_scope="module")

JSON = {"Content-Type": "application/json"}


def _error(r: Any) -> dict[str, Any]:
    body = r.json()
    assert body["ok"] is False, body
    return body["error"]  # type: ignore[no-any-return]


def _fields(r: Any) -> dict[str, str]:
    return {e["field"]: e["message"] for e in _error(r).get("errors") or []}


# ------------------------------------------------------------------ class 1: expansion


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/api/hubspot/companies",
            {"name": "X", "numberofemployees": "1e999999999"},
            "numberofemployees",
        ),
        ("/api/hubspot/deals", {"dealname": "X", "amount": "1e999999999"}, "amount"),
        ("/api/hubspot/deals", {"dealname": "X", "amount": "1e400"}, "amount"),
        ("/api/hubspot/deals", {"dealname": "X", "amount": 1e300}, "amount"),
        ("/api/hubspot/deals", {"dealname": "X", "amount": "0.000000000001"}, "amount"),
        ("/api/hubspot/companies", {"name": "X", "numberofemployees": 10**40}, "numberofemployees"),
    ],
)
async def test_a_huge_number_is_refused_at_once_with_the_limit(
    shared_stack: Stack, path: str, body: dict[str, Any], field: str
) -> None:
    async with shared_stack.client("alice") as c:
        t0 = time.perf_counter()
        r = await c.post(path, json=body)
        elapsed = time.perf_counter() - t0
    assert r.status_code == 422, r.text
    message = _fields(r)[field]
    assert mapping.NUMBER_LIMIT in message, message
    assert elapsed < 5, elapsed  # it used to take tens of seconds; generous for a busy machine


async def test_a_number_within_the_limit_is_sent_in_plain_form(shared_stack: Stack) -> None:
    async with shared_stack.client("alice") as c:
        r = await c.post("/api/hubspot/deals", json={"dealname": "Big", "amount": "1.5e17"})
    assert r.status_code == 201, r.text
    assert r.json()["data"]["properties"]["amount"] == "150000000000000000"


# ------------------------------------------------------------------ class 2: edge values


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/hubspot/contacts", {"created_to": "9999-12-31"}, "created_to"),
        ("/api/hubspot/contacts", {"created_from": "0001-01-01"}, "created_from"),
        ("/api/hubspot/deals", {"close_date_to": "9999-12-31T23:59:59-23:59"}, "close_date_to"),
        ("/api/hubspot/deals", {"close_date_from": "0001-01-01T00:00:00+23:59"}, "close_date_from"),
        ("/api/hubspot/deals", {"close_date_from": "9" * 39}, "close_date_from"),
        ("/api/hubspot/analytics/deals", {"close_date_to": "9999-12-31"}, "close_date_to"),
        ("/api/hubspot/analytics/contacts", {"created_to": "0001-01-01"}, "created_to"),
    ],
)
async def test_dates_at_the_ends_of_the_calendar_are_a_clear_422(
    shared_stack: Stack, path: str, params: dict[str, str], field: str
) -> None:
    async with shared_stack.client("alice") as c:
        r = await c.get(path, params=params)
    assert r.status_code == 422, r.text
    assert field in _fields(r), r.text


async def test_an_analytics_range_over_centuries_is_refused_without_building_it(
    shared_stack: Stack,
) -> None:
    async with shared_stack.client("alice") as c:
        t0 = time.perf_counter()
        r = await c.get(
            "/api/hubspot/analytics/contacts",
            params={"created_from": "1900-01-01", "created_to": "9999-12-30"},
        )
    assert r.status_code == 422, r.text
    assert "buckets" in _error(r)["message"]
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize(
    "closedate",
    ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "1899-12-31", "99999999999999999"],
)
async def test_a_close_date_out_of_range_names_the_range(
    shared_stack: Stack, closedate: str
) -> None:
    async with shared_stack.client("alice") as c:
        r = await c.post("/api/hubspot/deals", json={"dealname": "X", "closedate": closedate})
    assert r.status_code == 422, r.text
    assert mapping.DATE_LIMIT in _fields(r)["closedate"]


async def test_an_integer_too_long_for_text_is_a_precise_422(shared_stack: Stack) -> None:
    body = b'{"name": "X", "numberofemployees": ' + b"7" * 5000 + b"}"
    async with shared_stack.client("alice") as c:
        r = await c.post("/api/hubspot/companies", content=body, headers=JSON)
    assert r.status_code == 422, r.text
    assert "an integer of 5000 digits" in _error(r)["message"]
    assert "send a JSON object" not in r.text


# ------------------------------------------------------------------ class 3: size


async def test_a_million_key_body_is_refused_413_before_parsing(shared_stack: Stack) -> None:
    body = json.dumps({f"p{i}": i for i in range(1_000_000)}).encode()
    seen = len(shared_stack.sandbox.log)
    async with shared_stack.client("alice") as c:
        t0 = time.perf_counter()
        r = await c.post("/api/hubspot/contacts", content=body, headers=JSON)
    assert r.status_code == 413, r.text
    assert _error(r)["code"] == "body_too_large"
    assert time.perf_counter() - t0 < 5
    assert len(shared_stack.sandbox.log) == seen  # nothing was forwarded to HubSpot


async def test_too_many_properties_in_a_body_under_the_size_limit(shared_stack: Stack) -> None:
    body = {f"p{i}": "x" for i in range(5000)}
    async with shared_stack.client("alice") as c:
        r = await c.post("/api/hubspot/contacts", json=body)
    assert r.status_code == 422, r.text
    assert "at most 1000" in r.text


async def test_the_openapi_states_the_bounds(shared_stack: Stack) -> None:
    schema = shared_stack.app.openapi()
    contact = schema["components"]["schemas"]["ContactBody"]
    assert contact["maxProperties"] == 1000
    values = json.dumps(contact)
    assert '"maxLength": 65536' in values


# ------------------------------------------------------------------ class 4: refuse


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
async def test_json_constants_are_refused_not_stored(shared_stack: Stack, constant: bytes) -> None:
    body = b'{"dealname": "X", "amount": ' + constant + b"}"
    async with shared_stack.client("alice") as c:
        r = await c.post("/api/hubspot/deals", content=body, headers=JSON)
    assert r.status_code == 422, r.text
    assert "is not a JSON number" in _error(r)["message"]


@pytest.mark.parametrize("name", ["email\n", "firstname\n", "a" * 101, "Email"])
async def test_a_property_name_must_match_whole(shared_stack: Stack, name: str) -> None:
    async with shared_stack.client("alice") as c:
        r = await c.post("/api/hubspot/contacts", json={name: "x", "firstname": "Ada"})
    assert r.status_code == 422, r.text
    assert "not a HubSpot property name" in r.text


async def test_an_id_with_a_newline_is_refused(shared_stack: Stack) -> None:
    async with shared_stack.client("alice") as c:
        r = await c.post("/api/hubspot/deals", json={"dealname": "X", "contact_ids": ["10\n1"]})
        p = await c.get("/api/hubspot/contacts/101%0A")
    assert r.status_code == 422 and "contact_ids.0" in _fields(r), r.text
    assert p.status_code == 422, p.text


async def test_names_and_ids_match_whole_never_up_to_a_trailing_newline() -> None:
    assert not mapping.PROPERTY_NAME.fullmatch("email\n")
    assert not mapping.RECORD_ID.fullmatch("101\n")
    assert not mapping.EMAIL.fullmatch("a@example.com\n")
    assert not mapping.is_record_id("10\n1")
    assert mapping.is_record_id(" 101 ")  # surrounding spaces are trimmed, never kept


# ------------------------------------------------------------------ class 5: clear errors


async def test_a_body_that_is_not_json_is_told_where(shared_stack: Stack) -> None:
    async with shared_stack.client("alice") as c:
        r = await c.post("/api/hubspot/contacts", content=b"{x", headers=JSON)
    assert r.status_code == 422
    assert _error(r)["message"].startswith("body is not valid JSON: line 1, column 2")


async def test_a_malformed_body_without_a_key_is_401(shared_stack: Stack) -> None:
    async with shared_stack.client("alice") as c:
        c.headers.pop("Authorization")
        r = await c.post("/api/hubspot/contacts", content=b"{x", headers=JSON)
        wrong = await c.post(
            "/api/hubspot/contacts",
            content=b"{x",
            headers={**JSON, "Authorization": "Bearer " + KEYS["alice"][:-1]},
        )
    assert r.status_code == 401 and _error(r)["code"] == "unauthorized"
    assert wrong.status_code == 401
    assert "JSON" not in r.text + wrong.text
