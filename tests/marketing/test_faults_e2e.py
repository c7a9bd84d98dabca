"""When HubSpot takes a send but the answer is lost, the send is reported "unknown" and never
repeated — sent now or at a scheduled time; a send refused before anything happened is retried
by the scheduler later."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from atom_hubspot.sandbox.config import FaultConfig
from tests.clocks import DateClock
from tests.marketing.conftest import Stack


def _published_email(stack: Stack) -> int:
    return next(int(i) for i, e in sorted(stack.demo.emails.items()) if e["isPublished"])


async def test_lost_answer_is_unknown_and_not_resent(stack: Stack) -> None:
    stack.sandbox.set_faults(FaultConfig(script=["lost_answer"], paths=["single-send"]))
    r = await stack.alice.post(
        "/api/hubspot/send-email",
        json={
            "email_id": _published_email(stack),
            "emails": ["one@example.com", "two@example.com"],
        },
    )
    assert r.status_code == 200, r.text
    s = r.json()["data"]["summary"]
    assert (s["sent"], s["unknown"]) == (1, 1)
    [unknown] = [x for x in s["results"] if x["status"] == "unknown"]
    assert unknown["error"]["code"] == "outcome_unknown"
    # HubSpot did send both (the answer was lost after the write), and each exactly once.
    assert Counter(x["to"] for x in stack.sandbox.sends()) == {
        "one@example.com": 1,
        "two@example.com": 1,
    }


async def test_scheduled_lost_answer_is_partial_and_never_repeated(stack: Stack) -> None:
    send_at = datetime.now(UTC) + timedelta(hours=1)
    r = await stack.alice.post(
        "/api/hubspot/send-email",
        json={
            "email_id": _published_email(stack),
            "emails": ["a@example.com", "b@example.com"],
            "send_at": send_at.isoformat(),
        },
    )
    sid = r.json()["data"]["scheduled"]["id"]
    stack.sandbox.set_faults(FaultConfig(script=["lost_answer"], paths=["single-send"]))
    runner = stack.runtime.scheduler
    await runner.aclose()  # drive it by hand: run_once is the loop's one tick
    runner.clock = DateClock(send_at + timedelta(seconds=1))
    assert await runner.run_once() == 1
    for _ in range(3):
        assert await runner.run_once() == 0
    info = (await stack.alice.get(f"/api/hubspot/scheduled-sends/{sid}")).json()["data"]
    assert info["status"] == "partial" and info["attempts"] == 1
    assert sorted(x["status"] for x in info["results"]) == ["sent", "unknown"]
    assert "1 unknown" in info["error"]
    assert Counter(x["to"] for x in stack.sandbox.sends()) == {
        "a@example.com": 1,
        "b@example.com": 1,
    }


async def test_scheduler_retries_when_nothing_was_sent(stack: Stack) -> None:
    contact = next(c for c in stack.demo.records["contacts"].values() if c.properties.get("email"))
    send_at = datetime.now(UTC) + timedelta(hours=1)
    r = await stack.alice.post(
        "/api/hubspot/send-email",
        json={
            "email_id": _published_email(stack),
            "contact_ids": [str(contact.id)],
            "send_at": send_at.isoformat(),
        },
    )
    sid = r.json()["data"]["scheduled"]["id"]
    runner = stack.runtime.scheduler
    await runner.aclose()
    runner.clock = DateClock(send_at + timedelta(seconds=1))
    # Reading the contact's address fails for longer than the client's retries last.
    stack.sandbox.set_faults(FaultConfig(error_rate_5xx=1.0, paths=["batch/read"]))
    stack.runtime.http.settings.retry_max_attempts = 1
    assert await runner.run_once() == 1
    info = (await stack.alice.get(f"/api/hubspot/scheduled-sends/{sid}")).json()["data"]
    assert info["status"] == "pending" and info["attempts"] == 1, info
    assert stack.sandbox.sends() == []

    stack.sandbox.set_faults(FaultConfig())
    assert await runner.run_once() == 1
    info = (await stack.alice.get(f"/api/hubspot/scheduled-sends/{sid}")).json()["data"]
    assert info["status"] == "sent" and info["attempts"] == 2
    assert [x["to"] for x in stack.sandbox.sends()] == [contact.properties["email"]]
