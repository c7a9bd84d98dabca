"""The sandbox's change feed: journal entries and webhook deliveries of the changes made in it.

Webhooks. Every change to a portal (API call, or an edit "as a user in HubSpot's UI" through the
admin endpoint) becomes an event in `Portal.changes`. After each call the dispatcher takes them
and, when a target URL is set, POSTs them in batches of at most 100, signed the way HubSpot
signs (v3, plus the older v1 header), retrying failed deliveries with a growing delay, up to 10
attempts, as HubSpot does (scaled down: HubSpot spreads its retries over about a day).
https://developers.hubspot.com/docs/api-reference/webhooks-webhooks-v3/guide

The signing here is the sandbox's own: it shares no code with the plugin's verifier, so a test
that passes shows two independent implementations agree.

The journal. Each time the sandbox takes new changes (after a call), it publishes one journal
entry per portal holding them. Readers walk the entries by offset: `earliest`, `latest`,
`offset/{o}/next`, each answering a JournalFetchResponse `{currentOffset, url, expiresAt}`; the
file behind `url` holds `{offset, publishedAt, journalEvents[]}`. Reads need the app's client-
credentials token with `developer.webhooks_journal.read`. The journal keeps about three days; an
offset it no longer has answers 404. When nothing newer exists, `next` answers 204 (HubSpot does
not document that case; the plugin also accepts 404 there and then checks how old its offset
is).
https://developers.hubspot.com/docs/api-reference/latest/webhooks-journal/journal-entries/guide

Both read the sandbox through `ChangeSource` (what `core.Sandbox` offers), so this module
imports neither the sandbox's core nor its routing; the endpoints live in `webhooks.py` and
`journal.py`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import random
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from atom_hubspot.sandbox.config import SandboxConfig
from atom_hubspot.sandbox.objects import OBJECT_TYPES
from atom_hubspot.sandbox.state import Portal

MAX_BATCH = 100
JOURNAL_SCOPE = "developer.webhooks_journal.read"
SUBSCRIPTIONS_SCOPE = "developer.webhooks_journal.subscriptions.read"
RETENTION_S = 3 * 86_400
_ACTIONS = {
    "creation": "CREATE",
    "propertyChange": "UPDATE",
    "deletion": "DELETE",
    "restore": "RESTORE",
    "merge": "MERGE",
    "privacyDeletion": "DELETE",
}
_TYPE_IDS = {t.singular: t.type_id for t in OBJECT_TYPES.values()}


class ChangeSource(Protocol):
    """What the journal and the dispatcher read of the sandbox."""

    config: SandboxConfig
    portals: dict[int, Portal]

    def now(self) -> float: ...


@dataclass
class JournalEntry:
    offset: str
    portal_id: int
    published_at: float
    events: list[dict[str, Any]]


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def journal_event(event: dict[str, Any]) -> dict[str, Any]:
    """A webhook-shaped change in the journal's (provisional) shape."""
    head, _, kind = event["subscriptionType"].partition(".")
    out: dict[str, Any] = {
        "portalId": event["portalId"],
        "occurredAt": event["occurredAt"],
        "objectTypeId": _TYPE_IDS.get(head, head),
        "objectId": event.get("objectId"),
        "changeSource": event.get("changeSource"),
    }
    if kind == "associationChange":
        out["action"] = (
            "ASSOCIATION_REMOVED" if event.get("associationRemoved") else "ASSOCIATION_ADDED"
        )
        out["associatedObjectId"] = event.get("toObjectId")
        out["associationType"] = event.get("associationType")
    else:
        out["action"] = _ACTIONS.get(kind, kind.upper())
    if kind == "propertyChange":
        out["propertyChanges"] = [
            {"propertyName": event.get("propertyName"), "propertyValue": event.get("propertyValue")}
        ]
    if kind == "privacyDeletion":
        out["privacyDeletion"] = True
    return out


class Journal:
    def __init__(self, sandbox: ChangeSource) -> None:
        self.sandbox = sandbox
        self.entries: list[JournalEntry] = []
        self._counter = 0

    def publish(self, portal_id: int, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        self._counter += 1
        offset = str(
            uuid.UUID(int=(self.sandbox.config.seed_value << 64) + self._counter, version=4)
        )
        self.entries.append(JournalEntry(offset, portal_id, self.sandbox.now(), events))

    def live(self, portal_id: int | None) -> list[JournalEntry]:
        horizon = self.sandbox.now() - RETENTION_S
        return [
            e
            for e in self.entries
            if e.published_at >= horizon and (portal_id is None or e.portal_id == portal_id)
        ]


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
    def __init__(self, sandbox: ChangeSource) -> None:
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
