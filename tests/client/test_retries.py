"""Which calls are retried, which never are, and the caps."""

from __future__ import annotations

import httpx
import pytest

from atom_hubspot.client import SearchRequest
from atom_hubspot.errors import OutcomeUnknown, RateLimited, Unavailable, ValidationFailed
from tests.client.fakes import error, make, obj


def rate_limited(policy: str, retry_after: str | None = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after else {}
    return httpx.Response(
        429,
        headers=headers,
        json={
            "status": "error",
            "message": "You have reached your limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": "c-429",
            "policyName": policy,
        },
    )


OK_OBJ = httpx.Response(200, json=obj(1, email="a@b.c"))


# --------------------------------------------------------------------------- repeatable


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_get_is_retried_on_gateway_errors(status: int) -> None:
    client, _, rec, clock = make()
    rec.then(error(status, message="bad gateway"), OK_OBJ)
    got = await client.contacts.get(1)
    assert got.id == "1" and len(rec.requests) == 2
    assert len(clock.slept) == 1 and 0 < clock.slept[0] <= 8  # jittered backoff


async def test_retries_are_logged_at_info_with_the_call_and_the_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="atom_hubspot")
    client, _, rec, _ = make()
    rec.then(error(503), OK_OBJ)
    await client.contacts.get(1)
    lines = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].startswith("hubspot GET /crm/objects/2026-09/{objectType}/{objectId}: retry 1")
    assert lines[0].endswith("after 503")


@pytest.mark.parametrize(
    "read",
    [
        lambda c: c.contacts.get(1),
        lambda c: c.contacts.search(SearchRequest()),
        lambda c: c.contacts.batch_read([1, 2]),
    ],
    ids=["get", "search", "batch-read"],
)
async def test_reads_are_retried_on_a_plain_500(read) -> None:
    client, _, rec, _ = make(lambda r: httpx.Response(200, json={"results": [], **obj(1)}))
    rec.then(error(500, message="boom"))
    await read(client)
    assert len(rec.requests) == 2


async def test_a_read_that_keeps_answering_500_gives_up_after_two_retries() -> None:
    client, _, rec, _ = make(lambda r: error(500, message="boom"))
    with pytest.raises(Unavailable):
        await client.contacts.get(1)
    assert len(rec.requests) == 3


@pytest.mark.parametrize(
    "write",
    [
        lambda c: c.contacts.update(1, {"firstname": "Ann"}),
        lambda c: c.contacts.archive(1),
        lambda c: c.contacts.batch_upsert([{"id": "a@b.c", "properties": {}}]),
    ],
    ids=["update", "archive", "upsert"],
)
async def test_a_500_on_a_write_is_not_retried(write) -> None:
    client, _, rec, _ = make()
    rec.then(error(500, message="boom"))
    with pytest.raises(Unavailable):
        await write(client)
    assert len(rec.requests) == 1


@pytest.mark.parametrize(
    "exc",
    [httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), httpx.RemoteProtocolError("x")],
)
async def test_repeatable_calls_are_retried_on_network_errors(exc: Exception) -> None:
    client, _, rec, _ = make()
    rec.then(exc, OK_OBJ)
    await client.contacts.update(1, {"firstname": "Ann"})
    assert [r.method for r in rec.requests] == ["PATCH", "PATCH"]


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.contacts.get(1),
        lambda c: c.contacts.update(1, {"a": "b"}),
        lambda c: c.contacts.archive(1),
        lambda c: c.contacts.search(SearchRequest()),
        lambda c: c.contacts.batch_read([1, 2]),
        lambda c: c.contacts.batch_upsert([{"id": "a@b.c", "properties": {}}]),
        lambda c: c.contacts.batch_archive([1]),
        lambda c: c.associations.link_default("contacts", 1, "companies", 2),
        lambda c: c.lists.add_members(5, [1]),
    ],
)
async def test_every_repeatable_call_retries_a_read_timeout(call) -> None:
    client, _, rec, _ = make(lambda r: httpx.Response(200, json={"results": [], "id": "1"}))
    rec.then(httpx.ReadTimeout("slow"))
    await call(client)
    assert len(rec.requests) == 2


