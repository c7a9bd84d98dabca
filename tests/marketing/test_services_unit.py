"""Service pieces on their own: the analytics cache, segment → HubSpot filter definitions, and
how a tier-gated send is stopped — the last through the real client over httpx.MockTransport."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from atom_hubspot.client import HubSpotClient, HubSpotHTTP, StaticToken
from atom_hubspot.client.models import BatchResult, SendResult
from atom_hubspot.errors import HubSpotError, InputError, MissingScopes, TierRequired
from atom_hubspot.service.analytics import AnalyticsCache, buckets
from atom_hubspot.service.email_sends import recipients_from
from atom_hubspot.service.lead_lists import Segment, segment_filter_branch
from atom_hubspot.service.marketing import MarketingService
from atom_hubspot.service.tier_gate import tier_gate
from atom_hubspot.settings import HubSpotSettings

# --------------------------------------------------------------------------- cache


async def test_cache_expires_and_shares_one_computation() -> None:
    now = [100.0]
    cache = AnalyticsCache(60, clock=lambda: now[0])
    calls = 0
    gate = asyncio.Event()

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return calls

    first = asyncio.create_task(cache.get_or_compute(("k",), compute))
    second = asyncio.create_task(cache.get_or_compute(("k",), compute))
    await asyncio.sleep(0)
    gate.set()
    assert await first == (1, False)
    assert await second == (1, True)  # waited for the same computation
    assert await cache.get_or_compute(("k",), compute) == (1, True)
    now[0] += 61
    assert await cache.get_or_compute(("k",), compute) == (2, False)
    assert await cache.get_or_compute(("other",), compute) == (3, False)


async def test_cache_does_not_keep_failures() -> None:
    cache = AnalyticsCache(60)

    async def boom() -> int:
        raise HubSpotError("down")

    with pytest.raises(HubSpotError):
        await cache.get_or_compute(("k",), boom)

    async def fine() -> int:
        return 7

    assert await cache.get_or_compute(("k",), fine) == (7, False)


def test_week_buckets_cover_the_range_exactly() -> None:
    from datetime import date

    bs = buckets(date(2026, 1, 1), date(2026, 1, 17), "week")
    assert bs == [
        (date(2026, 1, 1), date(2026, 1, 7)),
        (date(2026, 1, 8), date(2026, 1, 14)),
        (date(2026, 1, 15), date(2026, 1, 17)),
    ]


# --------------------------------------------------------------------------- segments


def _ops(segment: dict[str, Any]) -> list[dict[str, Any]]:
    branch = segment_filter_branch(Segment.model_validate(segment))
    return [f["operation"] for b in branch["filterBranches"] for f in b["filters"]]


def test_segment_operators_map_to_hubspot_list_operations() -> None:
    conds = [
        {"property": "lifecyclestage", "operator": "eq", "value": "lead"},
        {"property": "city", "operator": "eq", "value": "Paris"},
        {"property": "city", "operator": "neq", "value": "Rome"},
        {"property": "industry", "operator": "in", "value": ["A", "B"]},
        {"property": "industry", "operator": "not_in", "value": ["C"]},
        {"property": "jobtitle", "operator": "contains", "value": "CTO"},
        {"property": "numberofemployees", "operator": "gte", "value": 50},
        {"property": "annualrevenue", "operator": "lt", "value": "1.5e6"},
        {"property": "phone", "operator": "unknown"},
    ]
    ops = _ops({"match": "all", "conditions": conds})
    assert [(o["operationType"], o["operator"]) for o in ops] == [
        ("ENUMERATION", "IS_ANY_OF"),
        ("MULTISTRING", "IS_EQUAL_TO"),
        ("MULTISTRING", "IS_NOT_EQUAL_TO"),
        ("ENUMERATION", "IS_ANY_OF"),
        ("ENUMERATION", "IS_NONE_OF"),
        ("MULTISTRING", "CONTAINS"),
        ("NUMBER", "IS_GREATER_THAN_OR_EQUAL_TO"),
        ("NUMBER", "IS_LESS_THAN"),
        ("ALL_PROPERTY", "IS_UNKNOWN"),
    ]
    assert ops[1]["values"] == ["Paris"] and ops[6]["value"] == 50
    assert ops[7]["value"] == 1_500_000
    # "any": one AND branch per condition under the OR root, as HubSpot requires.
    branch = segment_filter_branch(
        Segment.model_validate({"match": "any", "conditions": conds[:3]})
    )
    assert branch["filterBranchType"] == "OR" and branch["filters"] == []
    assert [len(b["filters"]) for b in branch["filterBranches"]] == [1, 1, 1]
    assert {b["filterBranchType"] for b in branch["filterBranches"]} == {"AND"}


@pytest.mark.parametrize(
    "cond,field",
    [
        ({"property": "city", "operator": "eq"}, "segment.conditions.0.value"),
        ({"property": "city", "operator": "eq", "value": ["a", "b"]}, "segment.conditions.0.value"),
        ({"property": "age", "operator": "gt", "value": "old"}, "segment.conditions.0.value"),
        ({"property": "city", "operator": "known", "value": "x"}, "segment.conditions.0.value"),
        (
            {"property": "lifecyclestage", "operator": "contains", "value": "le"},
            "segment.conditions.0.operator",
        ),
    ],
)
def test_bad_segment_conditions_name_the_field(cond: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as exc:
        segment_filter_branch(Segment.model_validate({"conditions": [cond]}))
    assert exc.value.errors[0]["field"] == field


def test_recipients_are_validated_all_at_once() -> None:
    with pytest.raises(InputError) as exc:
        recipients_from(["1", "x"], ["ok@example.com", "nope"])
    assert [e["field"] for e in exc.value.errors] == ["contact_ids.1", "emails.1"]


# --------------------------------------------------------------------------- tier gates


async def test_tier_gate_names_the_tier_for_a_bare_403() -> None:
    with pytest.raises(TierRequired) as exc:
        async with tier_gate("Marketing Hub Professional", "Campaigns"):
            raise HubSpotError("This portal cannot do that", status=403, correlation_id="c-1")
    assert exc.value.required_tier == "Marketing Hub Professional"
    assert exc.value.correlation_id == "c-1"
    assert "needs Marketing Hub Professional" in exc.value.message
    with pytest.raises(MissingScopes):  # a scope problem stays a scope problem
        async with tier_gate("Marketing Hub Professional", "Campaigns"):
            raise MissingScopes("missing", required_scopes=["marketing.campaigns.read"])


def _client(handler: Any) -> tuple[HubSpotClient, HubSpotHTTP]:
    settings = HubSpotSettings(  # type: ignore[call-arg]
        _env_file=None, HUBSPOT_API_BASE_URL="http://hubspot.test"
    )
    http = HubSpotHTTP(settings, transport=httpx.MockTransport(handler))
    return HubSpotClient(http, StaticToken("pat-test"), portal_id=1), http


async def test_a_tier_refusal_stops_the_remaining_sends() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(json.loads(request.content)["message"]["to"])
        return httpx.Response(
            403,
            json={
                "status": "error",
                "category": "MISSING_SCOPES",
                "subCategory": "PortalTierRequirement",
                "message": "This endpoint requires Marketing Hub Enterprise",
                "correlationId": "corr-9",
            },
        )

    client, http = _client(handler)
    try:
        svc = MarketingService(client, send_concurrency=1)
        recipients = recipients_from([], [f"r{i}@example.com" for i in range(5)])
        with pytest.raises(TierRequired) as exc:
            await svc.send_email(42, recipients)
        assert "Marketing Hub Enterprise" in exc.value.message
        assert len(calls) == 1  # one refusal: the other four were never attempted
    finally:
        await http.aclose()


async def test_send_calls_carry_distinct_send_ids_and_bounded_concurrency() -> None:
    in_flight = 0
    peak = 0
    seen: list[dict[str, Any]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        seen.append(json.loads(request.content))
        return httpx.Response(
            200, json={"status": "COMPLETE", "statusId": "s", "sendResult": "SENT"}
        )

    client, http = _client(handler)
    try:
        svc = MarketingService(client, send_concurrency=3)
        out = await svc.send_email(
            42,
            recipients_from([], [f"r{i}@example.com" for i in range(10)]),
            custom_properties={"offer": "20%"},
        )
        assert out.sent == 10 and peak == 3
        assert len({b["message"]["sendId"] for b in seen}) == 10
        assert all(b["emailId"] == 42 and b["customProperties"] == {"offer": "20%"} for b in seen)
    finally:
        await http.aclose()


async def test_contacts_that_could_not_be_read_stop_the_send_before_anything_goes() -> None:
    from types import SimpleNamespace

    from atom_hubspot.errors import Unavailable

    sent: list[str] = []

    async def batch_read(ids: list[str], **_: Any) -> BatchResult:
        return BatchResult.model_validate(
            {
                "results": [{"id": "1", "properties": {"email": "one@example.com"}}],
                "errors": [
                    {
                        "inputs": ["2"],
                        "code": "hubspot_unavailable",
                        "message": "HubSpot answered 503",
                    }
                ],
            }
        )

    async def single_send(email_id: int, to: str, **_: Any) -> SendResult:
        sent.append(to)
        return SendResult(send_result="SENT")

    client = SimpleNamespace(
        contacts=SimpleNamespace(batch_read=batch_read),
        sends=SimpleNamespace(single_send=single_send),
    )
    svc = MarketingService(client)  # type: ignore[arg-type]
    with pytest.raises(Unavailable) as exc:
        await svc.send_email(42, recipients_from(["1", "2"], []))
    assert "nothing was sent" in exc.value.message
    assert sent == []  # contact 2 is unknown, not "missing": nobody gets the email yet
