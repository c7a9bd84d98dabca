"""Property-based tests (Hypothesis) of the input bounds: extreme numbers, dates, names,
sizes and encodings — first against the parsing functions themselves, then through the whole
host against the routes, where no answer may be a 5xx.

Cases are generated off the event loop (as in `tests/openapi_fuzzing.py`) and sent through the
app in the test's own loop; generation is derandomized, so a run is repeatable.
"""

from __future__ import annotations

import asyncio
import json
import math
import string
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atom_host_stub.guard import MAX_JSON_NUMBER_CHARS, JSONBodyError, strict_json_loads
from atom_hubspot.service import mapping
from tests.api.conftest import Stack
from tests.openapi_fuzzing import collect_examples

FAST = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

# ------------------------------------------------------------------ strategies

digits = st.text(string.digits, min_size=1, max_size=40)
exponents = st.integers(-(10**12), 10**12)
# Number texts as an attacker writes them: huge and tiny exponents, long digit runs, signs,
# non-standard constants, unicode digits, whitespace, garbage.
number_texts = st.one_of(
    st.builds(lambda d, e: f"{d}e{e}", digits, exponents),
    st.builds(lambda d, f: f"{d}.{f}", digits, digits),
    st.builds(lambda s, d: f"{s}{d}", st.sampled_from(["", "-", "+", " ", "--"]), digits),
    st.sampled_from(
        [
            "NaN",
            "Infinity",
            "-Infinity",
            "inf",
            "1e",
            "e5",
            ".",
            "1_000",
            "\u0663",
            "\uff11",
            "0x10",
        ]
    ),
    st.text(max_size=80),
)
json_numbers = st.one_of(
    st.integers(-(10**60), 10**60),
    st.floats(allow_nan=False, allow_infinity=False),
)
offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
    lambda m: f"{'-' if m < 0 else '+'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"
)
date_texts = st.one_of(
    st.builds(
        lambda d, o: d.strftime("%Y-%m-%dT%H:%M:%S") + o,
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
        offsets,
    ),
    st.dates().map(lambda d: d.strftime("%Y-%m-%d")),
    st.sampled_from(["0001-01-01", "9999-12-31", "9999-12-31T23:59:59-23:59", "0000-00-00"]),
    st.text(string.digits, min_size=1, max_size=30),  # epoch milliseconds, or far beyond
    st.text(max_size=50),
)
names = st.one_of(
    st.from_regex(r"[a-z][a-z0-9_]{0,99}", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True).map(lambda n: n + "\n"),
    st.text(max_size=120),
)


# ------------------------------------------------------------------ the parsers themselves


@FAST
@given(number_texts)
def test_number_text_is_checked_without_expanding_it(text: str) -> None:
    problem = mapping.number_problem(text)
    value = mapping.parse_decimal(text)
    assert (problem is None) == (value is not None)
    if value is not None:
        plain = mapping.format_decimal(value)  # never longer than the bounds allow
        assert len(plain) <= mapping.MAX_INTEGER_DIGITS + mapping.MAX_FRACTION_DIGITS + 2
        assert abs(value) < Decimal(10) ** mapping.MAX_INTEGER_DIGITS
    else:
        assert problem  # a reason a caller can read


@FAST
@given(json_numbers)
def test_json_numbers_become_property_values_or_a_named_limit(number: int | float) -> None:
    try:
        text = mapping.to_property_value(number)
    except mapping.InputError as exc:
        assert "Invalid number" in exc.message
    else:
        assert len(text) <= mapping.MAX_INTEGER_DIGITS + mapping.MAX_FRACTION_DIGITS + 2
        assert math.isclose(float(text), float(number), rel_tol=1e-9, abs_tol=1e-10)


@FAST
@given(date_texts)
def test_dates_parse_inside_the_range_after_the_offset_or_not_at_all(text: str) -> None:
    parsed = mapping.parse_datetime(text)
    if parsed is not None:
        assert mapping.DATETIME_MIN <= parsed.astimezone(UTC) <= mapping.DATETIME_MAX
        assert mapping.format_datetime(parsed)  # and it can be written out
        assert mapping.epoch_ms(parsed)


@FAST
@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.integers(-(24 * 60 - 1), 24 * 60 - 1),
)
def test_any_offset_at_the_ends_of_the_calendar_is_in_range_or_refused(
    when: datetime, offset_min: int
) -> None:
    aware = when.replace(tzinfo=timezone(timedelta(minutes=offset_min)))
    in_range = mapping.in_date_range(aware)
    if in_range is None:
        with pytest.raises(mapping.InputError):
            mapping.format_datetime(aware)
    else:
        assert mapping.format_datetime(aware).endswith("Z")


