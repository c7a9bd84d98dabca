"""The shorter path through FastAPI (`atom_hubspot.api.lean`) answers exactly as FastAPI's own:
generated GET requests (callers with and without keys, real and malformed ids, valid, invalid,
repeated and unknown query parameters) are sent to the same running host twice, once down
each path, and must get the same status, headers and JSON.

The host runs in a thread of its own with its event loop, its portals mirrored, so that
hypothesis can drive it from a plain test function."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Header, Query
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atom_hubspot.api import lean
from tests.api.conftest import KEYS, PORTAL_A, PORTAL_B, Stack, module_env, running_stack
from tests.mirror.test_host import migrated_template, sync_now

__all__ = ["migrated_template"]

ROUTES = [
    "/api/hubspot/contacts/{id}",
    "/api/hubspot/companies/{id}",
    "/api/hubspot/deals/{id}",
    "/api/hubspot/contacts",
    "/api/hubspot/companies",
    "/api/hubspot/deals",
    "/api/hubspot/scheduled-sends",
    "/api/hubspot/sync",
    "/api/hubspot/pipelines",
    "/api/hubspot/analytics/deals",
    "/api/hubspot/lead-lists",
    "/api/hubspot/status",
]
PARAMS = [
    "source", "properties", "portal_id", "limit", "after", "sort", "name", "email",
    "lifecycle_stage", "stage", "pipeline", "amount_min", "created_from", "status",
    "associations", "industry", "unknown",
]  # fmt: skip
VALUES = [
    "mirror", "live", "auto", "bogus", "", "email,firstname", "dealname,amount", "0", "1", "5",
    "100", "101", "-3", str(PORTAL_A), str(PORTAL_B), "9" * 20, "2026-01-01", "2026-13-45",
    "x" * 300, "-createdate", "lastname", "closedwon", "default", "1000.50", "1e9", "a b",
    "companies", "pending", "ada", "ü", "%00",
]  # fmt: skip
WHO = ["alice", "bob", "carol", None, "wrong"]


class Host:
    """The stack running on its own event loop in a thread; requests are made from outside."""

    def __init__(self, env: dict[str, str], url: str, template: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._cm = running_stack(env, url, template)
        self.stack: Stack = self._run(self._cm.__aenter__())
        self._run(sync_now(self.stack))
        self.ids = self._run(self._ids())

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=120)

    async def _ids(self) -> dict[str, list[str]]:
        ids: dict[str, list[str]] = {}
        async with self.stack.client("alice") as alice:
            for kind in ("contacts", "companies", "deals"):
                page = (await alice.get(f"/api/hubspot/{kind}", params={"limit": 3})).json()
                ids[kind] = [r["id"] for r in page["data"]["results"]]
        return ids

    def get(self, who: str | None, path: str, params: list[tuple[str, str]]) -> httpx.Response:
        async def call() -> httpx.Response:
            headers = {}
            if who is not None:
                headers["Authorization"] = f"Bearer {KEYS.get(who, 'not-a-key-0123456789')}"
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.stack.app), base_url="http://host.local"
            ) as client:
                return await client.get(path, params=params, headers=headers)

        return self._run(call())

    def close(self) -> None:
        self._run(self._cm.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, migrated_template: Path) -> Iterator[Host]:
    tmp = tmp_path_factory.mktemp("lean")
    env = module_env(tmp, sync_interval_s=3600)
    h = Host(env, f"sqlite:///{tmp / 'atom.sqlite3'}", migrated_template)
    try:
        yield h
    finally:
        h.close()


# What differs between two answers a moment apart, whichever path gave them.
MOVING = {"as_of", "lag_s", "checked_at", "duration_ms", "correlation_id", "retry_after_s"}


def _steady(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _steady(v) for k, v in value.items() if k not in MOVING}
    if isinstance(value, list):
        return [_steady(v) for v in value]
    return value


def _answer(response: httpx.Response) -> tuple[int, dict[str, str], Any]:
    headers = {k: v for k, v in response.headers.items() if k not in ("date", "retry-after")}
    return response.status_code, headers, _steady(json.loads(response.content))


class Counted:
    """How many requests the shorter path answered itself (or raised the error that answers
    them), and how many it handed to FastAPI."""

    def __init__(self) -> None:
        self.answered = 0
        self.handed_over = 0


@pytest.fixture(scope="module")
def counted() -> Iterator[Counted]:
    c = Counted()
    original = lean._Lean.__call__

    async def counting(self: Any, request: Any) -> Any:
        try:
            response = await original(self, request)
        except Exception:
            c.answered += 1  # an error of a dependency or the endpoint: the envelope answers
            raise
        if response is None:
            c.handed_over += 1
        else:
            c.answered += 1
        return response

    lean._Lean.__call__ = counting  # type: ignore[method-assign]
    try:
        yield c
    finally:
        lean._Lean.__call__ = original  # type: ignore[method-assign]


requests = st.tuples(
    st.sampled_from(WHO),
    st.sampled_from(ROUTES),
    st.sampled_from(["real", "real", "0", "abc", "1" * 30, "-1", "12a", "99999999"]),
    st.lists(st.tuples(st.sampled_from(PARAMS), st.sampled_from(VALUES)), max_size=4),
)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(requests)
def test_both_paths_answer_alike(
    host: Host, counted: Counted, request: tuple[str | None, str, str, list[tuple[str, str]]]
) -> None:
    who, route, ident, params = request
    kind = route.split("/")[3]
    if "{id}" in route:
        real = host.ids[kind][len(params) % len(host.ids[kind])]
        route = route.replace("{id}", real if ident == "real" else ident)
    lean.enabled = True
    try:
        shorter = host.get(who, route, params)
    finally:
        lean.enabled = False
    try:
        framework = host.get(who, route, params)
    finally:
        lean.enabled = True
    assert _answer(shorter) == _answer(framework), (who, route, params)


def test_the_shorter_path_answered_most_of_them(counted: Counted) -> None:
    # Runs after the generated cases (same module, file order): the comparison above is only
    # worth something if the shorter path answered a good share itself.
    total = counted.answered + counted.handed_over
    assert total >= 100, total
    assert counted.answered >= total // 4, (counted.answered, counted.handed_over)
    assert counted.handed_over > 0  # the refusals went to FastAPI


def _plain() -> int:
    return 1


async def _with_header(x_thing: Annotated[str, Header()]) -> str:
    return x_thing


async def _numbers(q: Annotated[list[int] | None, Query()] = None) -> list[int]:
    return q or []


async def _sync_dependency(value: Annotated[int, Depends(_plain)]) -> dict[str, int]:
    return {"value": value}


async def _generator() -> AsyncIterator[int]:
    yield 1


async def _yield_dependency(value: Annotated[int, Depends(_generator)]) -> dict[str, int]:
    return {"value": value}


async def _fine(m: int, n: int = 3) -> dict[str, int]:
    return {"m": m, "n": n}


def test_routes_with_what_it_cannot_run_keep_fastapis_path() -> None:
    router = APIRouter()
    router.add_api_route("/sync-dep", _sync_dependency, methods=["GET"])
    router.add_api_route("/yield-dep", _yield_dependency, methods=["GET"])
    router.add_api_route("/header", _with_header, methods=["GET"])
    router.add_api_route("/list", _numbers, methods=["GET"])
    router.add_api_route("/post", _numbers, methods=["POST"])
    for route in router.routes:
        assert isinstance(route, APIRoute)
        assert lean.lean_handler(route) is None, route.path
    router.add_api_route("/fine/{m}", _fine, methods=["GET"])
    assert isinstance(router.routes[-1], APIRoute)
    assert lean.lean_handler(router.routes[-1]) is not None
