"""Writes ask the user through MCP elicitation when the client can be asked: accept commits,
decline or cancel writes nothing (checked in the sandbox), and a client without the capability
gets the preview and confirmation token as before. Driven by the MCP SDK's own client, in
memory (2026-07-28 and handshake-era) and over streamable HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import pytest

pytest.importorskip("mcp")

import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from atom_host_stub.mcp_server import build_server, fixed_principal, runner_for
from tests.api.conftest import KEYS, PORTAL_A, PRINCIPALS, Stack

SECRET = b"test-secret-for-elicitation-00000"
Action = Literal["accept", "decline", "cancel"]


class User:
    """The person behind the client: answers each question with `action`, noting what it saw."""

    def __init__(self, action: Action, ticked: bool = True) -> None:
        self.action = action
        self.ticked = ticked
        self.asked: list[types.ElicitRequestParams] = []

    async def __call__(self, context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.asked.append(params)
        if self.action != "accept":
            return types.ElicitResult(action=self.action)
        return types.ElicitResult(action="accept", content={"confirm": self.ticked})


@asynccontextmanager
async def in_memory(stack: Stack, user: User | None, mode: Any = "auto") -> AsyncIterator[Client]:
    server = build_server(runner_for(stack.host, SECRET), fixed_principal(PRINCIPALS["alice"]))
    async with Client(server, elicitation_callback=user, mode=mode) as client:
        yield client


@asynccontextmanager
async def over_http(stack: Stack, user: User | None) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=stack.app),
        base_url="http://host.local",
        headers={"Authorization": f"Bearer {KEYS['alice']}"},
    )
    transport = streamable_http_client("http://host.local/mcp", http_client=http)
    async with http, Client(transport, elicitation_callback=user) as client:
        yield client


def companies_named(stack: Stack, name: str) -> list[Any]:
    records = stack.sandbox.portals[PORTAL_A].records["companies"].values()
    return [r for r in records if r.properties.get("name") == name]


def answer(result: Any) -> dict[str, Any]:
    assert result.structured_content is not None, result
    data: dict[str, Any] = result.structured_content
    return data


def create(name: str) -> dict[str, Any]:
    return {"object_type": "companies", "fields": {"name": name, "domain": "asked.example"}}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_an_accepted_question_commits_once(stack: Stack, mode: str) -> None:
    user = User("accept")
    name = f"Asked And Accepted {mode} Ltd"
    async with in_memory(stack, user, mode) as client:
        done = answer(await client.call_tool("crm_create", create(name)))
    assert done["status"] == "committed" and done["replayed"] is False
    assert done["result"]["record"]["name"] == name
    (asked,) = user.asked
    assert isinstance(asked, types.ElicitRequestFormParams)
    assert name in asked.message and "nothing has changed yet" in asked.message
    assert asked.requested_schema["required"] == ["confirm"]
    assert len(companies_named(stack, name)) == 1


@pytest.mark.parametrize(
    ("action", "ticked"), [("decline", True), ("cancel", True), ("accept", False)]
)
async def test_a_declined_question_writes_nothing(
    stack: Stack, action: Action, ticked: bool
) -> None:
    user = User(action, ticked)
    name = f"Asked And Refused {action} {ticked} Ltd"
    before = dict(stack.sandbox.portals[PORTAL_A].records["companies"])
    async with in_memory(stack, user) as client:
        result = await client.call_tool("crm_create", create(name))
    got = answer(result)
    assert not result.is_error
    assert got["status"] == "declined" and "nothing changed" in got["message"]
    assert len(user.asked) == 1
    assert companies_named(stack, name) == []
    assert dict(stack.sandbox.portals[PORTAL_A].records["companies"]) == before


async def test_without_elicitation_the_preview_and_token_path_stays(stack: Stack) -> None:
    name = "Not Asked Ltd"
    async with in_memory(stack, None) as client:
        preview = answer(await client.call_tool("crm_create", create(name)))
        assert preview["status"] == "preview" and "confirmation_token" in preview
        assert companies_named(stack, name) == []
        done = answer(
            await client.call_tool(
                "crm_create",
                {**create(name), "confirmation_token": preview["confirmation_token"]},
            )
        )
    assert done["status"] == "committed"
    assert len(companies_named(stack, name)) == 1


async def test_over_http_the_question_rides_the_stateless_retry(stack: Stack) -> None:
    accept, decline = User("accept"), User("decline")
    async with over_http(stack, accept) as client:
        done = answer(await client.call_tool("crm_create", create("Asked Over HTTP Ltd")))
    async with over_http(stack, decline) as client:
        refused = answer(await client.call_tool("crm_create", create("Refused Over HTTP Ltd")))
    assert done["status"] == "committed" and len(accept.asked) == 1
    assert refused["status"] == "declined" and len(decline.asked) == 1
    assert len(companies_named(stack, "Asked Over HTTP Ltd")) == 1
    assert companies_named(stack, "Refused Over HTTP Ltd") == []


async def test_reads_are_never_asked_about(stack: Stack) -> None:
    user = User("decline")
    async with in_memory(stack, user) as client:
        found = answer(await client.call_tool("crm_search", {"object_type": "contacts"}))
    assert found["results"] and user.asked == []
