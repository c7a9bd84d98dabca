"""Production and QA never mix, through the host on SQLite and PostgreSQL: a portal connected
in QA is not listed, refreshed, synced or called while the host runs production (and the other
way round); a caller who addresses it gets 409 `environment_mismatch` naming both environments
and how to reconnect; the dashboard shows the environment in force and each account's."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from atom_hubspot.storage.db import Database
from atom_hubspot.storage.models import Connection, ScheduledSend
from tests.clocks import DateClock
from tests.environments.conftest import (
    PRODUCTION_PORTAL,
    QA_PORTAL,
    World,
    calls,
)


async def _environments(world: World) -> dict[int, str]:
    db = Database(world.database_url)
    try:
        async with db.session(None, read_only=True) as s:
            rows = await s.execute(sa.select(Connection.portal_id, Connection.environment))
            return {int(p): str(e) for p, e in rows}
    finally:
        await db.dispose()


def _mismatch(answer, made_in: str, runs_in: str) -> None:
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error["code"] == "environment_mismatch"
    assert f"made in the {made_in} environment" in error["message"]
    assert f"runs in {runs_in}" in error["message"]
    assert "POST /auth/hubspot" in error["message"]
    assert error["details"]["connection_environment"] == made_in
    assert error["details"]["host_environment"] == runs_in


async def test_a_qa_connection_is_neither_listed_nor_called_in_production(world: World) -> None:
    # 1. The host runs QA: Alice connects the test account through the QA app.
    async with world.host("qa") as qa:
        connected = await qa.connect("alice", QA_PORTAL)
        assert connected.status_code == 200, connected.text
        data = connected.json()["data"]
        assert data["portal_id"] == QA_PORTAL and data["environment"] == "qa"
        async with qa.client("alice") as c:
            contacts = await c.get("/api/hubspot/contacts", params={"source": "live"})
            assert contacts.status_code == 200, contacts.text
            assert contacts.json()["meta"]["portal_id"] == QA_PORTAL
            status = (await c.get("/api/hubspot/auth/status")).json()["data"]
            assert [(x["portal_id"], x["environment"]) for x in status["connections"]] == [
                (QA_PORTAL, "qa")
            ]
    assert calls(world.production) == 0, "the QA host called the production HubSpot"
    assert await _environments(world) == {QA_PORTAL: "qa"}

    # 2. The same database under production: the QA connection is out of use.
    qa_calls = calls(world.qa)
    async with world.host("production") as prod:
        async with prod.client("alice") as c:
            status = (await c.get("/api/hubspot/auth/status")).json()["data"]
            assert status["connections"] == []
            _mismatch(await c.get("/api/hubspot/contacts"), "qa", "production")
            _mismatch(
                await c.get("/api/hubspot/contacts", params={"portal_id": QA_PORTAL}),
                "qa",
                "production",
            )
            _mismatch(await c.post("/auth/hubspot/refresh"), "qa", "production")
            _mismatch(
                await c.post("/api/hubspot/auth/default", json={"portal_id": QA_PORTAL}),
                "qa",
                "production",
            )
            _mismatch(await c.delete("/auth/hubspot"), "qa", "production")
            # The host capability too: another plugin asking for Alice's CRM.
            crm = await c.get("/api/crm/contacts")
            assert crm.status_code == 409, crm.text
        assert await prod.runtime.mirror_sync.connected_portals() == []
        # Bob, with no connection at all, is simply not connected.
        async with prod.client("bob") as c:
            assert (await c.get("/api/hubspot/contacts")).json()["error"]["code"] == (
                "not_connected"
            )

        # The dashboard: environment in force, and the QA account marked as out of use.
        async with prod.client("alice") as c:
            report = (await c.get("/api/integrations")).json()
            page = " ".join((await c.get("/")).text.split())
        assert (
            f'<tr><td class="check"><code>{QA_PORTAL}</code></td>'
            '<td>acme-test.hubspot.sandbox</td> <td class="check">qa</td>'
            "<td>other environment</td></tr>"
        ) in page
        assert "<td>HubSpot environment</td><td><code>production</code></td>" in page
        assert "Not connected." in page.split('id="integration-hubspot"')[1]
        hubspot = next(i for i in report["integrations"] if i["name"] == "hubspot")
        in_effect = {v["key"]: v["value"] for v in hubspot["config_summary"]}
        assert in_effect["HUBSPOT_ENVIRONMENT"] == "production"
        assert in_effect["HUBSPOT_API_BASE_URL"] == "http://sandbox.local"
        assert [(a["id"], a["environment"], a["status"]) for a in hubspot["accounts"]] == [
            (str(QA_PORTAL), "qa", "other_environment")
        ]
        assert hubspot["status"] == "not_connected"

        # 3. Alice connects in production: that one is used, the QA one still is not.
        connected = await prod.connect("alice", PRODUCTION_PORTAL)
        assert connected.status_code == 200, connected.text
        async with prod.client("alice") as c:
            contacts = await c.get("/api/hubspot/contacts", params={"source": "live"})
            assert contacts.status_code == 200, contacts.text
            assert contacts.json()["meta"]["portal_id"] == PRODUCTION_PORTAL
            status = (await c.get("/api/hubspot/auth/status")).json()["data"]
            assert [
                (x["portal_id"], x["environment"], x["is_default"]) for x in status["connections"]
            ] == [(PRODUCTION_PORTAL, "production", True)]
            _mismatch(
                await c.get("/api/hubspot/contacts", params={"portal_id": QA_PORTAL}),
                "qa",
                "production",
            )
        assert await prod.runtime.mirror_sync.connected_portals() == [PRODUCTION_PORTAL]
    assert calls(world.qa) == qa_calls, "the production host called the QA HubSpot"
    assert await _environments(world) == {QA_PORTAL: "qa", PRODUCTION_PORTAL: "production"}

    # 4. Back in QA: its connection works again (its tokens were never touched), and the
    # production one is refused the same way.
    prod_calls = calls(world.production)
    async with world.host("qa") as qa:
        async with qa.client("alice") as c:
            contacts = await c.get("/api/hubspot/contacts", params={"source": "live"})
            assert contacts.status_code == 200, contacts.text
            assert contacts.json()["meta"]["portal_id"] == QA_PORTAL
            _mismatch(
                await c.get("/api/hubspot/contacts", params={"portal_id": PRODUCTION_PORTAL}),
                "production",
                "qa",
            )
    assert calls(world.production) == prod_calls


async def test_a_connect_link_started_in_qa_completes_nothing_in_production(
    world: World,
) -> None:
    from atom_hubspot.sandbox.testing import approve

    async with world.host("qa") as qa, qa.client("alice") as c:
        start = await c.post("/auth/hubspot")
        back = await approve(start.json()["data"]["url"], world.qa, portal_id=QA_PORTAL)
    path = back.split("host.local", 1)[1]
    async with world.host("production") as prod, prod.client("alice") as c:
        answer = await c.get(path)
        assert answer.status_code == 409, answer.text
        assert "started while the host ran in qa" in answer.text
    assert calls(world.production) == 0
    assert await _environments(world) == {}


async def _scheduled_status(world: World, send_id: str) -> str:
    db = Database(world.database_url)
    try:
        async with db.session(None, read_only=True) as s:
            return str(
                await s.scalar(sa.select(ScheduledSend.status).where(ScheduledSend.id == send_id))
            )
    finally:
        await db.dispose()


async def test_a_send_scheduled_in_qa_waits_for_a_qa_host(world: World) -> None:
    sandbox = world.qa.app.state.sandbox  # type: ignore[attr-defined]
    portal = sandbox.portals[QA_PORTAL]
    email_id = next(int(i) for i, e in sorted(portal.emails.items()) if e["isPublished"])
    send_at = datetime.now(UTC) + timedelta(hours=1)
    async with world.host("qa") as qa:
        assert (await qa.connect("alice", QA_PORTAL)).status_code == 200
        async with qa.client("alice") as c:
            r = await c.post(
                "/api/hubspot/send-email",
                json={
                    "email_id": email_id,
                    "emails": ["ada@example.com"],
                    "send_at": (send_at.isoformat()),
                },
            )
            assert r.status_code == 202, r.text
            send_id = r.json()["data"]["scheduled"]["id"]

    # Production: the send is due, but its connection is QA's: not claimed, not failed.
    async with world.host("production") as prod:
        runner = prod.runtime.scheduler
        runner.clock = DateClock(send_at + timedelta(minutes=1))
        assert await runner.run_once() == 0
    assert await _scheduled_status(world, send_id) == "pending"
    assert calls(world.production) == 0 and portal.sends == []

    # QA again: performed there, once (by this call or the runner's own loop, whichever
    # claims it first).
    async with world.host("qa") as qa:
        runner = qa.runtime.scheduler
        runner.clock = DateClock(send_at + timedelta(minutes=1))
        deadline = asyncio.get_running_loop().time() + 15
        while await _scheduled_status(world, send_id) in ("pending", "claimed"):
            assert asyncio.get_running_loop().time() < deadline, "not performed in QA"
            await runner.run_once()
            await asyncio.sleep(0.05)
    assert await _scheduled_status(world, send_id) == "sent"
    assert len(portal.sends) == 1
