"""CRM search: operators, groups, sort, query, limit, paging, the 10,000 cap, `total`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from atom_hubspot.sandbox import PortalConfig

from .conftest import assert_error_shape


def f(prop: str, op: str, **kw: Any) -> dict[str, Any]:
    return {"propertyName": prop, "operator": op, **kw}


async def search(
    api: httpx.AsyncClient, p: dict[str, str], otype: str = "contacts", **body: Any
) -> httpx.Response:
    return await api.post(f"{p['objects']}/{otype}/search", json=body)


async def _all(
    api: httpx.AsyncClient, p: dict[str, str], otype: str, props: list[str]
) -> list[dict[str, Any]]:
    out, after = [], None
    while True:
        body: dict[str, Any] = {"limit": 100, "properties": props}
        if after:
            body["after"] = after
        page = (await search(api, p, otype, **body)).json()
        out += page["results"]
        after = page.get("paging", {}).get("next", {}).get("after")
        if not after:
            return out


async def test_empty_body_is_valid_and_counts_everything(api: httpx.AsyncClient, p: dict[str, str]):
    r = await api.post(f"{p['objects']}/deals/search", json={})
    assert r.status_code == 200
    assert r.json()["total"] == 160 and len(r.json()["results"]) == 10
    assert r.json()["paging"]["next"]["after"] == "10"


async def test_search_sends_no_rate_limit_headers(api: httpx.AsyncClient, p: dict[str, str]):
    r = await search(api, p)
    assert not [h for h in r.headers if h.lower().startswith("x-hubspot-ratelimit")]
    listed = await api.get(f"{p['objects']}/contacts")
    assert "x-hubspot-ratelimit-max" in listed.headers


@pytest.mark.parametrize(
    "flt, check",
    [
        (f("lifecyclestage", "EQ", value="customer"), lambda v: v["lifecyclestage"] == "customer"),
        (f("lifecyclestage", "NEQ", value="customer"), lambda v: v["lifecyclestage"] != "customer"),
        (
            f("lifecyclestage", "IN", values=["lead", "customer"]),
            lambda v: v["lifecyclestage"] in ("lead", "customer"),
        ),
        (
            f("lifecyclestage", "NOT_IN", values=["lead", "customer"]),
            lambda v: v["lifecyclestage"] not in ("lead", "customer"),
        ),
        (f("phone", "HAS_PROPERTY"), lambda v: v["phone"] is not None),
        (f("jobtitle", "NOT_HAS_PROPERTY"), lambda v: v["jobtitle"] is None),
        (f("email", "CONTAINS_TOKEN", value="*labs*"), lambda v: "labs" in v["email"]),
        (f("email", "NOT_CONTAINS_TOKEN", value="*labs*"), lambda v: "labs" not in v["email"]),
        (f("firstname", "CONTAINS_TOKEN", value="ada"), lambda v: v["firstname"] == "Ada"),
    ],
)
async def test_string_operators(
    api: httpx.AsyncClient, p: dict[str, str], flt: dict[str, Any], check: Any
):
    props = ["lifecyclestage", "phone", "jobtitle", "email", "firstname"]
    everyone = await _all(api, p, "contacts", props)
    expected = {o["id"] for o in everyone if check(o["properties"])}
    r = await search(api, p, filterGroups=[{"filters": [flt]}], limit=200, properties=props)
    assert r.status_code == 200, r.text
    got = {o["id"] for o in r.json()["results"]}
    assert r.json()["total"] == len(expected) > 0 or flt["operator"] == "NOT_HAS_PROPERTY"
    assert got == expected or len(expected) > 200


@pytest.mark.parametrize(
    "op, low, high",
    [
        ("LT", None, 15000),
        ("LTE", None, 15000),
        ("GT", 15000, None),
        ("GTE", 15000, None),
        ("BETWEEN", 4500, 25000),
    ],
)
async def test_numeric_operators_compare_as_numbers(
    api: httpx.AsyncClient, p: dict[str, str], op: str, low: int | None, high: int | None
):
    deals = await _all(api, p, "deals", ["amount"])
    amounts = {o["id"]: float(o["properties"]["amount"]) for o in deals}
    if op == "BETWEEN":
        flt = f("amount", op, value=str(low), highValue=str(high))
        exp = {i for i, a in amounts.items() if low <= a <= high}  # type: ignore[operator]
    else:
        flt = f("amount", op, value=str(low if low is not None else high))
        v = float(low if low is not None else high)  # type: ignore[arg-type]
        exp = {
            i
            for i, a in amounts.items()
            if {"LT": a < v, "LTE": a <= v, "GT": a > v, "GTE": a >= v}[op]
        }
    r = await search(api, p, "deals", filterGroups=[{"filters": [flt]}], limit=200)
    assert r.json()["total"] == len(exp) > 0
    assert {o["id"] for o in r.json()["results"]} == exp


async def test_dates_compare_as_epoch_ms_or_iso(api: httpx.AsyncClient, p: dict[str, str]):
    everyone = await _all(api, p, "contacts", ["createdate"])
    stamps = sorted(o["properties"]["createdate"] for o in everyone)
    pivot = stamps[100]
    r1 = await search(
        api, p, filterGroups=[{"filters": [f("createdate", "LT", value=pivot)]}], limit=1
    )
    from datetime import datetime

    ms = int(datetime.fromisoformat(pivot.replace("Z", "+00:00")).timestamp() * 1000)
    r2 = await search(
        api, p, filterGroups=[{"filters": [f("createdate", "LT", value=str(ms))]}], limit=1
    )
    assert r1.json()["total"] == r2.json()["total"] == 100


async def test_groups_or_and_filters_and(api: httpx.AsyncClient, p: dict[str, str]):
    a = f("lifecyclestage", "EQ", value="customer")
    b = f("hs_lead_status", "EQ", value="NEW")
    both = (await search(api, p, filterGroups=[{"filters": [a, b]}], limit=1)).json()["total"]
    only_a = (await search(api, p, filterGroups=[{"filters": [a]}], limit=1)).json()["total"]
    only_b = (await search(api, p, filterGroups=[{"filters": [b]}], limit=1)).json()["total"]
    either = (
        await search(api, p, filterGroups=[{"filters": [a]}, {"filters": [b]}], limit=1)
    ).json()["total"]
    assert 0 < both < min(only_a, only_b)
    assert either == only_a + only_b - both


async def test_one_sort_and_query(api: httpx.AsyncClient, p: dict[str, str]):
    r = await search(
        api,
        p,
        "deals",
        sorts=[{"propertyName": "amount", "direction": "DESCENDING"}],
        limit=50,
        properties=["amount"],
    )
    amounts = [float(o["properties"]["amount"]) for o in r.json()["results"]]
    assert amounts == sorted(amounts, reverse=True)
    asc = await search(
        api,
        p,
        "deals",
        sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
        limit=50,
    )
    ids = [int(o["id"]) for o in asc.json()["results"]]
    assert ids == sorted(ids)
    q = await search(api, p, "companies", query="acme", properties=["name"], limit=100)
    assert q.json()["total"] > 0
    assert all("acme" in o["properties"]["name"].lower() for o in q.json()["results"])


async def test_validation_errors(api: httpx.AsyncClient, p: dict[str, str]):
    too_big = await search(api, p, limit=201)
    assert too_big.status_code == 400
    assert_error_shape(too_big.json(), "VALIDATION_ERROR")
    bad_op = await search(api, p, filterGroups=[{"filters": [f("email", "LIKE", value="x")]}])
    assert bad_op.status_code == 400
    groups = await search(api, p, filterGroups=[{"filters": [f("email", "HAS_PROPERTY")]}] * 6)
    assert groups.status_code == 400
    ok = await search(api, p, limit=200)
    assert ok.status_code == 200 and len(ok.json()["results"]) == 200


async def test_search_total_and_limit_zero_counts(api: httpx.AsyncClient, p: dict[str, str]):
    r = await search(
        api, p, limit=1, filterGroups=[{"filters": [f("lifecyclestage", "EQ", value="lead")]}]
    )
    assert r.json()["total"] > 1 and len(r.json()["results"]) == 1


def test_portal_config_is_exported():
    assert PortalConfig(portal_id=1).portal_id == 1


async def test_search_trails_writes_by_the_index_lag(
    clock: Any, transport: httpx.ASGITransport, client: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    """With HubSpot's lag (the default), search sees each record as it was that long ago:
    a new one not at all, an updated one with its old values; reads by id see the write."""
    from atom_hubspot.sandbox.config import DEFAULT_SEARCH_LAG_S

    sandbox = transport.app.state.sandbox  # type: ignore[attr-defined]
    assert DEFAULT_SEARCH_LAG_S >= 1.0  # "a few seconds", not instant
    sandbox.config.search_lag_s = DEFAULT_SEARCH_LAG_S
    made = await api.post(
        "/crm/v3/objects/contacts", json={"properties": {"email": "lag@example.com"}}
    )
    rid = made.json()["id"]
    by_email = [f("email", "EQ", value="lag@example.com")]
    body = {"filterGroups": [{"filters": by_email}], "properties": ["firstname"]}
    p = {"objects": "/crm/v3/objects"}
    assert (await search(api, p, **body)).json()["total"] == 0
    read = await api.get(f"/crm/v3/objects/contacts/{rid}")
    assert read.status_code == 200  # a read by id is consistent at once
    clock.advance(DEFAULT_SEARCH_LAG_S)
    assert (await search(api, p, **body)).json()["total"] == 1
    await api.patch(f"/crm/v3/objects/contacts/{rid}", json={"properties": {"firstname": "New"}})
    stale = (await search(api, p, **body)).json()["results"][0]
    assert stale["properties"]["firstname"] is None  # the index still has the old value
    renamed = {"filterGroups": [{"filters": [f("firstname", "EQ", value="New")]}]}
    assert (await search(api, p, **renamed)).json()["total"] == 0
    clock.advance(DEFAULT_SEARCH_LAG_S)
    assert (await search(api, p, **body)).json()["results"][0]["properties"]["firstname"] == "New"
    assert (await search(api, p, **renamed)).json()["total"] == 1
    # Seeded records are long indexed.
    assert (await search(api, p, limit=1)).json()["total"] >= 300


def test_the_sandbox_cli_sets_the_search_lag() -> None:
    from click.testing import CliRunner

    from atom_hubspot.sandbox.cli import build_config, sandbox

    kw: dict[str, Any] = dict(
        rate_limit=None,
        window=10.0,
        search_rate=None,
        daily_limit=None,
        faults=None,
        token_ttl=60,
        no_seed=True,
        private_app_token=(),
    )
    assert build_config(**kw).search_lag_s == 2.0
    assert build_config(**kw, search_lag=0.0).search_lag_s == 0.0
    usage = CliRunner().invoke(sandbox, ["--help"]).output
    assert "--search-lag" in usage
    bad = CliRunner().invoke(sandbox, ["--search-lag", "-1"])
    assert bad.exit_code == 2
