"""The marketing routes in the host's OpenAPI: every route, its success model, its error
answers, and examples for every request body."""

from __future__ import annotations

from typing import Any

from tests.marketing.conftest import Stack

# (method, path, success status, has a JSON body)
ROUTES = [
    ("get", "/campaigns", "200", False),
    ("post", "/campaigns", "201", True),
    ("get", "/campaigns/{campaign_id}", "200", False),
    ("get", "/analytics/deals", "200", False),
    ("get", "/analytics/contacts", "200", False),
    ("get", "/analytics/campaigns/{campaign_id}", "200", False),
    ("get", "/lead-lists", "200", False),
    ("post", "/lead-lists", "201", True),
    ("get", "/lead-lists/{list_id}", "200", False),
    ("get", "/lead-lists/{list_id}/members", "200", False),
    ("post", "/lead-lists/{list_id}/members", "200", True),
    ("delete", "/lead-lists/{list_id}/members", "200", True),
    ("get", "/email-templates", "200", False),
    ("post", "/send-email", "200", True),
    ("get", "/scheduled-sends", "200", False),
    ("get", "/scheduled-sends/{send_id}", "200", False),
    ("delete", "/scheduled-sends/{send_id}", "200", False),
    ("get", "/email-stats", "200", False),
    ("get", "/email-stats/{email_id}", "200", False),
    ("post", "/list-sends", "201", True),
    ("get", "/list-sends", "200", False),
    ("get", "/list-sends/{send_id}", "200", False),
    ("delete", "/list-sends/{send_id}", "200", False),
]
ERRORS = ("401", "403", "404", "409", "422", "429", "503")


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = schema["components"]["schemas"][name]
    return node


async def test_every_marketing_route_is_documented(stack: Stack) -> None:
    r = await stack.alice.get("/openapi.json")
    assert r.status_code == 200
    schema = r.json()
    ours = {
        (m, p.removeprefix("/api/hubspot"))
        for p, ops in schema["paths"].items()
        for m in ops
        if any(
            t.startswith("HubSpot") and t not in ("HubSpot CRM",) for t in ops[m].get("tags", [])
        )
        and not p.startswith(("/api/hubspot/auth", "/auth", "/api/hubspot/health"))
    }
    assert {(m, p) for m, p, _, _ in ROUTES} <= ours

    for method, path, ok, has_body in ROUTES:
        op = schema["paths"]["/api/hubspot" + path][method]
        assert op.get("summary"), (method, path)
        success = op["responses"][ok]["content"]["application/json"]["schema"]
        envelope = _resolve(schema, success)
        assert {"ok", "data"} <= set(envelope["properties"]), (method, path)
        for code in ERRORS:
            assert code in op["responses"], (method, path, code)
            err = op["responses"][code]["content"]["application/json"]["schema"]
            assert _resolve(schema, err)["properties"]["error"], (method, path, code)
        if has_body:
            body = _resolve(schema, op["requestBody"]["content"]["application/json"]["schema"])
            assert body.get("examples"), (method, path)
        if path == "/send-email":
            assert "202" in op["responses"]


async def test_docs_page_is_served(stack: Stack) -> None:
    r = await stack.alice.get("/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()


async def test_every_list_answer_has_one_shape_and_one_cursor(stack: Stack) -> None:
    """Every plugin route answering a list answers `{results, next_after, total}`, and every
    paged one takes the cursor as `after` (no `offset`, `count` or `cursor` parameters)."""
    schema = (await stack.alice.get("/openapi.json")).json()
    lists = 0
    for path, ops in schema["paths"].items():
        if not path.startswith("/api/hubspot"):
            continue
        for method, op in ops.items():
            params = {p["name"] for p in op.get("parameters", [])}
            assert not params & {"offset", "count", "cursor"}, (method, path)
            ok = next((op["responses"][c] for c in ("200", "201") if c in op["responses"]), None)
            if ok is None or "application/json" not in ok.get("content", {}):
                continue
            envelope = _resolve(schema, ok["content"]["application/json"]["schema"])
            data = _resolve(schema, envelope["properties"]["data"])
            assert data.get("type") != "array", (method, path, "a bare list")
            props = set(data.get("properties", {}))
            if props & {"next_after", "items", "next_cursor", "has_more", "contact_ids"}:
                lists += 1
                assert {"results", "next_after", "total"} <= props, (method, path)
                assert not props & {"items", "next_cursor", "has_more", "offset"}, (method, path)
                if method == "get" and "{" not in path.rsplit("/", 1)[-1]:
                    assert "after" in params or path.endswith(("/pipelines", "/stages")), path
    assert lists >= 8
