"""The sandbox's change feed: HubSpot-style webhook deliveries of the changes made in it.

Every change to a portal (API call, or an edit "as a user in HubSpot's UI" through the admin
endpoint) becomes an event in `Portal.changes`. After each call the dispatcher takes them and,
when a target URL is set, POSTs them in batches of at most 100, signed the way HubSpot signs
(v3, plus the older v1 header), retrying failed deliveries with a growing delay, up to 10
attempts, as HubSpot does (scaled down: HubSpot spreads its retries over about a day).
https://developers.hubspot.com/docs/api-reference/webhooks-webhooks-v3/guide

The signing here is the sandbox's own: it shares no code with the plugin's verifier, so a test
that passes shows two independent implementations agree.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from starlette.responses import Response

from atom_hubspot.sandbox.errors import ApiError, validation
from atom_hubspot.sandbox.journal import Journal
from atom_hubspot.sandbox.objects import resolve_type
from atom_hubspot.sandbox.routing import Call, Router, json_response

if TYPE_CHECKING:
    from atom_hubspot.sandbox.app import Sandbox

MAX_BATCH = 100

# The admin endpoints below; the sandbox app serves this table.
routes = Router()


@dataclass
class Delivery:
    events: list[dict[str, Any]]
    attempt: int = 0
    due: float = 0.0


@dataclass
class DeliveryStats:
    delivered_batches: int = 0
    delivered_events: int = 0
    failed_attempts: int = 0
    dropped_batches: int = 0
    last_error: str | None = None
    last_status: int | None = None
    attempts_log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=200))


def sign_v3(secret: str, method: str, url: str, body: bytes, ts_ms: int) -> str:
    msg = method.encode() + url.encode() + body + str(ts_ms).encode()
    return base64.b64encode(hmac.new(secret.encode(), msg, hashlib.sha256).digest()).decode()


class WebhookDispatcher:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.url: str | None = sandbox.config.webhook_url
        self.transport: httpx.AsyncBaseTransport | None = None
        self.max_attempts = sandbox.config.webhook_max_attempts
        self.retry_base_s = sandbox.config.webhook_retry_base_s
        self.disorder = sandbox.config.webhook_disorder
        self.outbox: deque[Delivery] = deque()
        self.stats = DeliveryStats()
        self.journal_book = Journal(sandbox)
        self._rng = random.Random(sandbox.config.seed_value + 7)  # noqa: S311 - repeatable
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._in_flight = 0
        # A benchmark's stream of edits made inside the sandbox (`/_sandbox/changes/stream`).
        self.change_stream: dict[str, Any] | None = None
        self.stream_task: asyncio.Task[None] | None = None

    def configure(
        self, url: str | None, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        """Deliver to `url` (None stops deliveries; pending ones wait for a URL)."""
        self.url = url
        self.transport = transport

    def collect(self) -> int:
        """Take new changes from every portal into the journal and, with a URL, the outbox."""
        taken = 0
        for portal in self.sandbox.portals.values():
            if not portal.changes:
                continue
            events, portal.changes = portal.changes, []
            taken += len(events)
            for i in range(0, len(events), MAX_BATCH):
                self.journal_book.publish(portal.portal_id, events[i : i + MAX_BATCH])
            if self.url is None:
                continue
            for i in range(0, len(events), MAX_BATCH):
                self.outbox.append(Delivery(events[i : i + MAX_BATCH]))
        return taken

    def kick(self) -> None:
        """After a call: pick up its changes and make sure a sender is running."""
        self.collect()
        if self.url is None or not self.outbox:
            return
        self._wake.set()
        if self._task is None or self._task.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._task = loop.create_task(self._run(), name="sandbox-webhooks")

    async def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until every delivery due so far went out and was answered (tests, demos)."""
        self.kick()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            due = any(d.due <= time.monotonic() for d in self.outbox)
            if not due and not self._in_flight:
                break
            await asyncio.sleep(0.005)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        async with httpx.AsyncClient(transport=self.transport, timeout=5.0) as client:
            while self.outbox:
                now = time.monotonic()
                ready = [d for d in self.outbox if d.due <= now]
                if not ready:
                    self._wake.clear()
                    wait = min(d.due for d in self.outbox) - now
                    try:
                        await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.001))
                    except TimeoutError:
                        pass
                    continue
                for delivery in ready:
                    self.outbox.remove(delivery)
                ready = self._coalesce(ready)
                if self.disorder and len(ready) > 1:
                    self._rng.shuffle(ready)
                for delivery in ready:
                    self._in_flight += 1
                    try:
                        await self._send(client, delivery)
                        if self.disorder and self._rng.random() < self.disorder:
                            # At least once: HubSpot may deliver the same events again.
                            await self._send(client, Delivery(delivery.events, delivery.attempt))
                    finally:
                        self._in_flight -= 1

    @staticmethod
    def _coalesce(ready: list[Delivery]) -> list[Delivery]:
        """First attempts of one portal go out together, up to 100 events a request, as
        HubSpot batches; retries keep their own batch and attempt number."""
        out = [d for d in ready if d.attempt]
        fresh: dict[int, list[dict[str, Any]]] = {}
        for d in ready:
            if not d.attempt:
                fresh.setdefault(int(d.events[0]["portalId"]), []).extend(d.events)
        for events in fresh.values():
            out += [Delivery(events[i : i + MAX_BATCH]) for i in range(0, len(events), MAX_BATCH)]
        return out

    async def _send(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        url = self.url
        if url is None:
            self.outbox.append(delivery)
            return
        events = [{**e, "attemptNumber": delivery.attempt} for e in delivery.events]
        body = json.dumps(events, separators=(",", ":")).encode()
        ts = int(time.time() * 1000)
        secret = self.sandbox.config.client_secret
        headers = {
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": sign_v3(secret, "POST", url, body, ts),
            "X-HubSpot-Request-Timestamp": str(ts),
            "X-HubSpot-Signature": hashlib.sha256(secret.encode() + body).hexdigest(),
            "X-HubSpot-Signature-Version": "v1",
            "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) (sandbox)",
        }
        status: int | None = None
        error: str | None = None
        try:
            answer = await client.post(url, content=body, headers=headers)
            status = answer.status_code
            if 200 <= status < 300:
                self.stats.delivered_batches += 1
                self.stats.delivered_events += len(events)
            else:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        self.stats.last_status = status
        self.stats.attempts_log.append(
            {"events": len(events), "attempt": delivery.attempt, "status": status, "error": error}
        )
        if error is None:
            return
        self.stats.failed_attempts += 1
        self.stats.last_error = error
        if delivery.attempt + 1 >= self.max_attempts:
            self.stats.dropped_batches += 1
            return
        delay = self.retry_base_s * (2**delivery.attempt) * (0.5 + self._rng.random())
        self.outbox.append(
            Delivery(delivery.events, delivery.attempt + 1, time.monotonic() + delay)
        )

    def status(self) -> dict[str, Any]:
        s = self.stats
        return {
            "url": self.url,
            "pending_batches": len(self.outbox),
            "pending_events": sum(len(d.events) for d in self.outbox),
            "in_flight": self._in_flight,
            "delivered_batches": s.delivered_batches,
            "delivered_events": s.delivered_events,
            "failed_attempts": s.failed_attempts,
            "dropped_batches": s.dropped_batches,
            "last_status": s.last_status,
            "last_error": s.last_error,
            "journal_events": sum(len(e.events) for e in self.journal_book.entries),
            "max_attempts": self.max_attempts,
            "retry_base_s": self.retry_base_s,
            "disorder": self.disorder,
        }


# --------------------------------------------------------------------------- admin endpoints


@routes.add("GET", "admin.webhooks.get", "/_sandbox/webhooks", kind="admin")
async def get_webhooks(call: Call) -> Response:
    return json_response(call.sandbox.webhooks.status())


@routes.add("GET", "admin.webhooks.events", "/_sandbox/webhooks/events", kind="admin")
async def get_webhook_events(call: Call) -> Response:
    """Every event the sandbox has emitted (still in its journal): [[portalId, eventId], …],
    so a benchmark can tell an event lost from one delivered."""
    book = call.sandbox.webhooks.journal_book
    return json_response(
        {"events": [[e["portalId"], e["eventId"]] for entry in book.entries for e in entry.events]}
    )


@routes.add("PUT", "admin.webhooks.put", "/_sandbox/webhooks", kind="admin")
async def put_webhooks(call: Call) -> Response:
    """Set where deliveries go: {"url": "http://host/webhooks/hubspot"} (null stops them)."""
    body = call.json_object()
    url = body.get("url")
    if url is not None and (
        not isinstance(url, str) or not url.startswith(("http://", "https://"))
    ):
        raise validation("url must be an absolute http(s) URL or null")
    hooks = call.sandbox.webhooks
    hooks.configure(url, transport=hooks.transport if url == hooks.url else None)
    for key, attr, kind in (
        ("max_attempts", "max_attempts", int),
        ("retry_base_s", "retry_base_s", float),
        ("disorder", "disorder", float),
    ):
        if key in body:
            try:
                setattr(hooks, attr, kind(body[key]))
            except (TypeError, ValueError):
                raise validation(f"{key} must be a number") from None
    return json_response(hooks.status())


@routes.add(
    "PATCH",
    "admin.portals.edit",
    "/_sandbox/portals/{portal_id}/objects/{object_type}/{object_id}",
    kind="admin",
)
async def edit_as_user(call: Call) -> Response:
    """Change a record as a HubSpot user would in HubSpot's UI (changeSource CRM_UI):
    {"properties": {"firstname": "Ada"}}. Webhook subscribers hear of it like any change."""
    portal = call.sandbox.portal(int(call.params["portal_id"]))
    otype = resolve_type(call.params["object_type"])
    record = portal.live(otype, call.params["object_id"])
    if record is None:
        raise ApiError(404, "resource not found", "OBJECT_NOT_FOUND")
    props = call.json_object().get("properties")
    if not isinstance(props, dict) or not props:
        raise validation("properties must be a non-empty object of property values")
    portal.update_as_user(otype, record, props, call.sandbox.now())
    return json_response({"id": str(record.id), "properties": record.properties})


@routes.add("POST", "admin.changes.stream", "/_sandbox/changes/stream", kind="admin")
async def start_change_stream(call: Call) -> Response:
    """Edit records "as a user" at a steady rate, from inside the sandbox (a benchmark's load
    without one HTTP call per change): {"objectType": "contacts", "ids": [...], "rate": 200,
    "count": 2000, "property": "firstname"}. Values are `v0`, `v1`, … in order."""
    body = call.json_object()
    otype = resolve_type(str(body.get("objectType", "contacts")))
    ids = [int(i) for i in body.get("ids") or [] if str(i).isdigit()]
    rate, count = float(body.get("rate", 100)), int(body.get("count", 100))
    prop = str(body.get("property", "firstname"))
    if not ids or not 0 < rate <= 10_000 or not 0 < count <= 1_000_000:
        raise validation("ids must be given; 0 < rate <= 10000; 0 < count <= 1000000")
    sb = call.sandbox
    portal = sb.portal(int(body.get("portalId") or next(iter(sb.portals))))
    stream = sb.webhooks.change_stream = {"edits": [], "running": True}
    rng = random.Random(count)  # noqa: S311 - which record changes next need not be secret

    async def run() -> None:
        t0 = time.monotonic()
        try:
            for n in range(count):
                delay = t0 + n / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                record = portal.live(otype, rng.choice(ids))
                if record is None:
                    continue
                portal.update_as_user(otype, record, {prop: f"v{n}"}, sb.now())
                stream["edits"].append([f"v{n}", record.id, time.time()])
                sb.webhooks.kick()
        finally:
            stream["running"] = False

    sb.webhooks.stream_task = asyncio.get_running_loop().create_task(run())
    return json_response({"started": True, "count": count, "rate": rate}, status=202)


@routes.add("GET", "admin.changes.stream.get", "/_sandbox/changes/stream", kind="admin")
async def get_change_stream(call: Call) -> Response:
    """The stream's progress and its edits: [[value, record id, epoch seconds], …]."""
    stream = call.sandbox.webhooks.change_stream or {"edits": [], "running": False}
    return json_response(stream)
