"""Generated score-band and score-filter inputs (Hypothesis): first against the parsing itself,
then through the host and the sandbox, where the mirror and HubSpot search must agree with each
other and with the seeded scores, and every refusal is a 422 naming the field."""

from __future__ import annotations

import asyncio
import itertools
import string
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atom_hubspot.errors import InputError
from atom_hubspot.service.crm_requests import ContactQuery, contact_groups
from atom_hubspot.service.scoring import MAX_BANDS, MAX_EDGE, parse_bands
from tests.api.conftest import Stack, stack
from tests.mirror.test_host import migrated_template, synced
from tests.mirror.test_scoring import seeded_scores
from tests.openapi_fuzzing import collect_examples

__all__ = ["migrated_template", "stack", "synced"]

FAST = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

# Numbers as a caller might write them, sensible and not.
scores = st.one_of(
    st.integers(-30, 130).map(str),
    st.decimals(-30, 130, places=2, allow_nan=False).map(str),
)
number_texts = st.one_of(
    scores,
    st.sampled_from(["", " ", "NaN", "-Infinity", "1e999999999", "1e-999", "1_0", "\u0663", "--1"]),
    st.text(string.printable, max_size=12),
)
edge_lists = st.lists(st.integers(-30, 130), min_size=2, max_size=MAX_BANDS + 1, unique=True).map(
    lambda xs: ",".join(str(x) for x in sorted(xs))
)
band_texts = st.one_of(
    edge_lists,
    st.lists(number_texts, max_size=14).map(",".join),
    st.text(string.printable, max_size=40),
)


def _fields(exc: InputError) -> set[str]:
    return {e["field"] for e in exc.errors}


@FAST
@given(band_texts)
def test_band_edges_parse_to_increasing_bounded_bands_or_name_the_field(text: str) -> None:
    try:
        bands = parse_bands(text)
    except InputError as exc:
        assert _fields(exc) == {"bands"} and "bands" in exc.message
        return
    assert 1 <= len(bands) <= MAX_BANDS
    assert all(b.low < b.high and abs(b.low) <= MAX_EDGE >= abs(b.high) for b in bands)
    assert all(a.high == b.low for a, b in itertools.pairwise(bands))
    assert [b.last for b in bands] == [False] * (len(bands) - 1) + [True]


@FAST
@given(
    st.one_of(st.none(), number_texts),
    st.one_of(st.none(), number_texts),
    st.one_of(st.none(), number_texts),
)
def test_score_filters_become_one_search_filter_or_name_the_fields(
    low: str | None, high: str | None, exact: str | None
) -> None:
    query = ContactQuery(
        score_property="lead_fit_score", score_min=low, score_max=high, score=exact
    )
    given_ = [v for v in (low, high, exact) if v not in (None, "")]
    try:
        groups = contact_groups(query)
    except InputError as exc:
        # A score property with no bound is refused too: the caller meant something.
        allowed = {"score_min", "score_max", "score"} if given_ else {"score_property"}
        assert _fields(exc) and _fields(exc) <= allowed, exc.errors
        return
    assert given_
    [group] = groups
    [f] = group.filters
    assert f.property_name == "lead_fit_score"
    assert (
        f.operator == {1: "EQ" if exact else ("GTE" if low else "LTE"), 2: "BETWEEN"}[len(given_)]
    )


# ------------------------------------------------------------------ through the host


def _count(values: list[Decimal], low: Decimal, high: Decimal, last: bool) -> int:
    return sum(1 for v in values if low <= v and (v < high or (last and v == high)))


async def test_generated_bands_count_the_seeded_scores_from_either_source(synced: Stack) -> None:
    cases = await asyncio.to_thread(collect_examples, band_texts, 60)
    assert len(cases) >= 40
    seeded = seeded_scores(synced, "lead_fit_score")
    values = [v for v in seeded.values() if v is not None]
    answered = refused = 0
    async with synced.client("alice") as alice:
        for n, text in enumerate(cases):
            params = {"property": "lead_fit_score", "bands": text, "source": "mirror"}
            r = await alice.get("/api/hubspot/analytics/contacts/score-bands", params=params)
            body = r.json()
            if r.status_code == 422:
                refused += 1
                assert "bands" in body["error"]["message"], body
                continue
            assert r.status_code == 200, r.text
            answered += 1
            data = body["data"]
            assert data["total_contacts"] == len(seeded)
            for band in data["bands"]:
                low, high = Decimal(str(band["low"])), Decimal(str(band["high"]))
                assert band["count"] == _count(values, low, high, band["includes_high"]), band
            if n % 8 == 0:  # some live too: each costs the portal's search budget
                live = (
                    await alice.get(
                        "/api/hubspot/analytics/contacts/score-bands",
                        params={**params, "source": "live"},
                    )
                ).json()["data"]
                keep = ("bands", "below", "above", "without_score", "total_contacts")
                assert {k: live[k] for k in keep} == {k: data[k] for k in keep}
    assert answered > 10 and refused > 5, (answered, refused)


@pytest.mark.parametrize("score_property", ["hubspotscore", "lead_fit_score"])
async def test_generated_score_ranges_agree_from_either_source(
    synced: Stack, score_property: str
) -> None:
    ranges = st.tuples(st.one_of(st.none(), number_texts), st.one_of(st.none(), number_texts))
    cases = await asyncio.to_thread(collect_examples, ranges, 30)
    seeded = seeded_scores(synced, score_property)
    answered = 0
    async with synced.client("alice") as alice:
        for low, high in cases:
            params = {"score_property": score_property, "properties": score_property}
            params |= {"score_min": low} if low is not None else {}
            params |= {"score_max": high} if high is not None else {}
            params |= {"sort": f"-{score_property}", "limit": "100"}
            answers = {}
            for source in ("mirror", "live"):
                r = await alice.get("/api/hubspot/contacts", params={**params, "source": source})
                assert r.status_code in (200, 422), r.text
                answers[source] = r.json()
            mirror, live = answers["mirror"], answers["live"]
            assert mirror["ok"] == live["ok"], (params, mirror, live)
            if not mirror["ok"]:
                error = mirror["error"]
                fields = {e.get("field") for e in error.get("errors") or []}
                bounded = low not in (None, "") or high not in (None, "")
                allowed = {"score_min", "score_max"} if bounded else {"score_property"}
                assert fields and fields <= allowed, error
                continue
            answered += 1
            ids = [r["id"] for r in mirror["data"]["results"]]
            assert ids == [r["id"] for r in live["data"]["results"]], params
            assert mirror["data"]["total"] == live["data"]["total"], params
            got = [
                Decimal(v)
                for r in mirror["data"]["results"]
                if (v := r["properties"][score_property])
            ]
            if low not in (None, "") or high not in (None, ""):
                lo = Decimal(low) if low not in (None, "") else None
                hi = Decimal(high) if high not in (None, "") else None
                in_range = [
                    v
                    for v in seeded.values()
                    if v is not None and (lo is None or v >= lo) and (hi is None or v <= hi)
                ]
                assert mirror["data"]["total"] == len(in_range), params
                assert all((lo is None or v >= lo) and (hi is None or v <= hi) for v in got)
    assert answered > 5
