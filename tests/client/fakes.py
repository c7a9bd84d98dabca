"""Test doubles for the client: a virtual clock, settings, and a scripted HubSpot."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx

from atom_hubspot.client import HubSpotClient, HubSpotHTTP, RateLimitGovernor, StaticToken
from atom_hubspot.settings import HubSpotSettings

TOKEN = "pat-na1-5e6f7a8b-SECRET-TOKEN-0001"  # noqa: S105


def settings(**env: Any) -> HubSpotSettings:
    base = {"HUBSPOT_API_BASE_URL": "http://hubspot.test"}
    base.update({k: str(v) for k, v in env.items()})
    return HubSpotSettings(_env_file=None, **base)  # type: ignore[call-arg]


class VirtualClock:
    """Time that only moves when every task waits: `sleep` parks the caller, a driver
    advances to the earliest wake-up once the loop has run everything that was ready."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._driver: asyncio.Task[None] | None = None

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (self.now + seconds, next(self._seq), fut))
        if self._driver is None or self._driver.done():
            self._driver = asyncio.ensure_future(self._drive())
        await fut

    async def _drive(self) -> None:
        while self._heap:
            for _ in range(30):  # let every ready task run until it blocks again
                await asyncio.sleep(0)
            if not self._heap:
                return
            wake, _, fut = heapq.heappop(self._heap)
            self.now = max(self.now, wake)
            if not fut.done():
                fut.set_result(None)
            while self._heap and self._heap[0][0] <= self.now:
                _, _, f = heapq.heappop(self._heap)
                if not f.done():
                    f.set_result(None)


Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that records requests and answers from a script or a function."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.script: deque[httpx.Response | Exception] = deque()
        self.handler = handler

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            item = self.script.popleft()
            if isinstance(item, Exception):
                raise item
            return item
        if self.handler is not None:
            return self.handler(request)
        return httpx.Response(200, json={})

    def then(self, *items: httpx.Response | Exception) -> Recorder:
        self.script.extend(items)
        return self

    @property
    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]

    def body(self, i: int = -1) -> Any:
        return json.loads(self.requests[i].content or b"null")


def make(
    handler: Handler | Recorder | None = None,
    *,
    clock: VirtualClock | None = None,
    portal_id: int | None = 42,
    **env: Any,
) -> tuple[HubSpotClient, HubSpotHTTP, Recorder, VirtualClock]:
    rec = handler if isinstance(handler, Recorder) else Recorder(handler)
    clock = clock or VirtualClock()
    s = settings(**env)
    gov = RateLimitGovernor(
        requests_per_10s=s.requests_per_10s,
        search_per_s=s.search_rate_per_second,
        clock=clock.time,
        sleep=clock.sleep,
    )
    http = HubSpotHTTP(s, transport=httpx.MockTransport(rec), governor=gov, rng=lambda: 0.5)
    return HubSpotClient(http, StaticToken(TOKEN), portal_id=portal_id), http, rec, clock


def error(status: int, **body: Any) -> httpx.Response:
    payload = {"status": "error", "correlationId": "corr-123", **body}
    return httpx.Response(status, json=payload)


def obj(id: int | str, **props: Any) -> dict[str, Any]:
    return {
        "id": str(id),
        "properties": {k: str(v) for k, v in props.items()},
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-02T00:00:00Z",
        "archived": False,
    }
