"""Lead scoring through the host and the sandbox: the portal's score properties, contacts read,
filtered and sorted by a score — from the mirror and from HubSpot search, with equal answers —
and contacts per score band."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.api.conftest import PORTAL_A, Stack, stack
from tests.mirror.test_host import migrated_template, synced, synced_module

__all__ = ["migrated_template", "stack", "synced", "synced_module"]

SCORES = "hubspotscore,lead_fit_score"


async def read(client: Any, path: str, **params: str) -> dict[str, Any]:
    answer = (await client.get(path, params=params)).json()
    assert answer["ok"], answer
    return dict(answer)


def seeded_scores(st: Stack, name: str) -> dict[str, Decimal | None]:
    """Each live contact's score in the sandbox (HubSpot's own data), by id."""
    records = st.sandbox.portals[PORTAL_A].records["contacts"].values()
    return {
        str(r.id): (Decimal(v) if (v := r.properties.get(name)) not in (None, "") else None)
        for r in records
        if not r.archived
    }


async def test_the_portals_score_properties_are_listed_with_the_default_first(
    synced: Stack,
) -> None:
    async with synced.client("alice") as alice:
        listed = (await read(alice, "/api/hubspot/contacts/score-properties"))["data"]
    assert listed["default"] == "hubspotscore" and listed["readable"] is True
    by_name = {p["name"]: p for p in listed["results"]}
    assert list(by_name) == ["hubspotscore", "lead_fit_score"]
    assert by_name["hubspotscore"] == {
        "name": "hubspotscore",
        "label": "HubSpot Score",
        "type": "number",
        "field_type": "calculation_score",
        "group": "contactinformation",
        "hubspot_defined": True,
        "default": True,
    }
    assert by_name["lead_fit_score"]["hubspot_defined"] is False
    assert by_name["lead_fit_score"]["default"] is False
    # Other number properties (annualrevenue) are not scores.
    assert "annualrevenue" not in by_name


async def test_scores_are_read_on_contacts_from_either_source(synced: Stack) -> None:
    expected = seeded_scores(synced, "hubspotscore")
    fit = seeded_scores(synced, "lead_fit_score")
    async with synced.client("alice") as alice:
        for source in ("mirror", "live"):
            page = await read(
                alice, "/api/hubspot/contacts", source=source, limit="20", properties=SCORES
            )
            assert page["meta"]["source"] == source
            for r in page["data"]["results"]:
                got = r["properties"]["hubspotscore"]
                assert (Decimal(got) if got else None) == expected[r["id"]]
            rid = next(i for i, v in expected.items() if v is not None)
            one = await read(alice, f"/api/hubspot/contacts/{rid}", source=source)
            # Without `properties`, a read names the portal's scores too.
            assert Decimal(one["data"]["properties"]["hubspotscore"]) == expected[rid]
            fit_value = one["data"]["properties"].get("lead_fit_score")
            assert (Decimal(fit_value) if fit_value else None) == fit[rid]


SCORE_CASES: list[dict[str, str]] = [
    {"score_min": "50"},
    {"score_max": "9"},  # as text "10" > "9": a text compare would differ
    {"score_min": "25", "score_max": "75", "sort": "-hubspotscore"},
    {"score": "42"},
    {"sort": "hubspotscore"},
    {"sort": "-hubspotscore"},
    {"score_property": "lead_fit_score", "score_max": "0", "sort": "lead_fit_score"},
    {"score_property": "lead_fit_score", "score_min": "-5.5", "score_max": "12.25"},
    {"score_property": "lead_fit_score", "score_min": "90", "sort": "-lead_fit_score"},
    {"name": "ada", "score_min": "30", "sort": "-hubspotscore"},
    {"lifecycle_stage": "lead", "score_min": "60", "sort": "-createdate"},
]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("params", SCORE_CASES)
async def test_score_filters_and_sorts_from_the_mirror_equal_hubspot_search(
    synced_module: Stack, params: dict[str, str]
) -> None:
    async with synced_module.client("alice") as alice:
        answers = {
            source: await read(
                alice,
                "/api/hubspot/contacts",
                source=source,
                limit="100",
                properties=SCORES,
                **params,
            )
            for source in ("mirror", "live")
        }
    mirror, live = answers["mirror"]["data"], answers["live"]["data"]
    assert [r["id"] for r in mirror["results"]] == [r["id"] for r in live["results"]], params
    assert mirror["total"] == live["total"] and mirror["next_after"] == live["next_after"]
    assert mirror["results"], params  # each case finds something in the seed
    # And both answer what the scores say, not merely the same as each other.
    name = params.get("score_property", "hubspotscore")
    seeded = seeded_scores(synced_module, name)
    values = [seeded[r["id"]] for r in mirror["results"]]
    for r in mirror["results"]:
        got = r["properties"][name]
        assert (Decimal(got) if got else None) == seeded[r["id"]]
    low, high = params.get("score_min"), params.get("score_max")
    if low is not None:
        assert all(v is not None and v >= Decimal(low) for v in values)
    if high is not None:
        assert all(v is not None and v <= Decimal(high) for v in values)
    if "score" in params:
        assert set(values) == {Decimal(params["score"])}
    narrowing = set(params) - {"sort"}
    if narrowing <= {"score_property", "score_min", "score_max", "score"}:
        # Only a score narrows it (or nothing): the total is exactly the seeded contacts.
        exact = Decimal(params["score"]) if "score" in params else None
        expected = sum(
            1
            for v in seeded.values()
            if not narrowing
            or (
                v is not None
                and (low is None or v >= Decimal(low))
                and (high is None or v <= Decimal(high))
                and (exact is None or v == exact)
            )
        )
        assert mirror["total"] == expected, params
    sort = params.get("sort", "")
    if sort.lstrip("-") == name:
        present = [v for v in values if v is not None]
        assert present == sorted(present, reverse=sort.startswith("-"))
        # Contacts without the score come last in both directions, as in HubSpot.
        assert values[: len(present)] == present


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"score_property": "firstname", "score_min": "1"}, "score_property"),
        ({"score_property": "annualrevenue", "score_min": "1"}, "score_property"),
        ({"score_property": "hubspotscore"}, "score_property"),
        ({"score_min": "80", "score_max": "20"}, "score_min"),
        ({"score_min": "ten"}, "score_min"),
        ({"score_max": "1e999999999"}, "score_max"),
        ({"score": "50", "score_min": "10"}, "score"),
        ({"score_property": "Bad Name", "score_min": "1"}, "score_property"),
    ],
)
async def test_a_bad_score_filter_is_refused_naming_the_field(
    synced_module: Stack, params: dict[str, str], field: str
) -> None:
    async with synced_module.client("alice") as alice:
        for source in ("mirror", "live"):
            r = await alice.get("/api/hubspot/contacts", params={**params, "source": source})
            assert r.status_code == 422, r.text
            error = r.json()["error"]
            fields = {e.get("field") or e.get("loc", [None])[-1] for e in error.get("errors", [])}
            assert field in fields or field in error["message"], error


BAND_CASES = [
    {},
    {"bands": "0,50,100"},
    {"property": "lead_fit_score", "bands": "-20,0,10,50,100"},
    {"property": "lead_fit_score", "bands": "5,95"},  # below and above both occupied
    {"bands": "0,10,20,30,40,50,60,70,80,90,100"},
]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("params", BAND_CASES)
async def test_score_bands_from_the_mirror_equal_the_live_counts(
    synced_module: Stack, params: dict[str, str]
) -> None:
    async with synced_module.client("alice") as alice:
        before = synced_module.sandbox.calls.get("crm.objects.search", 0)
        mirror = await read(
            alice, "/api/hubspot/analytics/contacts/score-bands", source="mirror", **params
        )
        assert synced_module.sandbox.calls.get("crm.objects.search", 0) == before  # no search spent
        live = await read(
            alice, "/api/hubspot/analytics/contacts/score-bands", source="live", **params
        )
        spent = synced_module.sandbox.calls.get("crm.objects.search", 0) - before
        again = await read(
            alice, "/api/hubspot/analytics/contacts/score-bands", source="live", **params
        )
    assert (mirror["meta"]["source"], live["meta"]["source"]) == ("mirror", "live")
    assert mirror["meta"]["as_of"].endswith("Z")
    m, lv = mirror["data"], live["data"]
    strip = {"computed_at", "note", "search_calls"}
    assert {k: v for k, v in m.items() if k not in strip} == {
        k: v for k, v in lv.items() if k not in strip
    }
    # The live answer says what it spent, and spent just that; the cached one spent nothing.
    assert m["search_calls"] == 0 and lv["search_calls"] == len(lv["bands"]) + 3 == spent
    assert again["meta"]["cached"] is True and again["data"]["search_calls"] == 0
    assert "search calls" in lv["note"]
    # The counts are the seeded scores', every contact counted once.
    name = params.get("property", "hubspotscore")
    seeded = seeded_scores(synced_module, name)
    assert m["total_contacts"] == len(seeded)
    assert m["without_score"] == sum(1 for v in seeded.values() if v is None)
    values = [v for v in seeded.values() if v is not None]
    for band in m["bands"]:
        low, high = Decimal(str(band["low"])), Decimal(str(band["high"]))
        top = band["includes_high"]
        inside = [v for v in values if low <= v and (v < high or (top and v == high))]
        assert band["count"] == len(inside), band
    assert m["below"] == sum(1 for v in values if v < Decimal(str(m["bands"][0]["low"])))
    assert m["above"] == sum(1 for v in values if v > Decimal(str(m["bands"][-1]["high"])))
    if name == "lead_fit_score" and params.get("bands") == "5,95":
        assert m["below"] > 0 and m["above"] > 0


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"property": "firstname"}, "property"),
        ({"property": "Not-A-Name"}, "property"),
        ({"bands": "50"}, "bands"),
        ({"bands": "0,50,50"}, "bands"),
        ({"bands": "100,50,0"}, "bands"),
        ({"bands": "0,x,100"}, "bands"),
        ({"bands": "0,1e999999999"}, "bands"),
        ({"bands": ",".join(str(i) for i in range(12))}, "bands"),
        ({"bands": "0,5000000"}, "bands"),
        ({"bands": "0," * 200 + "1"}, "bands"),
    ],
)
async def test_bad_band_input_is_refused_naming_the_field(
    synced_module: Stack, params: dict[str, str], field: str
) -> None:
    async with synced_module.client("alice") as alice:
        r = await alice.get("/api/hubspot/analytics/contacts/score-bands", params=params)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert field in error["message"] or field in str(error.get("errors")), error


async def test_score_properties_are_read_with_the_other_definitions_once(synced: Stack) -> None:
    before = synced.sandbox.calls.get("crm.properties.list", 0)
    async with synced.client("alice") as alice:
        for _ in range(2):
            await read(alice, "/api/hubspot/contacts/score-properties")
            await read(alice, "/api/hubspot/contacts", source="live", score_min="10")
            await read(alice, "/api/hubspot/contacts", source="mirror", sort="-hubspotscore")
            await read(alice, "/api/hubspot/analytics/contacts/score-bands", source="mirror")
    assert synced.sandbox.calls.get("crm.properties.list", 0) - before <= 1


async def test_without_the_schema_scope_only_hubspotscore_is_taken_on_trust(
    stack: Stack,
) -> None:
    from atom_hubspot.sandbox import PortalConfig
    from tests.api.conftest import PRINCIPALS
    from tests.api.test_custom_properties_e2e import OBJECT_SCOPES_ONLY

    portal_c = 4567891
    stack.sandbox.add_portal(PortalConfig(portal_id=portal_c, seed=True))
    token = stack.sandbox.add_private_app_token(portal_c, scopes=OBJECT_SCOPES_ONLY)
    await stack.runtime.connections.save_private_app_token(PRINCIPALS["carol"], token)  # type: ignore[attr-defined]
    async with stack.client("carol") as carol:
        listed = (await read(carol, "/api/hubspot/contacts/score-properties"))["data"]
        assert listed == {**listed, "results": [], "default": None, "readable": False}
        top = await read(
            carol,
            "/api/hubspot/contacts",
            source="live",
            score_min="90",
            properties="hubspotscore",
        )
        got = [int(r["properties"]["hubspotscore"]) for r in top["data"]["results"]]
        assert got and min(got) >= 90
        bands = await read(carol, "/api/hubspot/analytics/contacts/score-bands", source="live")
        assert bands["data"]["property"] == "hubspotscore"
        assert bands["data"]["total_contacts"] == len(
            stack.sandbox.portals[portal_c].records["contacts"]
        )
        other = await carol.get(
            "/api/hubspot/contacts", params={"score_property": "lead_fit_score", "score": "1"}
        )
        assert other.status_code == 422
        assert other.json()["error"]["errors"][0]["field"] == "score_property"