@FAST
@given(names)
def test_a_name_is_a_property_name_only_whole(name: str) -> None:
    ok = mapping.PROPERTY_NAME.fullmatch(name) is not None
    assert ok == (
        0 < len(name) <= 100
        and name[0] in string.ascii_lowercase
        and all(c in string.ascii_lowercase + string.digits + "_" for c in name)
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


@FAST
@given(json_values)
def test_strict_json_reads_what_standard_json_writes(value: Any) -> None:
    assert strict_json_loads(json.dumps(value).encode()) == json.loads(json.dumps(value))


@FAST
@given(st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-16")))
def test_strict_json_refuses_any_bytes_with_its_own_error_only(body: bytes) -> None:
    try:
        strict_json_loads(body)
    except JSONBodyError as exc:
        assert str(exc).startswith("body is not")


@FAST
@given(st.integers(MAX_JSON_NUMBER_CHARS + 1, 6000))
def test_any_overlong_integer_is_refused_with_its_length(n_digits: int) -> None:
    with pytest.raises(JSONBodyError, match=f"an integer of {n_digits} digits"):
        strict_json_loads(b'{"n": ' + b"7" * n_digits + b"}")


# ------------------------------------------------------------------ through the routes


def _body(value: Any) -> bytes:
    # Floats and huge ints as JSON text, non-ASCII as raw UTF-8 (or not UTF-8 at all).
    return json.dumps(value, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")


crm_bodies = st.one_of(
    st.fixed_dictionaries({"dealname": st.just("P"), "amount": number_texts | json_numbers}),
    st.fixed_dictionaries({"dealname": st.just("P"), "closedate": date_texts}),
    st.fixed_dictionaries({"name": st.just("P"), "numberofemployees": number_texts | json_numbers}),
    st.dictionaries(names, st.text(max_size=30) | json_numbers, min_size=1, max_size=8),
    st.fixed_dictionaries(
        {"dealname": st.just("P"), "contact_ids": st.lists(st.text(max_size=25), max_size=3)}
    ),
    st.builds(lambda n: {f"p{i}": "x" for i in range(n)}, st.integers(900, 1200)),
)
filter_params = st.one_of(
    st.fixed_dictionaries({"created_from": date_texts}),
    st.fixed_dictionaries({"created_to": date_texts}),
    st.fixed_dictionaries({"close_date_from": date_texts, "close_date_to": date_texts}),
    st.fixed_dictionaries({"properties": names}),
    st.fixed_dictionaries({"amount_min": number_texts}),
)
analytics_params = st.fixed_dictionaries(
    {
        "created_from": st.dates().map(str) | date_texts,
        "created_to": st.dates().map(str) | date_texts,
        "granularity": st.sampled_from(["day", "week", "year"]),
    }
)
raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [b'{"amount": NaN}', b'{"a": 1e999}', b"{" * 2000, b'{"email": "\xff\xfe"}', b""]
    ),
)

Case = tuple[str, str, dict[str, Any]]


async def _send_all(stack: Stack, cases: list[Case]) -> tuple[Counter[int], list[str]]:
    statuses: Counter[int] = Counter()
    bad: list[str] = []
    async with stack.client("alice") as c:
        for method, path, kw in cases:
            r = await c.request(method, path, **kw)
            statuses[r.status_code] += 1
            if r.status_code >= 500 or r.json().get("ok") is None:
                bad.append(f"{method} {path} {str(kw)[:200]} -> {r.status_code} {r.text[:200]}")
    return statuses, bad


def _cases() -> list[Case]:
    json_header = {"Content-Type": "application/json"}
    out: list[Case] = []
    kinds: list[tuple[str, st.SearchStrategy[Any], Callable[[Any], Case]]] = [
        (
            "crm",
            st.tuples(st.sampled_from(["contacts", "companies", "deals"]), crm_bodies),
            lambda t: ("POST", f"/api/hubspot/{t[0]}",
                       {"content": _body(t[1]), "headers": json_header}),
        ),
        (
            "filters",
            st.tuples(st.sampled_from(["contacts", "deals"]), filter_params),
            lambda t: ("GET", f"/api/hubspot/{t[0]}", {"params": t[1]}),
        ),
        (
            "analytics",
            analytics_params,
            lambda p: ("GET", "/api/hubspot/analytics/contacts", {"params": p}),
        ),
        (
            "raw",
            raw_bodies,
            lambda b: ("POST", "/api/hubspot/contacts", {"content": b, "headers": json_header}),
        ),
    ]  # fmt: skip
    for _name, strategy, make in kinds:
        out += [make(x) for x in collect_examples(strategy, 60)]
    return out


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_extreme_input_through_the_routes_never_answers_5xx(shared_stack: Stack) -> None:
    cases = await asyncio.to_thread(_cases)
    assert len(cases) >= 200
    statuses, bad = await _send_all(shared_stack, cases)
    print(f"{len(cases)} cases; statuses {dict(statuses)}")
    assert not bad, f"{len(bad)} bad answers:\n" + "\n".join(bad[:10])
    assert statuses[422] > 50, statuses  # most are refused, each in the envelope
    assert statuses[200] + statuses[201] > 10, statuses  # and the valid ones went through