# --------------------------------------------------------------------------- never re-sent


CREATES = [
    ("object create", lambda c: c.contacts.create({"email": "a@b.c"})),
    ("batch create", lambda c: c.contacts.batch_create([{"email": "a@b.c"}])),
    ("list create", lambda c: c.lists.create("VIPs")),
    ("campaign create", lambda c: c.campaigns.create("Spring")),
    ("single send", lambda c: c.sends.single_send(7, "a@b.c")),
    ("transactional send", lambda c: c.sends.transactional(7, "a@b.c")),
]


@pytest.mark.parametrize(("name", "call"), CREATES)
@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("reset"),
        error(502),
        error(503),
        error(504),
        error(500),
    ],
    ids=["read-timeout", "reset", "502", "503", "504", "500"],
)
async def test_creates_are_never_resent_once_they_may_have_reached_hubspot(
    name: str, call, failure
) -> None:
    client, _, rec, _ = make()
    rec.then(failure, httpx.Response(201, json=obj(1)))
    with pytest.raises(OutcomeUnknown) as info:
        await call(client)
    assert len(rec.requests) == 1, f"{name} was re-sent"
    text = info.value.message
    assert "not re-sent" in text and "check in HubSpot" in text


@pytest.mark.parametrize(("name", "call"), CREATES)
async def test_creates_are_retried_when_nothing_was_sent(name: str, call) -> None:
    client, _, rec, _ = make(lambda r: httpx.Response(201, json={**obj(1), "list": {"listId": 1}}))
    rec.then(httpx.ConnectError("refused"))
    await call(client)
    assert len(rec.requests) == 2


async def test_a_429_is_retried_even_for_a_create_because_hubspot_refused_it() -> None:
    client, _, rec, clock = make()
    rec.then(rate_limited("TEN_SECONDLY_ROLLING", "2"), httpx.Response(201, json=obj(1)))
    created = await client.contacts.create({"email": "a@b.c"})
    assert created.id == "1" and len(rec.requests) == 2
    assert sum(clock.slept) >= 2.0


# --------------------------------------------------------------------------- 429 policies


async def test_429_honours_retry_after() -> None:
    client, _, rec, clock = make()
    rec.then(rate_limited("TEN_SECONDLY_ROLLING", "3"), OK_OBJ)
    await client.contacts.get(1)
    assert 3.0 <= sum(clock.slept) <= 3.0 + 0.25 + 0.01


async def test_429_ten_secondly_without_retry_after_waits_the_rest_of_the_window() -> None:
    client, _http, rec, clock = make()
    rec.then(OK_OBJ)
    await client.contacts.get(1)
    clock.now += 4.0  # the first call is 4 s old: ~6 s of the window are left
    rec.then(rate_limited("TEN_SECONDLY_ROLLING"), OK_OBJ)
    await client.contacts.get(1)
    waited = sum(clock.slept)
    assert 5.5 <= waited <= 7.0


async def test_429_secondly_waits_one_second() -> None:
    client, _, rec, clock = make()
    rec.then(rate_limited("SECONDLY"), OK_OBJ)
    await client.contacts.search(SearchRequest())
    assert 1.0 <= sum(clock.slept) <= 1.3


async def test_429_daily_is_not_retried_and_later_calls_fail_fast() -> None:
    client, _, rec, clock = make()
    rec.then(rate_limited("DAILY"))
    with pytest.raises(RateLimited) as info:
        await client.contacts.get(1)
    assert info.value.policy == "DAILY" and info.value.retry_after_s > 0
    assert info.value.correlation_id == "c-429"
    with pytest.raises(RateLimited):
        await client.contacts.get(2)
    assert len(rec.requests) == 1  # the second call never left the process
    assert clock.slept == []


