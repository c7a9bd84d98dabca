"""Matching by path prefix answers every request exactly as the router's full walk does: the
same route (first match wins, 405 for a known path with another method, trailing-slash
redirects, 404), for generated paths and methods, over routes that overlap, take parameters
mid-segment, include routers with and without prefixes, and mount an app."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, Request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atom_host_stub.route_index import MAX_VIEWS, RouteIndex

METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH"]
SEGMENTS = ["api", "a", "b", "x", "items", "7", "tags", "t", "static", "files", "report-3"]
SEGMENTS += ["sign-in", "", "zz", "A", "%20", "x.y"]


def _answering(name: str) -> Any:
    async def endpoint(request: Request) -> dict[str, Any]:
        return {"route": name, **request.path_params}

    return endpoint


def _router(routes: list[tuple[str, str, str]]) -> APIRouter:
    router = APIRouter()
    for method, path, name in routes:
        router.add_api_route(path, _answering(name), methods=[method])
    return router


def _build(indexed: bool) -> FastAPI:
    app = FastAPI()
    top = [
        ("GET", "/", "root"),
        ("GET", "/items/{item_id:int}", "item"),
        ("DELETE", "/items/{item_id:int}", "drop"),
        ("GET", "/files/report-{n}", "report"),
    ]
    for method, path, name in top:
        app.add_api_route(path, _answering(name), methods=[method])
    first = [
        ("GET", "/x", "first x"),
        ("POST", "/x/{x_id}", "first x post"),
        ("GET", "/x/{x_id}/tags/", "first tags"),
        ("GET", "/x/deep/one", "deep"),
        ("GET", "/{anything}", "first anything"),
    ]
    second = [
        ("GET", "/x/{x_id}", "second x get"),  # after `first`: only its GET is reachable here
        ("GET", "/b/{rest:path}", "second rest"),
    ]
    unprefixed = [("GET", "/sign-in", "sign-in"), ("PUT", "/api/a/x", "put x")]

    async def static(scope: Any, receive: Any, send: Any) -> None:
        body = json.dumps({"route": "static", "path": scope["path"]}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    app.include_router(_router(first), prefix="/api/a")
    app.include_router(_router(second), prefix="/api/a")
    app.include_router(_router(unprefixed))
    app.mount("/static", static)
    # Last: a route the index leaves out wrongly turns into a 405 from this one.
    app.add_api_route("/api/{rest:path}", _answering("catch-all"), methods=["PATCH"])
    if indexed:
        app.router.middleware_stack = RouteIndex(app.router)
    return app


PLAIN, INDEXED = _build(indexed=False), _build(indexed=True)


async def _answer(app: FastAPI, method: str, path: str) -> tuple[int, bytes, str | None]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "state": {},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    headers = dict(sent[0].get("headers", []))
    body = b"".join(m.get("body", b"") for m in sent[1:])
    location = headers.get(b"location")
    return sent[0]["status"], body, location.decode() if location else None


paths = st.lists(st.sampled_from(SEGMENTS), min_size=0, max_size=6).map(
    lambda parts: "/" + "/".join(parts)
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=st.sampled_from(METHODS), path=paths)
def test_every_request_gets_the_answer_of_the_full_walk(method: str, path: str) -> None:
    async def both() -> None:
        expected = await _answer(PLAIN, method, path)
        assert await _answer(INDEXED, method, path) == expected, (method, path)

    asyncio.run(both())


@pytest.mark.parametrize(
    ("method", "path", "status", "route"),
    [
        ("GET", "/api/a/x/9", 200, "second x get"),  # the first router's POST is only partial
        ("POST", "/api/a/x/9", 200, "first x post"),
        ("PUT", "/api/a/x", 200, "put x"),  # an unprefixed router reaching into /api/a
        ("DELETE", "/api/a/x/9", 405, None),
        ("GET", "/api/a/x", 200, "first x"),  # before `/{anything}`, which matches it too
        ("GET", "/api/a/zz", 200, "first anything"),
        ("GET", "/api/a/b/c/d", 200, "second rest"),
        ("GET", "/files/report-12", 200, "report"),
        ("GET", "/static/app.js", 200, "static"),
    ],
)
async def test_known_answers(method: str, path: str, status: int, route: str | None) -> None:
    got, body, _ = await _answer(INDEXED, method, path)
    assert got == status
    if route is not None:
        assert json.loads(body)["route"] == route


async def test_a_trailing_slash_redirects_as_before() -> None:
    assert await _answer(INDEXED, "GET", "/items/5/") == await _answer(PLAIN, "GET", "/items/5/")
    status, _, location = await _answer(INDEXED, "GET", "/items/5/")
    assert status == 307 and location == "http://testserver/items/5"


async def test_a_request_is_matched_against_the_routes_it_can_reach_only() -> None:
    app = _build(indexed=True)
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    assert (await _answer(app, "GET", "/items/3"))[0] == 200
    view = index._views[("items", "3")].__self__  # type: ignore[attr-defined]  # a bound app
    # The root route, /items/{item_id} twice (GET, DELETE) and nothing else.
    paths = [getattr(r, "path", None) for r in view.routes]
    assert paths == ["/", "/items/{item_id:int}", "/items/{item_id:int}"]


async def test_paths_sharing_a_view_reach_routes_longer_than_its_key() -> None:
    app = _build(indexed=True)
    _, body, _ = await _answer(app, "GET", "/api/a/x/other")  # builds the view first
    assert json.loads(body)["route"] == "second x get"
    status, body, _ = await _answer(app, "GET", "/api/a/x/deep/one")
    assert status == 200 and json.loads(body)["route"] == "deep"


async def test_routes_added_later_are_matched() -> None:
    app = _build(indexed=True)
    assert (await _answer(app, "GET", "/later/on"))[0] == 404

    app.add_api_route("/later/on", _answering("later"), methods=["GET"])
    status, body, _ = await _answer(app, "GET", "/later/on")
    assert status == 200 and json.loads(body)["route"] == "later"


async def test_views_are_bounded_whatever_paths_arrive() -> None:
    app = _build(indexed=True)
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    for i in range(MAX_VIEWS + 50):
        await _answer(app, "GET", f"/probe-{i}/x/y")
    assert len(index._views) == MAX_VIEWS
    status, body, _ = await _answer(app, "GET", "/items/5")
    assert status == 200 and json.loads(body) == {"route": "item", "item_id": 5}
