"""Small stand-ins for the scheduler's collaborators: a clock, a runtime and a send recorder.

The client here fakes the part of HubSpotClient the sends use (contacts.batch_read,
sends.single_send), answering the client's own models; its sends are recorded, so tests can
count exactly how many times each recipient was sent to. The end-to-end tests use the real
client against the sandbox instead.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from atom_hubspot.client.models import BatchResult, CrmObject, SendResult
from atom_hubspot.errors import NotConnected, Unavailable
from atom_hubspot.runtime import HubSpotRuntime
from atom_hubspot.settings import HubSpotSettings


@dataclass
class SendLog:
    """Every single-send call that reached the fake HubSpot, across runners."""

    calls: list[tuple[int, str]] = field(default_factory=list)

    def per_address(self) -> Counter[str]:
        return Counter(addr for _, addr in self.calls)


class _Contacts:
    def __init__(self, emails: dict[str, str | None], fail_times: list[int]) -> None:
        self.emails = emails
        self.fail_times = fail_times

    async def batch_read(
        self, ids: list[str], *, properties: list[str] | None = None, **_: Any
    ) -> BatchResult:
        if self.fail_times and self.fail_times[0] > 0:
            self.fail_times[0] -= 1
            raise Unavailable("HubSpot answered 503")
        return BatchResult(
            results=[
                CrmObject(id=i, properties={"email": self.emails[i]})
                for i in ids
                if i in self.emails
            ]
        )


class _Sends:
    def __init__(self, log: SendLog, hang_on: set[str], gate: asyncio.Event | None) -> None:
        self.log = log
        self.hang_on = hang_on
        self.gate = gate

    async def single_send(self, email_id: int, to: str, **_: Any) -> SendResult:
        if to in self.hang_on:
            await asyncio.Event().wait()  # never answers: the process "dies" here
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(0)
        self.log.calls.append((email_id, to))
        return SendResult(
            status="COMPLETE", status_id=f"s-{len(self.log.calls)}", send_result="SENT"
        )


class FakeClient:
    def __init__(
        self,
        log: SendLog,
        *,
        emails: dict[str, str | None] | None = None,
        hang_on: set[str] | None = None,
        fail_reads: int = 0,
        gate: asyncio.Event | None = None,
    ) -> None:
        self.contacts = _Contacts(emails or {}, [fail_reads])
        self.sends = _Sends(log, hang_on or set(), gate)


@dataclass
class FakeConnection:
    id: str
    portal_id: int


class FakeConnections:
    def __init__(self, client: FakeClient, *, connected: set[str] | None = None) -> None:
        self.client = client
        self.connected = connected  # tenant ids with a connection; None = everyone

    async def client_for(self, principal: Any, portal_id: int | None = None) -> Any:
        if self.connected is not None and principal.tenant_id not in self.connected:
            raise NotConnected("No HubSpot connection for this user.")
        return self.client, FakeConnection(id="conn-1", portal_id=portal_id or 1)


def runtime_over(db: Any, connections: FakeConnections) -> HubSpotRuntime:
    """The plugin's real runtime (it builds the services) over a database and the fake
    connections: no HTTP client or OAuth flow behind it."""
    return HubSpotRuntime(
        settings=HubSpotSettings(_env_file=None),  # type: ignore[call-arg]
        http=None,  # type: ignore[arg-type]
        db=db,
        connections=connections,  # type: ignore[arg-type]
        oauth=None,  # type: ignore[arg-type]
    )