async def test_a_429_holds_other_tasks_of_the_portal_too() -> None:
    import asyncio

    sent_at: list[float] = []
    clock_box: list = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent_at.append(clock_box[0].time())
        if len(sent_at) == 1:
            return rate_limited("TEN_SECONDLY_ROLLING", "5")
        return OK_OBJ

    client, _, _rec, clock = make(handler)
    clock_box.append(clock)
    start = clock.time()
    first = asyncio.ensure_future(client.contacts.get(1))
    await asyncio.sleep(0.01)  # the first call has had its 429 by now (real time, no I/O)
    await client.contacts.get(2)  # another task of the same portal
    await first
    assert len(sent_at) == 3
    assert all(t - start >= 5.0 for t in sent_at[1:])  # nobody called before the hold ended


# --------------------------------------------------------------------------- caps


async def test_attempts_cap() -> None:
    client, _, rec, _ = make(lambda r: error(503), HUBSPOT_RETRY_MAX_ATTEMPTS=3)
    with pytest.raises(Unavailable) as info:
        await client.contacts.get(1)
    assert len(rec.requests) == 3
    assert info.value.details["attempts"] == 3


async def test_time_cap_stops_before_a_wait_that_would_break_it() -> None:
    client, _, rec, clock = make(HUBSPOT_RETRY_MAX_SECONDS=30)
    rec.then(rate_limited("TEN_SECONDLY_ROLLING", "120"), OK_OBJ)
    with pytest.raises(RateLimited) as info:
        await client.contacts.get(1)
    assert len(rec.requests) == 1 and clock.slept == []
    assert info.value.retry_after_s == 120


async def test_time_cap_counts_the_time_already_spent() -> None:
    client, _, rec, clock = make(
        lambda r: rate_limited("TEN_SECONDLY_ROLLING", "8"),
        HUBSPOT_RETRY_MAX_SECONDS=20,
        HUBSPOT_RETRY_MAX_ATTEMPTS=10,
    )
    with pytest.raises(RateLimited):
        await client.contacts.get(1)
    assert len(rec.requests) == 3  # 0 s, ~8 s, ~16 s; a fourth would start after 24 s
    assert sum(clock.slept) <= 20


async def test_client_errors_are_not_retried() -> None:
    client, _, rec, _ = make()
    rec.then(error(400, category="VALIDATION_ERROR", message="bad"))
    with pytest.raises(ValidationFailed):
        await client.contacts.update(1, {"x": "y"})
    assert len(rec.requests) == 1


class Hang(httpx.AsyncBaseTransport):
    """Accepts the request and never answers (the total timeout must end the wait)."""

    def __init__(self) -> None:
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import asyncio

        self.calls += 1
        await asyncio.sleep(30)
        return httpx.Response(200)  # pragma: no cover


async def test_total_timeout_bounds_each_attempt() -> None:
    from atom_hubspot.client import HubSpotClient, HubSpotHTTP, RateLimitGovernor, StaticToken
    from tests.client.fakes import VirtualClock, settings

    for call, expected, calls in (
        (lambda c: c.contacts.get(1), Unavailable, 2),
        (lambda c: c.contacts.create({"email": "a@b.c"}), OutcomeUnknown, 1),
    ):
        clock = VirtualClock()
        hang = Hang()
        http = HubSpotHTTP(
            settings(
                HUBSPOT_TOTAL_TIMEOUT="0.05",
                HUBSPOT_READ_TIMEOUT="0.05",
                HUBSPOT_RETRY_MAX_ATTEMPTS="2",
            ),
            transport=hang,
            governor=RateLimitGovernor(clock=clock.time, sleep=clock.sleep),
        )
        client = HubSpotClient(http, StaticToken("t"), portal_id=1)
        with pytest.raises(expected):
            await call(client)
        assert hang.calls == calls
        await http.aclose()
