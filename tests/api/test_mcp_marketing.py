"""HubSpot's marketing tools over MCP, driven by the MCP SDK's client against the sandbox:
lists page past 10,000 members, a send previews its recipients and cost and goes out once."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

pytest.importorskip("mcp")

from atom_hubspot.sandbox.objects import OBJECT_TYPES
from atom_hubspot.sandbox.state import CrmList
from tests.api.conftest import PORTAL_A, Stack
from tests.api.test_mcp import in_process, over_http, structured


def published_email(stack: Stack) -> int:
    emails = stack.sandbox.portals[PORTAL_A].emails
    return next(int(i) for i, e in sorted(emails.items()) if e["isPublished"])


async def test_list_members_page_past_ten_thousand(stack: Stack) -> None:
    portal = stack.sandbox.portals[PORTAL_A]
    now = time.time()
    big = CrmList(portal.next_list_id, "Big list", "MANUAL", "0-1", None, now, now)
    # 10,250 real contacts of the portal (HubSpot lists only live records as members).
    big.members = {rid: now for rid in portal.bulk_create(OBJECT_TYPES["contacts"], 10_250, now)}
    portal.lists[big.list_id] = big
    portal.next_list_id += 1
    seen: set[Any] = set()
    async with in_process(stack, "alice") as client:
        cursor = None
        pages = 0
        while True:
            args: dict[str, Any] = {"list_id": str(big.list_id), "limit": 250}
            if cursor:
                args["cursor"] = cursor
            page = structured(await client.call_tool("marketing_lists", args))
            assert page["truncated"] is (page["next_cursor"] is not None)
            seen.update(page["results"])
            pages += 1
            cursor = page["next_cursor"]
            if not cursor:
                break
    assert len(seen) == 10_250 and pages == 41


async def test_send_previews_recipients_then_sends_once(stack: Stack) -> None:
    portal = stack.sandbox.portals[PORTAL_A]
    sends_before = len(portal.sends)
    args = {"email_id": published_email(stack), "emails": ["ada@example.com", "bo@example.com"]}
    async with over_http(stack, "alice") as client:
        preview = structured(await client.call_tool("marketing_send_email", args))
        assert preview["preview"]["recipients"] == 2
        assert preview["preview"]["budget_cost"] >= 2
        assert len(portal.sends) == sends_before
        confirmed = {**args, "confirmation_token": preview["confirmation_token"]}
        done = structured(await client.call_tool("marketing_send_email", confirmed))
        again = structured(await client.call_tool("marketing_send_email", confirmed))
    assert done["result"]["data"]["mode"] == "sent" and again["replayed"] is True
    assert len(portal.sends) == sends_before + 2


async def test_list_create_and_members_need_confirmation(stack: Stack) -> None:
    async with in_process(stack, "alice") as client:
        args = {"name": "From the assistant"}
        preview = structured(await client.call_tool("marketing_list_create", args))
        made = structured(
            await client.call_tool(
                "marketing_list_create",
                {**args, "confirmation_token": preview["confirmation_token"]},
            )
        )
        list_id = made["result"]["data"]["id"]
        contacts = structured(
            await client.call_tool("crm_search", {"object_type": "contacts", "limit": 3})
        )
        ids = [c["id"] for c in contacts["results"]]
        margs = {"list_id": list_id, "add": ids}
        preview = structured(await client.call_tool("marketing_list_members", margs))
        assert preview["preview"]["changes"]["add"] == 3
        members = structured(await client.call_tool("marketing_lists", {"list_id": list_id}))
        assert members["results"] == []
        token = preview["confirmation_token"]
        started = structured(
            await client.call_tool("marketing_list_members", {**margs, "confirmation_token": token})
        )
        job = {"job_id": started["job_id"], "wait_s": 30}
        ended = structured(await client.call_tool("job_status", job))
        assert ended["status"] == "succeeded" and ended["result"]["added"] == 3
        members = structured(await client.call_tool("marketing_lists", {"list_id": list_id}))
        assert sorted(members["results"]) == sorted(ids) and members["total"] == 3
    async with in_process(stack, "bob") as bob:  # Alice's list is not Bob's
        answer = await bob.call_tool("marketing_list_members", margs)
        assert answer.is_error


async def test_campaigns_and_sync_status(stack: Stack) -> None:
    async with in_process(stack, "alice") as client:
        listed = structured(await client.call_tool("marketing_campaigns", {}))
        assert "truncated" in listed
        status = structured(await client.call_tool("hubspot_sync_status", {}))
        assert [p["portal_id"] for p in status["data"]["portals"]] == [PORTAL_A]
    async with in_process(stack, "carol") as carol:
        status = structured(await carol.call_tool("hubspot_sync_status", {}))
        assert status["data"]["portals"] == []


async def test_records_come_from_the_mirror_when_current_and_say_so(stack: Stack) -> None:
    await stack.runtime.mirror_sync.sync_portal(PORTAL_A)  # type: ignore[attr-defined]
    contacts = {"object_type": "contacts", "limit": 5}
    async with in_process(stack, "alice") as client:
        mirrored = structured(await client.call_tool("hubspot_records", contacts))
        assert mirrored["source"] == "mirror" and mirrored["as_of"]
        assert len(mirrored["results"]) == 5
        assert mirrored["truncated"] is True
        live = structured(await client.call_tool("hubspot_records", {**contacts, "source": "live"}))
        assert live["source"] == "live"
        one_id = mirrored["results"][0]["id"]
        one = structured(
            await client.call_tool("hubspot_records", {"object_type": "contacts", "id": one_id})
        )
        assert one["source"] == "mirror" and one["results"][0]["id"] == one_id
    async with in_process(stack, "bob") as bob:  # Bob's portal is not synced: live, his own
        theirs = structured(await bob.call_tool("hubspot_records", contacts))
        assert theirs["source"] == "live"
        assert (
            one_id not in {r["id"] for r in theirs["results"]}
            or theirs["results"] != (mirrored["results"])
        )


async def test_analytics_deals_contacts_and_email_statistics(stack: Stack) -> None:
    async with over_http(stack, "alice") as client:
        deals = structured(await client.call_tool("marketing_analytics", {"report": "deals"}))
        assert deals["data"]["source"] in ("mirror", "live")
        contacts = structured(await client.call_tool("marketing_analytics", {"report": "contacts"}))
        assert "source" in contacts["data"]
        emails = structured(
            await client.call_tool(
                "marketing_analytics",
                {"report": "emails", "start": "2026-01-01", "end": "2026-12-31"},
            )
        )
        assert "totals" in emails["data"] and emails["data"]["source"] == "live"
        wrong = await client.call_tool(
            "marketing_analytics", {"report": "emails", "start": "2026-12-31", "end": "2026-01-01"}
        )
        assert wrong.is_error


async def test_hubspot_tools_spend_the_assistants_lane_of_the_budget(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    governor = stack.host.context.state["hubspot.governor"]
    lanes: list[str] = []
    take = governor.acquire_slot

    async def recording(portal: str, *, search: bool = False, lane: str = "interactive") -> Any:
        lanes.append(lane)
        return await take(portal, search=search, lane=lane)

    monkeypatch.setattr(governor, "acquire_slot", recording)
    async with in_process(stack, "alice") as client:
        await client.call_tool("marketing_campaigns", {})
        await client.call_tool("hubspot_records", {"object_type": "deals", "source": "live"})
    assert lanes and set(lanes) == {"assistant"}
    lanes.clear()
    async with stack.client("alice") as http:  # a person's page stays interactive
        assert (await http.get("/api/hubspot/campaigns")).status_code == 200
    assert lanes and set(lanes) == {"interactive"}


async def test_associate_links_two_of_the_callers_records_after_confirmation(stack: Stack) -> None:
    portal = stack.sandbox.portals[PORTAL_A]
    async with in_process(stack, "alice") as client:
        contact = structured(
            await client.call_tool("crm_search", {"object_type": "contacts", "limit": 1})
        )["results"][0]["id"]
        company = structured(
            await client.call_tool("crm_search", {"object_type": "companies", "limit": 1})
        )["results"][0]["id"]
        args = {
            "object_type": "contacts",
            "id": contact,
            "to_object_type": "companies",
            "to_id": company,
        }
        before = set(portal.associations.get(("contacts", int(contact)), {}))
        preview = structured(await client.call_tool("hubspot_associate", args))
        assert preview["preview"]["records"] == 2
        assert set(portal.associations.get(("contacts", int(contact)), {})) == before
        token = preview["confirmation_token"]
        await client.call_tool("hubspot_associate", {**args, "confirmation_token": token})
    assert ("companies", int(company)) in portal.associations[("contacts", int(contact))]
    async with in_process(stack, "bob") as bob:
        missing = await bob.call_tool("hubspot_associate", {**args, "id": "99999999"})
        assert missing.is_error


async def test_email_performance_equals_the_routes_figures(stack: Stack) -> None:
    portal = stack.sandbox.portals[PORTAL_A]
    published = [e["_published_ts"] for e in portal.emails.values() if e.get("_published_ts")]
    start = datetime.fromtimestamp(min(published), UTC).date().isoformat()
    end = datetime.fromtimestamp(max(published), UTC).date().isoformat()
    one = next(int(i) for i, e in sorted(portal.emails.items()) if e.get("_published_ts"))
    asks = [
        ({"start_date": start, "end_date": end}, {}),
        ({"start_date": start, "end_date": end, "interval": "month"}, {"interval": "month"}),
        ({"start_date": start, "end_date": end, "email_ids": [one]}, {"email_ids": [one]}),
    ]
    async with stack.client("alice") as http, over_http(stack, "alice") as client:
        for params, extra in asks:
            route = await http.get("/api/hubspot/email-stats", params=params)
            assert route.status_code == 200, route.text
            figures = route.json()["data"]
            tool = structured(
                await client.call_tool(
                    "marketing_analytics", {"report": "emails", "start": start, "end": end, **extra}
                )
            )["data"]
            assert {k: tool[k] for k in figures} == figures
            assert figures["totals"]["sent"] > 0
