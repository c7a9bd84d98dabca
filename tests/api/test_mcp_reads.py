"""The host's CRM tools read from HubSpot's mirror when it is current and say so (`source`,
`as_of`); `source=live` forces HubSpot; every page says its total and whether more follow, and
a listing pages past HubSpot search's 10,000 results. Driven with the MCP SDK's own client
against the host with the HubSpot plugin and the sandbox."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
from hypothesis import strategies as st

pytest.importorskip("mcp")

from atom_hubspot.sandbox.objects import OBJECT_TYPES
from tests.api.conftest import PORTAL_A, Stack
from tests.api.test_mcp import in_process, over_http, structured
from tests.openapi_fuzzing import collect_examples


async def sync(stack: Stack, *objects: str) -> None:
    runtime: Any = stack.runtime
    await runtime.mirror_sync.sync_portal(PORTAL_A, objects=objects or ("contacts",))


async def synced_through(stack: Stack, object_type: str) -> datetime:
    runtime: Any = stack.runtime
    state = (await runtime.mirror.sync_states(PORTAL_A))[object_type]
    assert state.synced_through is not None
    return state.synced_through  # type: ignore[no-any-return]


async def test_reads_come_from_the_current_mirror_and_say_as_of_when(stack: Stack) -> None:
    await sync(stack, "contacts")
    through = await synced_through(stack, "contacts")
    portal = stack.sandbox.portals[PORTAL_A]
    live_count = sum(1 for r in portal.records["contacts"].values() if not r.archived)
    async with in_process(stack, "alice") as client:
        page = structured(
            await client.call_tool("crm_search", {"object_type": "contacts", "limit": 3})
        )
        assert page["source"] == "mirror"
        assert datetime.fromisoformat(page["as_of"]) == through
        assert page["total"] == live_count and page["truncated"] is True
        first = page["results"][0]
        one = structured(
            await client.call_tool("crm_get", {"object_type": "contacts", "id": first["id"]})
        )
        assert one["source"] == "mirror" and one["record"]["email"] == first["email"]
        # Changed in HubSpot (not through the plugin): the mirror has not seen it yet, and a
        # live read does.
        record = portal.records["contacts"][int(first["id"])]
        changed = {"firstname": "Changed Elsewhere"}
        portal.update_as_user(OBJECT_TYPES["contacts"], record, changed, time.time())
        forced = structured(
            await client.call_tool(
                "crm_get", {"object_type": "contacts", "id": first["id"], "source": "live"}
            )
        )
        assert forced["source"] == "live" and forced["record"]["first_name"] == "Changed Elsewhere"
        assert datetime.fromisoformat(forced["as_of"]) > through
        mirrored = structured(
            await client.call_tool("crm_get", {"object_type": "contacts", "id": first["id"]})
        )
        assert mirrored["record"]["first_name"] != "Changed Elsewhere"
        live_page = structured(
            await client.call_tool(
                "crm_search", {"object_type": "contacts", "limit": 3, "source": "live"}
            )
        )
        assert live_page["source"] == "live"


async def test_companies_not_synced_are_read_live_under_auto(stack: Stack) -> None:
    await sync(stack, "contacts")
    async with over_http(stack, "alice") as client:
        page = structured(await client.call_tool("crm_search", {"object_type": "companies"}))
        assert page["source"] == "live" and page["as_of"]
        refused = await client.call_tool(
            "crm_search", {"object_type": "companies", "source": "mirror"}
        )
        assert refused.is_error
        assert structured(refused)["error"]["code"] == "mirror_not_ready"


async def test_a_filtered_search_and_a_write_read_back_from_the_mirror(stack: Stack) -> None:
    await sync(stack, "contacts")
    async with in_process(stack, "alice") as client:
        args = {"object_type": "contacts", "fields": {"email": "mirror-rw@example.com"}}
        preview = structured(await client.call_tool("crm_create", args))
        token = preview["confirmation_token"]
        await client.call_tool("crm_create", {**args, "confirmation_token": token})
        by_email = {"field": "email", "op": "eq", "value": "mirror-rw@example.com"}
        found = structured(
            await client.call_tool(
                "crm_search", {"object_type": "contacts", "filters": [by_email], "source": "mirror"}
            )
        )
    assert found["source"] == "mirror"
    assert [r["email"] for r in found["results"]] == ["mirror-rw@example.com"]
    assert found["total"] == 1 and found["truncated"] is False


async def test_a_cursor_continues_in_its_own_source(stack: Stack) -> None:
    await sync(stack, "contacts")
    async with in_process(stack, "alice") as client:
        first = structured(
            await client.call_tool("crm_search", {"object_type": "contacts", "limit": 2})
        )
        assert first["source"] == "mirror"
        cursor = first["next_cursor"]
        wrong = await client.call_tool(
            "crm_search",
            {"object_type": "contacts", "limit": 2, "cursor": cursor, "source": "live"},
        )
        assert wrong.is_error
        error = structured(wrong)["error"]
        assert error["code"] == "validation_error" and "cursor" in error["message"]
        live = structured(
            await client.call_tool(
                "crm_search", {"object_type": "contacts", "limit": 2, "source": "live"}
            )
        )
        # A live page's cursor is followed live even though the mirror is current.
        after = structured(
            await client.call_tool(
                "crm_search", {"object_type": "contacts", "limit": 2, "cursor": live["next_cursor"]}
            )
        )
        assert after["source"] == "live"
        assert {r["id"] for r in live["results"]}.isdisjoint(r["id"] for r in after["results"])


async def test_paging_past_ten_thousand_contacts_says_total_and_truncated(stack: Stack) -> None:
    portal = stack.sandbox.portals[PORTAL_A]
    portal.bulk_create(OBJECT_TYPES["contacts"], 10_250, time.time() - 60)
    await sync(stack, "contacts")
    expected = {r.id for r in portal.records["contacts"].values() if not r.archived}
    assert len(expected) > 10_000
    seen: list[str] = []
    pages = 0
    async with in_process(stack, "alice") as client:
        cursor = None
        while True:
            args: dict[str, Any] = {"object_type": "contacts", "limit": 100}
            if cursor:
                args["cursor"] = cursor
            page = structured(await client.call_tool("crm_search", args))
            assert page["source"] == "mirror"
            assert page["total"] == len(expected)
            assert page["truncated"] is (page["next_cursor"] is not None)
            seen += [r["id"] for r in page["results"]]
            pages += 1
            cursor = page["next_cursor"]
            if not cursor:
                break
    assert len(seen) == len(set(seen)) == len(expected)
    assert {int(i) for i in seen} == expected
    assert pages == -(-len(expected) // 100)
    async with in_process(stack, "alice") as client:  # HubSpot's own records say it too
        whole = structured(
            await client.call_tool("hubspot_records", {"object_type": "contacts", "limit": 100})
        )
    assert whole["source"] == "mirror" and whole["total"] == len(expected)
    assert whole["truncated"] is True


def hostile_calls() -> list[tuple[str, dict[str, Any]]]:
    texts = st.one_of(
        st.text(max_size=60),
        st.builds(lambda t: "mirror:" + t, st.text(max_size=40)),
        st.integers(-(10**20), 10**20).map(str),
        st.just("mirror:" + "9" * 200),
    )
    calls: list[tuple[str, dict[str, Any]]] = []
    for cursor, source in collect_examples(
        st.tuples(texts, st.one_of(st.sampled_from(["auto", "mirror", "live"]), st.text())), 80
    ):
        args = {"object_type": "contacts", "limit": 5, "cursor": cursor, "source": source}
        calls.append(("crm_search", args))
    for job_id, wait in collect_examples(st.tuples(texts, st.integers(-5, 100)), 30):
        calls.append(("job_status", {"job_id": job_id, "wait_s": wait}))
    return calls


async def test_hostile_cursors_sources_and_job_ids_get_a_clear_refusal(stack: Stack) -> None:
    await sync(stack, "contacts")
    calls = await asyncio.to_thread(hostile_calls)
    codes: Counter[str] = Counter()
    async with in_process(stack, "alice") as client:
        for name, args in calls:
            answer = await client.call_tool(name, args)
            body = structured(answer)
            if not answer.is_error:
                codes["ok"] += 1
                continue
            codes[body["error"]["code"]] += 1
            assert body["error"]["code"] != "internal_error", (name, args, body)
            assert "Traceback" not in body["error"]["message"]
    assert codes["invalid_input"] + codes["validation_error"] > 50, codes
    assert codes["ok"] > 0 or codes["not_found"] > 0, codes


async def test_mirror_reads_on_postgresql_stay_within_the_tenant(pg_stack: Stack) -> None:
    await sync(pg_stack, "contacts")
    async with in_process(pg_stack, "alice") as alice:
        page = structured(
            await alice.call_tool("crm_search", {"object_type": "contacts", "limit": 2})
        )
        assert page["source"] == "mirror" and page["total"] and page["truncated"] is True
        mine = page["results"][0]["id"]
        one = structured(await alice.call_tool("crm_get", {"object_type": "contacts", "id": mine}))
        assert one["source"] == "mirror"
    async with in_process(pg_stack, "bob") as bob:  # Bob's portal is not mirrored: live, his
        theirs = structured(await bob.call_tool("crm_search", {"object_type": "contacts"}))
        assert theirs["source"] == "live"
        forced = await bob.call_tool("crm_search", {"object_type": "contacts", "source": "mirror"})
        assert forced.is_error and structured(forced)["error"]["code"] == "mirror_not_ready"
