"""Bulk tools run as jobs: the confirmed call answers a job id at once, `job_status` follows the
job with MCP progress notifications and gives its result, only to the principal who started
it. Driven with the MCP SDK's client against the host with the HubSpot plugin and the sandbox
(the sandbox's answers to membership changes are held back at the transport where a test
needs the job to be seen running)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

pytest.importorskip("mcp")

from atom_hubspot.sandbox.objects import OBJECT_TYPES
from atom_hubspot.sandbox.state import CrmList
from tests.api.conftest import PORTAL_A, Stack
from tests.api.test_mcp import in_process, over_http, structured


def manual_list(stack: Stack, name: str) -> CrmList:
    portal = stack.sandbox.portals[PORTAL_A]
    now = time.time()
    made = CrmList(portal.next_list_id, name, "MANUAL", "0-1", None, now, now)
    portal.lists[made.list_id] = made
    portal.next_list_id += 1
    return made


async def confirmed(client: Any, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    preview = structured(await client.call_tool(tool, args))
    assert preview["status"] == "preview"
    token = preview["confirmation_token"]
    return structured(await client.call_tool(tool, {**args, "confirmation_token": token}))


async def test_adding_thousands_of_contacts_is_a_job_followed_with_progress(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal = stack.sandbox.portals[PORTAL_A]
    ids = [str(i) for i in portal.bulk_create(OBJECT_TYPES["contacts"], 2_500, time.time())]
    big = manual_list(stack, "Imported leads")
    # Membership changes wait until someone follows the job, so it is seen running, and then
    # take a moment each, as over a network (the in-process sandbox answers without one).
    following = asyncio.Event()
    forward = stack.transport.handle_async_request

    async def held(request: httpx.Request) -> httpx.Response:
        if "/memberships/" in request.url.path:
            await following.wait()
            await asyncio.sleep(0.002)
        return await forward(request)

    monkeypatch.setattr(stack.transport, "handle_async_request", held)
    notes: list[tuple[float, float | None, str | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        notes.append((done, total, message))
        following.set()

    args = {"list_id": str(big.list_id), "add": ids}
    async with in_process(stack, "alice") as client:
        started = await confirmed(client, "marketing_list_members", args)
        assert started["status"] == "committed" and started["job"]["status"] == "running"
        job_id = started["job_id"]
        assert started["job"]["job_id"] == job_id and not big.members
        ended = structured(
            await client.call_tool(
                "job_status", {"job_id": job_id, "wait_s": 60}, progress_callback=progress
            )
        )
    assert ended["status"] == "succeeded", ended
    assert ended["result"]["added"] == 2_500 and ended["result"]["missing_count"] == 0
    assert ended["done"] == ended["total"] == 2_500
    assert set(big.members) == {int(i) for i in ids}
    # Progress came while it ran, in order, of 2,500 contacts (the first note, as following
    # began, may precede the job's own first word on its total).
    assert len(notes) >= 3
    assert [n[0] for n in notes] == sorted(n[0] for n in notes)
    assert {n[1] for n in notes[1:]} == {2_500}


async def test_a_replayed_confirmation_answers_the_same_job_and_acts_once(stack: Stack) -> None:
    portal = stack.sandbox.portals[PORTAL_A]
    ids = [str(i) for i in sorted(portal.records["contacts"])[:5]]
    target = manual_list(stack, "Replay list")
    args = {"list_id": str(target.list_id), "add": ids}
    async with over_http(stack, "alice") as client:
        preview = structured(await client.call_tool("marketing_list_members", args))
        token = {**args, "confirmation_token": preview["confirmation_token"]}
        first = structured(await client.call_tool("marketing_list_members", token))
        again = structured(await client.call_tool("marketing_list_members", token))
        assert again["replayed"] is True and again["job_id"] == first["job_id"]
        ended = structured(
            await client.call_tool("job_status", {"job_id": first["job_id"], "wait_s": 30})
        )
    assert ended["status"] == "succeeded" and ended["result"]["added"] == 5
    async with in_process(stack, "bob") as bob:  # Alice's job is not Bob's to see
        answer = await bob.call_tool("job_status", {"job_id": first["job_id"]})
        assert answer.is_error and structured(answer)["error"]["code"] == "not_found"


async def test_a_job_that_fails_says_why_and_bad_input_is_refused_at_the_preview(
    stack: Stack,
) -> None:
    target = manual_list(stack, "Doomed list")
    async with in_process(stack, "alice") as client:
        args = {"list_id": str(target.list_id), "add": ["12", "x-not-an-id"]}
        refused = await client.call_tool("marketing_list_members", args)
        assert refused.is_error and "add" in structured(refused)["error"]["message"]
        good = {"list_id": str(target.list_id), "add": ["1"]}
        preview = structured(await client.call_tool("marketing_list_members", good))
        # The list goes away in HubSpot between the preview and the confirmation.
        del stack.sandbox.portals[PORTAL_A].lists[target.list_id]
        token = preview["confirmation_token"]
        started = structured(
            await client.call_tool("marketing_list_members", {**good, "confirmation_token": token})
        )
        ended = structured(
            await client.call_tool("job_status", {"job_id": started["job_id"], "wait_s": 30})
        )
        missing = await client.call_tool("job_status", {"job_id": "job_nothing-here"})
    assert ended["status"] == "failed" and ended["result"] is None
    assert ended["error"]["code"] == "not_found" and "Traceback" not in str(ended)
    assert missing.is_error and structured(missing)["error"]["code"] == "not_found"


async def test_jobs_keep_the_last_finished_and_stop_with_the_server() -> None:
    from atom_host_stub.contract import Principal
    from atom_host_stub.jobs import JobFailed, Jobs

    me = Principal(tenant_id="t", user_id="u")
    jobs = Jobs(keep=2)

    async def quick(progress: Any) -> dict[str, Any]:
        await progress(1, 1, None)
        return {"ok": True}

    finished = [jobs.start(me, "quick", quick) for _ in range(3)]
    for job in finished:
        assert (await jobs.follow(me, job.id, 5, None)).status == "succeeded"
    never = asyncio.Event()

    async def stuck(progress: Any) -> dict[str, Any]:
        await progress(0, 10, "waiting")
        await never.wait()
        return {}

    running = jobs.start(me, "stuck", stuck)
    # Started after three finished ones: the oldest finished is forgotten, never a running one.
    with pytest.raises(JobFailed):
        jobs.get(me, finished[0].id)
    waited = await jobs.follow(me, running.id, 0.05, None)
    assert waited.status == "running" and (waited.done, waited.total) == (0, 10)
    await jobs.close()
    stopped = await jobs.follow(me, running.id, 0, None)
    assert stopped.status == "cancelled" and stopped.error == {
        "code": "cancelled",
        "message": "The server stopped.",
    }
