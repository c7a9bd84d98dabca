"""Scheduled sends through the stub host: stored by `POST /send-email` with a future `send_at`,
listed and cancelled per principal, and performed exactly once by the runner the plugin runs in
the host — after a host restart, and with two hosts serving the same database (SQLite and
PostgreSQL). The runners' clocks are swapped for a fake one, so nothing waits for real time
beyond polling the background loop."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.clocks import DateClock
from tests.marketing.conftest import Stack, host_env, running_host


def _published_email(stack: Stack) -> int:
    return next(int(i) for i, e in sorted(stack.demo.emails.items()) if e["isPublished"])


async def _schedule(
    stack: Stack, addresses: list[str], send_at: datetime, contact_ids: list[str] | None = None
) -> str:
    r = await stack.alice.post(
        "/api/hubspot/send-email",
        json={
            "email_id": _published_email(stack),
            "emails": addresses,
            "contact_ids": contact_ids or [],
            "send_at": send_at.isoformat(),
        },
    )
    assert r.status_code == 202, r.text
    data = r.json()["data"]
    assert data["mode"] == "scheduled" and data["summary"] is None
    assert data["scheduled"]["status"] == "pending"
    return str(data["scheduled"]["id"])


def _advance_runner(stack: Stack, to: datetime) -> None:
    runner = stack.runtime.scheduler
    assert runner is not None, "the plugin did not start its scheduled-send runner"
    runner.clock = DateClock(to)


async def _wait_final(stack: Stack, ids: list[str], timeout_s: float = 15.0) -> dict[str, Any]:
    """Poll the API until every send left pending/claimed (the background loop performs them)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        r = await stack.alice.get("/api/hubspot/scheduled-sends", params={"limit": 100})
        by_id = {i["id"]: i for i in r.json()["data"]["results"]}
        if all(by_id[i]["status"] not in ("pending", "claimed") for i in ids):
            return by_id
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not performed in time: {[by_id[i]['status'] for i in ids]}")
        await asyncio.sleep(0.05)


async def test_list_get_cancel_are_per_principal(stack: Stack) -> None:
    later = datetime.now(UTC) + timedelta(hours=2)
    keep = await _schedule(stack, ["keep@example.com"], later)
    drop = await _schedule(stack, ["drop@example.com"], later)

    r = await stack.alice.get("/api/hubspot/scheduled-sends")
    assert {i["id"] for i in r.json()["data"]["results"]} == {keep, drop}
    r = await stack.bob.get("/api/hubspot/scheduled-sends")
    assert r.status_code == 200 and r.json()["data"]["results"] == []
    for method in ("GET", "DELETE"):
        r = await stack.bob.request(method, f"/api/hubspot/scheduled-sends/{drop}")
        assert r.status_code == 404, (method, r.text)
    r = await stack.alice.get(f"/api/hubspot/scheduled-sends/{drop}")
    assert r.json()["data"]["status"] == "pending"  # Bob's DELETE changed nothing

    r = await stack.alice.delete(f"/api/hubspot/scheduled-sends/{drop}")
    assert r.status_code == 200 and r.json()["data"]["status"] == "cancelled"
    r = await stack.alice.delete(f"/api/hubspot/scheduled-sends/{drop}")
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    r = await stack.alice.get("/api/hubspot/scheduled-sends", params={"status": "pending"})
    assert [i["id"] for i in r.json()["data"]["results"]] == [keep]
    r = await stack.alice.get("/api/hubspot/scheduled-sends/not-a-uuid")
    assert r.status_code == 422

    _advance_runner(stack, later + timedelta(seconds=1))
    done = await _wait_final(stack, [keep])
    assert done[keep]["status"] == "sent" and done[drop]["status"] == "cancelled"
    assert [s["to"] for s in stack.sandbox.sends()] == ["keep@example.com"]
    r = await stack.alice.delete(f"/api/hubspot/scheduled-sends/{keep}")
    assert r.status_code == 409


async def test_performed_once_across_a_host_restart(
    hubspot_env: dict[str, str], marketing_db_url: str, sandbox_app: Any
) -> None:
    env = host_env(hubspot_env, marketing_db_url, HUBSPOT_SCHEDULER_INTERVAL="0.05")
    send_at = datetime.now(UTC) + timedelta(hours=1)
    async with running_host(env, sandbox_app) as first:
        contact = next(
            c for c in first.demo.records["contacts"].values() if c.properties.get("email")
        )
        sid = await _schedule(first, ["restart@example.com"], send_at, [str(contact.id)])
        await asyncio.sleep(0.2)  # a few ticks of the first host's runner: not due yet
        assert first.sandbox.sends() == []
    # The first host is gone; a new one starts on the same database.
    async with running_host(env, sandbox_app, connect=False) as second:
        _advance_runner(second, send_at + timedelta(seconds=1))
        done = await _wait_final(second, [sid])
        assert done[sid]["status"] == "sent", done[sid]
        assert [r["status"] for r in done[sid]["results"]] == ["sent", "sent"]
        await asyncio.sleep(0.2)  # more ticks: nothing is sent a second time
        sends = Counter(s["to"] for s in second.sandbox.sends())
        assert sends == {"restart@example.com": 1, contact.properties["email"]: 1}
        assert done[sid]["attempts"] == 1


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
async def test_two_hosts_on_one_database_send_each_once(
    db: str,
    request: pytest.FixtureRequest,
    hubspot_env: dict[str, str],
    sandbox_app: Any,
) -> None:
    if db == "sqlite":
        url = request.getfixturevalue("marketing_db_url")
    else:
        url = request.getfixturevalue("marketing_pg_url")
    env = host_env(hubspot_env, url, HUBSPOT_SCHEDULER_INTERVAL="0.02")
    send_at = datetime.now(UTC) + timedelta(hours=1)
    async with (
        running_host(env, sandbox_app) as one,
        running_host(env, sandbox_app, connect=False) as two,
    ):
        ids = [
            await _schedule(one if n % 2 else two, [f"r{n}@example.com"], send_at)
            for n in range(12)
        ]
        # Both hosts' runners see every row due at the same moment and race for them.
        _advance_runner(one, send_at + timedelta(seconds=1))
        _advance_runner(two, send_at + timedelta(seconds=1))
        done = await _wait_final(one, ids)
        await asyncio.sleep(0.2)
        assert {done[i]["status"] for i in ids} == {"sent"}
        sends = Counter(s["to"] for s in one.sandbox.sends())
        assert sends == {f"r{n}@example.com": 1 for n in range(12)}
        assert {done[i]["attempts"] for i in ids} == {1}
