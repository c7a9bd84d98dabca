"""Paging as iterators, search past 10,000 by keyset, count, and batch with 207 partials."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from atom_hubspot.client import Filter, FilterGroup, SearchRequest
from atom_hubspot.errors import InputError, NotFound, Unavailable
from tests.client.fake_crm import FakeCRM
from tests.client.fakes import error, make

# --------------------------------------------------------------------------- paging


async def test_iter_all_pages_through_everything_one_page_at_a_time() -> None:
    fake = FakeCRM(250)
    client, *_ = make(fake)
    ids = [o.id async for o in client.contacts.iter_all(properties=["email"])]
    assert ids == [str(i) for i in range(1, 251)]
    lists = [c for c in fake.calls if c[0] == "GET"]
    assert len(lists) == 3  # 100 + 100 + 50


async def test_iter_all_total_cap() -> None:
    fake = FakeCRM(250)
    client, *_ = make(fake)
    got = [o async for o in client.contacts.iter_all(max_items=120)]
    assert len(got) == 120 and len(fake.calls) == 2  # no page fetched beyond the cap


async def test_list_limit_is_checked() -> None:
    client, *_ = make(FakeCRM(1))
    with pytest.raises(InputError):
        await client.contacts.list(limit=101)


async def test_search_request_json_and_builders() -> None:
    req = (
        SearchRequest(limit=50)
        .where(Filter.eq("lifecyclestage", "lead"), Filter.has("email"))
        .where(Filter.in_("hs_lead_status", ["NEW", "OPEN"]))
        .sort("createdate", "DESC")
        .select("email")
    )
    assert req.to_json() == {
        "limit": 50,
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"},
                    {"propertyName": "email", "operator": "HAS_PROPERTY"},
                ]
            },
            {
                "filters": [
                    {"propertyName": "hs_lead_status", "operator": "IN", "values": ["NEW", "OPEN"]}
                ]
            },
        ],
        "sorts": [{"propertyName": "createdate", "direction": "DESCENDING"}],
        "properties": ["email"],
    }
    with pytest.raises(ValueError):
        Filter(property_name="x", operator="LIKE")
    assert SearchRequest().to_json() == {"limit": 100}


async def test_iter_search_goes_past_10000_by_keyset() -> None:
    fake = FakeCRM(10_650)  # the fake answers 400 for any page past 10,000, like HubSpot
    client, *_ = make(fake)
    everything = [o.id async for o in client.contacts.iter_search(SearchRequest(limit=200))]
    assert everything == [str(i) for i in range(1, 10_651)]  # all, once, in id order
    searches = [c[2] for c in fake.calls if c[1].endswith("/search")]
    restarts = [b for b in searches if b.get("filterGroups") and "after" not in b]
    assert len(restarts) == 1
    assert restarts[0]["filterGroups"] == [
        {"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": "10000"}]}
    ]
    assert max(int(b.get("after", 0)) + b["limit"] for b in searches) <= 10_000
    assert all(
        b["sorts"] == [{"propertyName": "hs_object_id", "direction": "ASCENDING"}] for b in searches
    )


async def test_iter_search_with_several_groups_adds_the_keyset_to_each() -> None:
    fake = FakeCRM(10_500)
    client, *_ = make(fake)
    req = SearchRequest(limit=200).where(Filter.lt("n", 5)).where(Filter.gt("n", 100))
    got = [o async for o in client.contacts.iter_search(req)]
    assert len(got) == 5 + (10_500 - 101) and len({o.id for o in got}) == len(got)
    last = fake.calls[-1][2]
    # The caller's filters stay in each group; the keyset filter is added to each.
    assert [g["filters"][0] for g in last["filterGroups"]] == [
        {"propertyName": "n", "operator": "LT", "value": "5"},
        {"propertyName": "n", "operator": "GT", "value": "100"},
    ]
    assert all(
        g["filters"][-1]["propertyName"] == "hs_object_id" and g["filters"][-1]["operator"] == "GT"
        for g in last["filterGroups"]
    )


async def test_iter_search_cap() -> None:
    fake = FakeCRM(1000)
    client, *_ = make(fake)
    got = [o async for o in client.contacts.iter_search(SearchRequest(limit=100), max_items=250)]
    assert len(got) == 250 and len(fake.calls) == 3


async def test_sorted_search_past_10000_is_refused_up_front() -> None:
    fake = FakeCRM(10_050)
    client, *_ = make(fake)
    req = SearchRequest(limit=200).sort("n", "DESCENDING")
    with pytest.raises(InputError):
        async for _ in client.contacts.iter_search(req):
            pass
    small = FakeCRM(30)
    client, *_ = make(small)
    req = SearchRequest(limit=10).sort("n", "DESC")
    got = [o.id async for o in client.contacts.iter_search(req)]
    assert got[0] == "30" and len(got) == 30


async def test_count_is_one_search_with_limit_1() -> None:
    fake = FakeCRM(77)
    fake.records[5]["kind"] = "x"
    client, *_ = make(fake)
    assert await client.contacts.count() == 77
    assert await client.contacts.count([FilterGroup.of(Filter.eq("kind", "x"))]) == 1
    assert [c[2]["limit"] for c in fake.calls] == [1, 1]


# --------------------------------------------------------------------------- batch


async def test_batch_upsert_chunks_by_100() -> None:
    fake = FakeCRM()
    client, *_ = make(fake)
    inputs = [{"id": f"u{i}@example.com", "properties": {"firstname": f"U{i}"}} for i in range(250)]
    result = await client.contacts.batch_upsert(inputs)
    assert result.ok and result.status == "COMPLETE" and len(result.results) == 250
    sizes = [len(c[2]["inputs"]) for c in fake.calls]
    assert sorted(sizes) == [50, 100, 100]
    assert all(i["idProperty"] == "email" for c in fake.calls for i in c[2]["inputs"])


async def test_batch_207_partial_results_reach_the_caller() -> None:
    fake = FakeCRM(3)  # c0..c2 exist
    client, *_ = make(fake)
    result = await client.contacts.batch_create(
        [{"email": "c1@example.com"}, {"email": "new@example.com"}]
    )
    assert result.status == "PARTIAL"
    assert [o.properties["email"] for o in result.results] == ["new@example.com"]
    assert len(result.errors) == 1
    assert result.errors[0].category == "CONFLICT"
    assert result.errors[0].context == {"email": ["c1@example.com"]}
    read = await client.contacts.batch_read([1, 999])
    assert [o.id for o in read.results] == ["1"] and read.errors[0].context == {"ids": ["999"]}


async def test_a_failed_chunk_is_reported_per_input_not_dropped() -> None:
    fake = FakeCRM()
    calls = {"n": 0}

    def fail_second(inputs):
        calls["n"] += 1
        if calls["n"] == 2:
            return error(400, category="VALIDATION_ERROR", message="bad chunk")
        return None

    fake.fail_chunk = fail_second
    client, http, *_ = make(fake)
    http.batch_concurrency = 1
    inputs = [{"email": f"n{i}@example.com"} for i in range(250)]
    result = await client.contacts.batch_create(inputs)
    assert len(result.results) == 150
    assert len(result.errors) == 1
    failed = result.errors[0]
    assert failed.code == "hubspot_validation_error" and len(failed.inputs) == 100
    assert failed.inputs[0] == {"properties": {"email": "n100@example.com"}}
    assert result.status == "PARTIAL"


async def test_batch_create_chunk_with_unknown_outcome_is_not_resent() -> None:
    fake = FakeCRM()
    n = {"calls": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        n["calls"] += 1
        if n["calls"] == 1:
            raise httpx.ReadTimeout("lost")
        return fake(request)

    client, http, *_ = make(handler)
    http.batch_concurrency = 1
    result = await client.contacts.batch_create([{"email": f"n{i}@x.com"} for i in range(150)])
    assert n["calls"] == 2  # the lost chunk was not re-sent
    assert result.errors[0].code == "outcome_unknown" and len(result.errors[0].inputs) == 100
    assert len(result.results) == 50


async def test_when_every_chunk_fails_the_error_is_raised() -> None:
    client, *_ = make(lambda r: error(404, message="nope"))
    with pytest.raises(NotFound):
        await client.contacts.batch_read([1, 2])
    client, *_ = make(lambda r: error(503), HUBSPOT_RETRY_MAX_ATTEMPTS=1)
    with pytest.raises(Unavailable):
        await client.contacts.batch_upsert([("a@b.c", {"x": "1"})])


async def test_batch_concurrency_is_bounded() -> None:
    active = {"now": 0, "max": 0}
    fake = FakeCRM()

    class Slow(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            active["now"] += 1
            active["max"] = max(active["max"], active["now"])
            await asyncio.sleep(0.001)
            active["now"] -= 1
            resp = fake(request)
            return httpx.Response(resp.status_code, content=resp.content, headers=resp.headers)

    from atom_hubspot.client import HubSpotClient, HubSpotHTTP, StaticToken
    from tests.client.fakes import settings

    http = HubSpotHTTP(settings(), transport=Slow(), batch_concurrency=3)
    client = HubSpotClient(http, StaticToken("t"), portal_id=1)
    result = await client.contacts.batch_upsert([(f"c{i}@x.com", {}) for i in range(1000)])
    await http.aclose()
    assert len(result.results) == 1000
    assert active["max"] == 3


async def test_empty_batches_make_no_call() -> None:
    fake = FakeCRM()
    client, *_ = make(fake)
    assert (await client.contacts.batch_upsert([])).results == []
    assert fake.calls == []
