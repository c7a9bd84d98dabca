"""The MCP server driven by the MCP SDK's own client, in-process and over streamable HTTP,
against the host with the HubSpot plugin and the sandbox: callers are principals, writes need
a confirmation, a replayed confirmation acts once, lists page on, the tool budget holds."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

pytest.importorskip("mcp")

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from atom_host_stub.mcp_server import (
    build_server,
    fixed_principal,
    runner_for,
    tool_definitions,
)
from tests.api.conftest import KEYS, PORTAL_A, PRINCIPALS, Stack

SECRET = b"test-secret-for-confirmations-000"


def live_companies(stack: Stack) -> list[Any]:
    records = stack.sandbox.portals[PORTAL_A].records["companies"].values()
    return [r for r in records if not getattr(r, "archived", False)]


def structured(result: Any) -> dict[str, Any]:
    assert result.structured_content is not None, result
    data: dict[str, Any] = result.structured_content
    return data


@asynccontextmanager
async def in_process(stack: Stack, who: str) -> AsyncIterator[Client]:
    runner = runner_for(stack.host, SECRET)
    server = build_server(runner, fixed_principal(PRINCIPALS[who]))
    async with Client(server) as client:
        yield client


@asynccontextmanager
async def over_http(stack: Stack, who: str | None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {KEYS[who]}"} if who else {}
    http = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=stack.app),
        base_url="http://host.local",
        headers=headers,
    )
    async with http, Client(streamable_http_client("http://host.local/mcp", http_client=http)) as c:
        yield c


async def test_tools_listed_with_annotations_and_within_budget(stack: Stack) -> None:
    async with in_process(stack, "alice") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert {"crm_search", "crm_get", "crm_create", "crm_archive"} <= set(tools)
    assert len(tools) <= 20
    assert tools["crm_search"].annotations.read_only_hint is True
    assert tools["crm_archive"].annotations.destructive_hint is True
    assert tools["crm_create"].annotations.read_only_hint is False
    # The definitions' size in tokens, approximated as characters / 4 (no tokenizer offline).
    text = json.dumps(tool_definitions(list(runner_for(stack.host, SECRET).tools.values())))
    assert len(text) / 4 < 8000


async def test_search_get_and_paging_over_http(stack: Stack) -> None:
    async with over_http(stack, "alice") as client:
        first = structured(
            await client.call_tool("crm_search", {"object_type": "contacts", "limit": 2})
        )
        assert len(first["results"]) == 2 and first["truncated"] is True
        assert first["provider"] == "hubspot"
        second = structured(
            await client.call_tool(
                "crm_search",
                {"object_type": "contacts", "limit": 2, "cursor": first["next_cursor"]},
            )
        )
        assert {r["id"] for r in first["results"]}.isdisjoint(r["id"] for r in second["results"])
        one = structured(
            await client.call_tool(
                "crm_get", {"object_type": "contacts", "id": first["results"][0]["id"]}
            )
        )
        assert one["record"]["id"] == first["results"][0]["id"]
        assert "raw" not in one["record"]


async def test_http_refuses_a_missing_or_wrong_key(stack: Stack) -> None:
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=stack.app), base_url="http://host.local"
    ) as http:
        for headers in ({}, {"Authorization": "Bearer not-a-key"}):
            answer = await http.post(
                "/mcp",
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                headers={**headers, "Accept": "application/json, text/event-stream"},
            )
            assert answer.status_code == 401
            assert answer.json()["error"]["code"] == "unauthorized"


async def create(client: Client, object_type: str, fields: dict[str, Any]) -> dict[str, Any]:
    args = {"object_type": object_type, "fields": fields}
    preview = structured(await client.call_tool("crm_create", args))
    token = preview["confirmation_token"]
    done = structured(await client.call_tool("crm_create", {**args, "confirmation_token": token}))
    record: dict[str, Any] = done["result"]["record"]
    return record


async def test_a_principal_cannot_reach_another_principals_records(stack: Stack) -> None:
    async with in_process(stack, "alice") as alice:
        made = await create(alice, "companies", {"name": "Alice Only Ltd", "domain": "ao.example"})
    by_name = {"field": "domain", "op": "eq", "value": "ao.example"}
    async with over_http(stack, "bob") as bob:
        found = structured(
            await bob.call_tool("crm_search", {"object_type": "companies", "filters": [by_name]})
        )
        assert found["results"] == []
        answer = await bob.call_tool("crm_get", {"object_type": "companies", "id": made["id"]})
        # Bob's own portal may use the same id for one of its companies; never Alice's.
        if not answer.is_error:
            assert structured(answer)["record"]["name"] != "Alice Only Ltd"
        else:
            assert structured(answer)["error"]["code"] == "not_found"
    async with in_process(stack, "carol") as carol:  # connected nowhere
        answer = await carol.call_tool("crm_search", {"object_type": "contacts"})
        assert answer.is_error
        assert structured(answer)["error"]["code"] == "not_connected"


async def test_no_write_without_confirmation_and_a_replay_acts_once(stack: Stack) -> None:
    args = {"object_type": "companies", "fields": {"name": "Preview Ltd", "domain": "prev.example"}}
    before = len(live_companies(stack))
    async with over_http(stack, "alice") as client:
        preview = structured(await client.call_tool("crm_create", args))
        assert preview["status"] == "preview"
        assert preview["preview"]["changes"]["name"] == "Preview Ltd"
        assert len(live_companies(stack)) == before  # nothing yet
        token = preview["confirmation_token"]
        # The token is bound to its arguments and its caller.
        other = {**args, "fields": {"name": "Other"}, "confirmation_token": token}
        refused = await client.call_tool("crm_create", other)
        assert refused.is_error and structured(refused)["error"]["code"] == "invalid_confirmation"
        done = structured(
            await client.call_tool("crm_create", {**args, "confirmation_token": token})
        )
        again = structured(
            await client.call_tool("crm_create", {**args, "confirmation_token": token})
        )
    assert done["status"] == "committed" and done["replayed"] is False
    assert again["replayed"] is True and again["result"] == done["result"]
    assert len(live_companies(stack)) == before + 1
    async with in_process(stack, "bob") as bob:
        stolen = await bob.call_tool("crm_create", {**args, "confirmation_token": token})
        assert stolen.is_error and structured(stolen)["error"]["code"] == "invalid_confirmation"


async def test_archive_previews_the_record_then_archives(stack: Stack) -> None:
    async with in_process(stack, "alice") as client:
        found = structured(
            await client.call_tool("crm_search", {"object_type": "deals", "limit": 1})
        )
        deal = found["results"][0]["id"]
        args = {"object_type": "deals", "id": deal}
        preview = structured(await client.call_tool("crm_archive", args))
        assert preview["preview"]["changes"]["record"]["id"] == deal
        still = structured(await client.call_tool("crm_get", args))
        assert still["record"]["id"] == deal
        token = preview["confirmation_token"]
        done = structured(
            await client.call_tool("crm_archive", {**args, "confirmation_token": token})
        )
        assert done["result"]["archived"] is True
        gone = await client.call_tool("crm_get", args)
        assert gone.is_error


async def test_read_only_tools_cannot_write(stack: Stack) -> None:
    from atom_host_stub.agent_tools import CallContext, ToolFailure

    async def services(capability: str, principal: Any) -> Any:
        return await stack.host.services.get_service(capability, principal)

    ctx = CallContext(PRINCIPALS["alice"], services, read_only=True)
    crm = await ctx.service("crm")
    with pytest.raises(ToolFailure, match="read-only"):
        _ = crm.delete_record
    async with in_process(stack, "alice") as client:
        answer = await client.call_tool(
            "crm_search", {"object_type": "contacts", "confirmation_token": "x"}
        )
        assert answer.is_error


def test_without_the_sdk_the_feature_is_off_and_says_which_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    from atom_host_stub.host import mcp_feature

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mcp" else real(name, *a)
    )
    state = mcp_feature()
    assert state.enabled is False and state.extra == "mcp"


async def test_pipelines_and_fields_are_resources(stack: Stack) -> None:
    async with over_http(stack, "alice") as client:
        listed = {str(r.uri) for r in (await client.list_resources()).resources}
        assert {"atom://crm/pipelines", "atom://crm/fields/deals"} <= listed
        read = await client.read_resource("atom://crm/pipelines")
        pipelines = json.loads(read.contents[0].text)  # type: ignore[union-attr]
        assert pipelines["pipelines"][0]["stages"]
        fields = json.loads(
            (await client.read_resource("atom://crm/fields/contacts")).contents[0].text  # type: ignore[union-attr]
        )
        assert "email" in fields["properties"]
    async with in_process(stack, "carol") as carol:  # connected nowhere: no pipelines to show
        with pytest.raises(Exception, match="not_connected"):
            await carol.read_resource("atom://crm/pipelines")
