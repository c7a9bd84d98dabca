"""What the host does to every request before a plugin sees it: body limit (413), callers
authenticated before their body is parsed, strict JSON with precise errors, 503 for the routes
of a plugin that is not running, security headers, and a status page that tells strangers
nothing about tenants."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from atom_host_stub.app import create_app
from atom_host_stub.config import DEFAULT_MAX_BODY_BYTES, MIN_API_KEY_LENGTH, HostSettings
from atom_host_stub.guard import JSONBodyError, strict_json_loads
from tests.host.conftest import AUTH, HostFactory, serving
from tests.host.fake_plugins.good import HANDLER_CALLS

JSON = {"Content-Type": "application/json"}


async def test_a_body_over_the_limit_is_refused_413_before_it_is_read(
    make_host: HostFactory,
) -> None:
    app = create_app(make_host("good", ATOM_MAX_BODY_BYTES="2048"))
    async with serving(app) as client:
        before = HANDLER_CALLS.get("echo", 0)
        big = json.dumps({f"k{i}": i for i in range(400)})
        answer = await client.post("/api/good/echo", content=big, headers={**AUTH, **JSON})
        assert answer.status_code == 413
        error = answer.json()["error"]
        assert error["code"] == "body_too_large"
        assert "2048 bytes" in error["message"] and "ATOM_MAX_BODY_BYTES" in error["message"]
        # Without a key too: the size is checked before anything else.
        assert (await client.post("/api/good/echo", content=big)).status_code == 413
        assert HANDLER_CALLS.get("echo", 0) == before


async def test_a_chunked_body_is_counted_as_it_streams(make_host: HostFactory) -> None:
    app = create_app(make_host("good", ATOM_MAX_BODY_BYTES="2048"))

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"a": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}'

    async with serving(app) as client:
        # No Content-Length: httpx sends a streamed body with Transfer-Encoding: chunked.
        answer = await client.post("/api/good/echo", content=chunks(), headers={**AUTH, **JSON})
        assert answer.status_code == 413
        small = await client.post("/api/good/echo", json={"a": 1}, headers=AUTH)
        assert small.status_code == 200, small.text


async def test_a_get_with_a_body_is_bounded_too(make_host: HostFactory) -> None:
    # Requests without Content-Length or Transfer-Encoding carry no body and skip the read;
    # one that declares a body is bounded whatever its method.
    app = create_app(make_host("good", ATOM_MAX_BODY_BYTES="2048"))

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 500

    async with serving(app) as client:
        declared = await client.request("GET", "/api/good/whoami", content=b"x" * 4096)
        assert declared.status_code == 413
        streamed = await client.request("GET", "/api/good/whoami", content=chunks())
        assert streamed.status_code == 413
        assert streamed.json()["error"]["code"] == "body_too_large"
        plain = await client.get("/api/good/whoami", headers=AUTH)
        assert plain.status_code == 200


def test_the_default_limit_is_256_kib_and_a_bad_setting_is_a_config_issue() -> None:
    assert HostSettings.from_env({}).max_body_bytes == DEFAULT_MAX_BODY_BYTES == 256 * 1024
    settings = HostSettings.from_env({"ATOM_MAX_BODY_BYTES": "lots"})
    assert settings.max_body_bytes == DEFAULT_MAX_BODY_BYTES
    assert any(i.key == "ATOM_MAX_BODY_BYTES" for i in settings.validate())


async def test_an_unauthenticated_malformed_body_gets_401_not_a_parse_error(
    make_host: HostFactory,
) -> None:
    app = create_app(make_host("good"))
    async with serving(app) as client:
        answer = await client.post("/api/good/echo", content=b"{x", headers=JSON)
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "unauthorized"
        assert "JSON" not in answer.text


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{x", "body is not valid JSON: line 1, column 2"),
        (b'{"a": 1,\n "b": }', "body is not valid JSON: line 2, column 7"),
        (b'{"amount": NaN}', "NaN is not a JSON number"),
        (b'{"amount": Infinity}', "Infinity is not a JSON number"),
        (b'{"amount": -Infinity}', "-Infinity is not a JSON number"),
        (b'{"n": ' + b"9" * 5000 + b"}", "an integer of 5000 digits"),
        (b'{"n": 1e999}', "too large to hold"),
        (b'{"a": "\xff"}', "not valid UTF-8"),
    ],
)
async def test_a_bad_json_body_is_told_what_and_where(
    make_host: HostFactory, body: bytes, expected: str
) -> None:
    app = create_app(make_host("good"))
    async with serving(app) as client:
        answer = await client.post("/api/good/echo", content=body, headers={**AUTH, **JSON})
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["code"] == "invalid_input"
        assert expected in error["message"], error["message"]
        assert error["errors"][0]["field"] == "body"


def test_strict_json_keeps_what_json_allows() -> None:
    assert strict_json_loads(b'{"a": [1, -2.5, 1e10, "\\u00e9", null, true]}') == {
        "a": [1, -2.5, 1e10, "é", None, True]
    }
    with pytest.raises(JSONBodyError):
        strict_json_loads(b"[" * 100_000 + b"]" * 100_000)


async def test_routes_of_a_plugin_that_failed_at_start_up_answer_503_naming_it(
    make_host: HostFactory,
) -> None:
    app = create_app(make_host("raising_startup", "good"))
    async with serving(app) as client:
        answer = await client.get("/api/raising/anything", headers=AUTH)
        assert answer.status_code == 503
        error = answer.json()["error"]
        assert error["code"] == "plugin_unavailable"
        assert error["details"]["plugin"] == "raising_startup"
        assert "atom_startup raised ConnectionError" in error["message"]
        assert "hunter22" not in answer.text
        # Other paths are unaffected.
        assert (await client.get("/api/nobody/here", headers=AUTH)).status_code == 404
        assert (await client.get("/api/good/whoami", headers=AUTH)).status_code == 200


async def test_security_headers_on_every_answer(make_host: HostFactory) -> None:
    app = create_app(make_host("good"))
    async with serving(app) as client:
        page = await client.get("/")
        assert page.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        data = await client.get("/api/good/whoami", headers=AUTH)
        assert data.headers["x-content-type-options"] == "nosniff"
        assert data.headers["cache-control"] == "no-store"
        refused = await client.get("/api/good/whoami")
        assert refused.headers["x-content-type-options"] == "nosniff"
        docs = await client.get("/docs")
        assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


async def test_public_status_shows_status_and_messages_only(make_host: HostFactory) -> None:
    app = create_app(make_host("good"))
    async with serving(app) as client:
        public = (await client.get("/api/integrations")).json()
        good = next(i for i in public["integrations"] if i["name"] == "good")
        assert good["health"][0]["message"] == "all good"
        assert good["health"][0]["details"] == {}
        # Neither the key nor the other tenant's portal id (222) appears as a value anywhere
        # (a substring check would trip on timings such as 3.222 ms).
        assert "portal_id" not in json.dumps(public)
        assert not {111, 222, "111", "222"} & set(_leaves(public))
        # With a key: details, limited to the caller's own tenant (tenant-a).
        mine = (await client.get("/api/integrations", headers=AUTH)).json()
        good = next(i for i in mine["integrations"] if i["name"] == "good")
        assert good["health"][0]["details"] == {"checked_ms": 1, "portal_id": 111}
        assert "tenant_details" not in json.dumps(mine)
        page = await client.get("/")
        assert not re.search(r"(?<![\d.])111(?![\d.])", page.text)


def test_short_api_keys_are_refused_naming_the_variable() -> None:
    settings = HostSettings.from_env({"ATOM_API_KEYS": "k:tenant:user,x" * 1})
    assert settings.api_keys == {}
    issues = settings.validate()
    assert any(
        i.key == "ATOM_API_KEYS" and i.severity == "error" and "at least 16" in i.message
        for i in issues
    ), issues
    assert MIN_API_KEY_LENGTH == 16
    ok = HostSettings.from_env({"ATOM_API_KEYS": "a" * 16 + ":tenant:user"})
    assert list(ok.api_keys) == ["a" * 16] and not ok.validate()


async def test_the_data_directory_is_created_owner_only(
    make_host: HostFactory, tmp_path: Path
) -> None:
    app = create_app(make_host("good", ATOM_DATA_DIR=str(tmp_path / "fresh" / "data")))
    old = os.umask(0o022)
    try:
        async with serving(app):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "fresh" / "data").stat().st_mode) == 0o700


async def test_the_hosts_own_crm_routes_are_guarded_and_bounded(make_host: HostFactory) -> None:
    app = create_app(make_host("good"))
    async with serving(app) as client:
        anonymous = await client.post("/api/crm/contacts", content=b"{x", headers=JSON)
        assert anonymous.status_code == 401
        bad = await client.post("/api/crm/contacts", content=b"{x", headers={**AUTH, **JSON})
        assert bad.status_code == 422
        assert bad.json()["error"]["message"].startswith("body is not valid JSON: line 1")
        schema = app.openapi()["components"]["schemas"]
        custom = schema["ContactFields"]["properties"]["custom_fields"]
        assert custom["maxProperties"] == 1000 and custom["propertyNames"]["maxLength"] == 100
        assert "413" in app.openapi()["paths"]["/api/crm/contacts"]["post"]["responses"]
