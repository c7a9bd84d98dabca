"""Fault runs: the client against the in-process sandbox injecting HubSpot's bad days —
5xx answers, 429 bursts, connection resets and answers lost after the write happened.

What must hold: idempotent work (upserts, reads, paging) completes with nothing lost and
nothing doubled; a create or a send is never sent twice, and when its answer is lost the
caller gets OutcomeUnknown — the truth — while the sandbox shows it happened exactly once.
No test sleeps for real: the client's and the sandbox's clocks are one fake that sleeping
moves forward.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from atom_hubspot.client import HubSpotClient, HubSpotHTTP, RateLimitGovernor, StaticToken
from atom_hubspot.errors import OutcomeUnknown, RateLimited, Unavailable
from atom_hubspot.sandbox import DEMO_PORTAL_ID, FaultConfig, SandboxConfig
from atom_hubspot.sandbox.testing import SANDBOX_BASE_URL, sandbox_transport
from atom_hubspot.settings import HubSpotSettings
from tests.clocks import StepClock

PAT = "pat-na1-fault-run-token-000000000000"


def make(
    faults: FaultConfig | None = None,
    *,
    sandbox_limit: int | None = None,
    client_limit: int = 10_000,
    seed: bool = False,
    **config: Any,
):
    ft = StepClock(time.time())
    transport = sandbox_transport(
        SandboxConfig(
            seed=seed,
            private_app_tokens={PAT: DEMO_PORTAL_ID},
            requests_per_10s=sandbox_limit,
            search_per_s=None,
            faults=faults or FaultConfig(),
            clock=ft,
            **config,
        )
    )
    settings = HubSpotSettings(  # type: ignore[call-arg]
        _env_file=None,
        HUBSPOT_API_BASE_URL=SANDBOX_BASE_URL,
        HUBSPOT_RETRY_MAX_ATTEMPTS="6",
        HUBSPOT_RETRY_MAX_SECONDS="600",
        HUBSPOT_TOTAL_TIMEOUT="600",
    )
    gov = RateLimitGovernor(
        requests_per_10s=client_limit, search_per_s=1000, clock=ft.time, sleep=ft.sleep
    )
    http = HubSpotHTTP(settings, transport=transport, governor=gov, clock=ft.time, sleep=ft.sleep)
    client = HubSpotClient(http, StaticToken(PAT), portal_id=DEMO_PORTAL_ID)
    return client, http, transport.app.state.sandbox, ft


def stored_emails(sb: Any, prefix: str) -> Counter[str]:
    return Counter(
        r.properties.get("email", "")
        for r in sb.portals[DEMO_PORTAL_ID].records["contacts"].values()
        if not r.archived and r.properties.get("email", "").startswith(prefix)
    )


def people(prefix: str, n: int) -> list[tuple[str, dict[str, str]]]:
    return [
        (f"{prefix}{i:05d}@faults.example", {"firstname": f"F{i}", "lastname": "Fault"})
        for i in range(n)
    ]


# --------------------------------------------------------------------------- idempotent work


async def test_upserts_complete_through_5xx_resets_and_lost_answers() -> None:
    """10 % 5xx (500/502/503/504 mixed), 5 % resets, 5 % lost answers. 502/503/504, resets
    and lost answers are retried inside the client; a 500 is not (HubSpot's own "internal
    error" is not in the retry set), so its chunk comes back in `errors[]` with its inputs:
    nothing is dropped, and handing those inputs back once completes the job."""
    faults = FaultConfig(error_rate_5xx=0.10, reset_rate=0.05, lost_answer_rate=0.05, seed=7)
    client, http, sb, _ = make(faults)
    everyone = people("up", 3000)
    try:
        result = await client.contacts.batch_upsert(everyone)
        injected = Counter(sb.faults_injected)
        returned = [tuple(i) if isinstance(i, list) else i for e in result.errors for i in e.inputs]
        assert all(e.status == "error" and e.category == "INTERNAL_ERROR" for e in result.errors), (
            "only a plain 500 may surface"
        )
        # Every input is accounted for: written, or handed back with the reason.
        done = set(stored_emails(sb, "up"))
        back = {i["id"] for i in returned}
        assert len(result.results) == len(done)
        assert done | back == {e for e, _ in everyone} and not done & back
        if returned:
            again = await client.contacts.batch_upsert(
                [(i["id"], i["properties"]) for i in returned]
            )
            assert again.errors == []
    finally:
        await http.aclose()
    assert injected["5xx"] >= 3 and injected["reset"] >= 1 and injected["lost_answer"] >= 1
    emails = stored_emails(sb, "up")
    assert len(emails) == 3000, "records lost"
    assert max(emails.values()) == 1, "records duplicated"


async def test_upserts_complete_with_retryable_faults_only() -> None:
    faults = FaultConfig(
        script=["502", "503", "504", "reset", "lost_answer", "timeout"] * 2, seed=11
    )
    client, http, sb, _ = make(faults)
    try:
        result = await client.contacts.batch_upsert(people("rt", 1000))
    finally:
        await http.aclose()
    assert result.errors == [] and result.status == "COMPLETE"
    assert sb.calls["crm.objects.batch"] == 10 + 12  # every fault cost one more call
    emails = stored_emails(sb, "rt")
    assert len(emails) == 1000 and max(emails.values()) == 1


async def test_429_bursts_are_waited_out_not_surfaced() -> None:
    # Another app on the same account spends the budget: bursts of 429s between good answers.
    burst = ["429"] * 4
    faults = FaultConfig(script=[*burst, "502", *burst, "503", *burst], seed=5)
    client, http, sb, ft = make(faults)
    try:
        result = await client.contacts.batch_upsert(people("rl", 2000))
    finally:
        await http.aclose()
    assert sb.faults_injected["429"] == 12
    assert result.errors == []
    emails = stored_emails(sb, "rl")
    assert len(emails) == 2000 and max(emails.values()) == 1
    assert sum(ft.slept) >= 10.0  # it waited (fake time) instead of hammering


async def test_a_lower_limit_than_configured_is_learned_and_kept() -> None:
    # The client believes in 200 per 10 s (a wrong tier); the account allows 20. HubSpot's
    # X-HubSpot-RateLimit-* headers correct the budget: the job paces itself instead of
    # bouncing off 429s, and nothing surfaces.
    client, http, sb, ft = make(sandbox_limit=20, client_limit=200)
    try:
        result = await client.contacts.batch_upsert(people("lim", 6000))
    finally:
        await http.aclose()
    assert result.errors == []
    emails = stored_emails(sb, "lim")
    assert len(emails) == 6000 and max(emails.values()) == 1
    assert sb.limits.rejected["TEN_SECONDLY_ROLLING"] <= 5
    assert sum(ft.slept) >= (60 - 1) // 20 * 10  # 60 calls at 20 per 10 s take >= 20 s


async def test_scripted_429_burst_then_5xx_on_one_chunk() -> None:
    faults = FaultConfig(script=["429", "429", "429", "503", "reset"], seed=1)
    client, http, sb, _ = make(faults)
    try:
        result = await client.contacts.batch_upsert(people("burst", 100))
    finally:
        await http.aclose()
    assert result.errors == []
    assert sb.calls["crm.objects.batch"] == 6  # five refused, the sixth went through
    assert len(stored_emails(sb, "burst")) == 100


def retryable_5xx_only(sb: Any) -> None:
    """Make the sandbox's random "5xx" faults 502/503/504 (not 500, which is not retried)."""
    import random

    rng = random.Random(99)
    draw = sb.draw_fault

    def draw_retryable(method: str, path: str) -> str | None:
        kind = draw(method, path)
        return rng.choice(["502", "503", "504"]) if kind == "5xx" else kind

    sb.draw_fault = draw_retryable


async def test_paging_reads_everything_once_through_faults() -> None:
    faults = FaultConfig(error_rate_5xx=0.10, reset_rate=0.10, timeout_rate=0.05, seed=3)
    client, http, sb, _ = make(faults, seed=True)
    retryable_5xx_only(sb)
    expected = {
        str(r.id) for r in sb.portals[DEMO_PORTAL_ID].records["contacts"].values() if not r.archived
    }
    try:
        seen = [c.id async for c in client.contacts.iter_all(page_size=7)]
    finally:
        await http.aclose()
    assert sum(sb.faults_injected.values()) >= 3
    assert len(seen) == len(set(seen)) == len(expected) and set(seen) == expected


# --------------------------------------------------------------------------- never twice


@pytest.mark.parametrize("lost_as", ["reset", "timeout"])
async def test_a_create_whose_answer_is_lost_is_outcome_unknown_and_done_once(lost_as: str) -> None:
    faults = FaultConfig(script=["lost_answer"], lost_answer_as=lost_as)
    client, http, sb, _ = make(faults)
    try:
        with pytest.raises(OutcomeUnknown) as err:
            await client.contacts.create({"email": "once@faults.example", "firstname": "Once"})
    finally:
        await http.aclose()
    assert "not re-sent" in err.value.message
    assert sb.calls["crm.objects.create"] == 1, "the create was sent again"
    assert stored_emails(sb, "once") == Counter({"once@faults.example": 1})


@pytest.mark.parametrize("fault", ["500", "502", "503", "504", "reset"])
async def test_a_create_that_fails_is_never_resent(fault: str) -> None:
    client, http, sb, _ = make(FaultConfig(script=[fault]))
    try:
        with pytest.raises(OutcomeUnknown):
            await client.deals.create(
                {
                    "dealname": "Never twice",
                    "pipeline": "default",
                    "dealstage": "appointmentscheduled",
                }
            )
    finally:
        await http.aclose()
    assert sb.calls["crm.objects.create"] == 1
    # These faults answer before the write: nothing exists, and we said we could not know.
    assert not sb.portals[DEMO_PORTAL_ID].records["deals"]


async def test_a_create_refused_with_429_is_sent_again_and_done_once() -> None:
    # A 429 is HubSpot refusing without doing: safe to send again, even for a create.
    client, http, sb, _ = make(FaultConfig(script=["429", "429"]))
    try:
        created = await client.contacts.create({"email": "again@faults.example"})
    finally:
        await http.aclose()
    assert created.id
    assert sb.calls["crm.objects.create"] == 3
    assert stored_emails(sb, "again") == Counter({"again@faults.example": 1})


async def test_batch_create_reports_the_lost_chunk_per_input_and_never_doubles() -> None:
    faults = FaultConfig(script=["lost_answer"], paths=["/batch/create"])
    client, http, sb, _ = make(faults)
    inputs = [{"properties": {"email": f"bc{i:04d}@faults.example"}} for i in range(250)]
    try:
        result = await client.contacts.batch_create(inputs)
    finally:
        await http.aclose()
    assert sb.calls["crm.objects.batch"] == 3  # three chunks, none re-sent
    unknown = [e for e in result.errors if e.code == "outcome_unknown"]
    assert len(unknown) == 1 and len(unknown[0].inputs) == 100
    assert len(result.results) == 150 and result.status == "PARTIAL"
    emails = stored_emails(sb, "bc")
    # The lost chunk was written by the sandbox; the caller was told its outcome is unknown.
    assert len(emails) == 250 and max(emails.values()) == 1


async def test_a_send_whose_answer_is_lost_is_outcome_unknown_and_sent_once() -> None:
    client, http, sb, _ = make(FaultConfig(), seed=True)
    email_id = int(next(iter(sb.portals[DEMO_PORTAL_ID].emails)))
    sb.set_faults(FaultConfig(script=["lost_answer"], paths=["single-send"]))
    try:
        with pytest.raises(OutcomeUnknown):
            await client.sends.single_send(email_id, "reader@faults.example")
    finally:
        await http.aclose()
    sends = [
        s
        for s in sb.sends(DEMO_PORTAL_ID)
        if s.get("to") == "reader@faults.example"
        or (s.get("message") or {}).get("to") == "reader@faults.example"
    ]
    assert len(sends) == 1
    assert sb.calls["sends.single_send"] == 1


async def test_reads_give_up_with_unavailable_not_forever() -> None:
    client, http, sb, ft = make(FaultConfig(script=["503"] * 50))
    try:
        with pytest.raises(Unavailable):
            await client.contacts.list(limit=1)
    finally:
        await http.aclose()
    assert sb.calls["crm.objects.list"] == 6  # HUBSPOT_RETRY_MAX_ATTEMPTS, then a clear error
    assert sum(ft.slept) < 600


async def test_daily_limit_fails_fast_instead_of_waiting_a_day() -> None:
    client, http, sb, ft = make(daily_limit=3)
    try:
        for _ in range(3):
            await client.contacts.list(limit=1)
        with pytest.raises(RateLimited) as err:
            await client.contacts.list(limit=1)
        with pytest.raises(RateLimited):  # and the next call does not even go out
            await client.contacts.list(limit=1)
    finally:
        await http.aclose()
    assert err.value.policy == "DAILY"
    assert sb.calls["crm.objects.list"] == 4
    assert sum(ft.slept) < 60
