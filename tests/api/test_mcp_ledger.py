"""Used confirmations are recorded in the host's database: two host apps over one database (as
two `serve --workers 2` workers are), replaying one confirmation at the same moment through
either, commit exactly once — on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

import httpx2
from fastapi import FastAPI
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from atom_host_stub.agent_tools import ToolFailure
from atom_host_stub.host_db import HostDatabase
from atom_host_stub.mcp_ledger import DatabaseLedger
from tests.api.conftest import KEYS, PORTAL_A, Stack


@asynccontextmanager
async def second_app(stack: Stack) -> AsyncIterator[FastAPI]:
    """Another host app over the first one's database, data folder and sandbox."""
    from atom_host_stub.app import create_app
    from atom_host_stub.host import Host

    host = Host.from_env(stack.host.settings.env)
    host.context.state["hubspot.transport"] = stack.transport
    host.context.state["hubspot.governor"] = stack.host.context.state["hubspot.governor"]
    app = create_app(host)
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def mcp_client(app: FastAPI, who: str = "alice") -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app),
        base_url="http://host.local",
        headers={"Authorization": f"Bearer {KEYS[who]}"},
    )
    async with http, Client(streamable_http_client("http://host.local/mcp", http_client=http)) as c:
        yield c


def companies_named(stack: Stack, name: str) -> list[Any]:
    records = stack.sandbox.portals[PORTAL_A].records["companies"].values()
    return [r for r in records if r.properties.get("name") == name]


async def replay_on_two_workers(stack: Stack, name: str) -> None:
    args = {"object_type": "companies", "fields": {"name": name, "domain": "twice.example"}}
    async with second_app(stack) as other:
        async with (
            mcp_client(stack.app) as one,
            mcp_client(other) as two,
            mcp_client(stack.app) as three,
            mcp_client(other) as four,
        ):
            preview = (await one.call_tool("crm_create", args)).structured_content
            assert preview is not None and preview["status"] == "preview"
            confirm = {**args, "confirmation_token": preview["confirmation_token"]}
            answers = await asyncio.gather(
                *(c.call_tool("crm_create", confirm) for c in (one, two, three, four, two, one))
            )
    results = [a.structured_content for a in answers]
    assert all(r is not None and r.get("status") == "committed" for r in results), [
        (r or {}).get("status") or (r or {}).get("error", {}).get("code") for r in results
    ]
    first = [r for r in results if r is not None and r["replayed"] is False]
    assert len(first) == 1, results
    assert {r["result"]["record"]["id"] for r in results if r is not None} == {
        first[0]["result"]["record"]["id"]
    }
    assert len(companies_named(stack, name)) == 1


async def test_a_confirmation_replayed_on_two_workers_commits_once(stack: Stack) -> None:
    await replay_on_two_workers(stack, "Exactly Once Ltd")


@pytest.mark.postgres
async def test_a_confirmation_replayed_on_two_workers_commits_once_on_postgres(
    pg_stack: Stack,
) -> None:
    await replay_on_two_workers(pg_stack, "Exactly Once On Postgres Ltd")


async def test_the_second_app_replays_a_commit_the_first_made(stack: Stack) -> None:
    args = {"object_type": "companies", "fields": {"name": "Replayed Elsewhere Ltd"}}
    async with mcp_client(stack.app) as one:
        preview = (await one.call_tool("crm_create", args)).structured_content
        assert preview is not None
        confirm = {**args, "confirmation_token": preview["confirmation_token"]}
        done = (await one.call_tool("crm_create", confirm)).structured_content
    async with second_app(stack) as other, mcp_client(other) as two:
        again = (await two.call_tool("crm_create", confirm)).structured_content
    assert done is not None and again is not None
    assert done["replayed"] is False and again["replayed"] is True
    assert again["result"] == done["result"]
    assert len(companies_named(stack, "Replayed Elsewhere Ltd")) == 1


# --------------------------------------------------------------------------- the ledger itself


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[DatabaseLedger]:
    db = HostDatabase(f"sqlite:///{tmp_path / 'host.sqlite3'}")
    yield DatabaseLedger(db, wait_s=0.3)
    await db.aclose()


async def test_a_failed_commit_lets_the_token_be_tried_again(ledger: DatabaseLedger) -> None:
    calls: list[int] = []

    async def failing() -> dict[str, Any]:
        calls.append(1)
        raise ToolFailure("rate_limited", "try later")

    async def working() -> dict[str, Any]:
        calls.append(2)
        return {"status": "committed"}

    later = int(time.time()) + 60
    with pytest.raises(ToolFailure, match="try later"):
        await ledger.once("nonce-a", "crm_create", later, failing)
    assert await ledger.once("nonce-a", "crm_create", later, working) == (
        {"status": "committed"},
        False,
    )
    assert await ledger.once("nonce-a", "crm_create", later, working) == (
        {"status": "committed"},
        True,
    )
    assert calls == [1, 2]


async def test_an_expired_token_never_commits_but_a_recorded_one_replays(
    ledger: DatabaseLedger,
) -> None:
    async def commit() -> dict[str, Any]:
        return {"n": 1}

    past = int(time.time()) - 1
    with pytest.raises(ToolFailure) as expired:
        await ledger.once("nonce-old", "crm_create", past, commit)
    assert expired.value.code == "confirmation_expired"
    soon = int(time.time()) + 60
    assert (await ledger.once("nonce-b", "crm_create", soon, commit))[1] is False
    ledger.clock = lambda: time.time() + 120  # the token has expired meanwhile
    assert await ledger.once("nonce-b", "crm_create", soon, commit) == ({"n": 1}, True)


async def test_a_commit_still_running_elsewhere_is_waited_for_then_reported(
    ledger: DatabaseLedger,
) -> None:
    claimed, release = asyncio.Event(), asyncio.Event()
    runs: list[int] = []

    async def slow() -> dict[str, Any]:
        runs.append(1)  # only a caller that claimed the token gets here
        claimed.set()
        await release.wait()
        return {"n": 2}

    soon = int(time.time()) + 60
    first = asyncio.create_task(ledger.once("nonce-c", "crm_create", soon, slow))
    claiming = asyncio.create_task(claimed.wait())
    await asyncio.wait({first, claiming}, return_when=asyncio.FIRST_COMPLETED)
    claiming.cancel()
    assert claimed.is_set(), first.result()  # else the first call ended early: show why
    with pytest.raises(ToolFailure) as pending:
        await ledger.once("nonce-c", "crm_create", soon, slow)
    assert pending.value.code == "confirmation_in_progress"
    assert runs == [1] and not first.done()
    release.set()
    assert await first == ({"n": 2}, False)
    assert await ledger.once("nonce-c", "crm_create", soon, slow) == ({"n": 2}, True)
