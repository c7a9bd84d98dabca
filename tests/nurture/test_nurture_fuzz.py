"""Generated input for the nurture routes: schemathesis cases (valid and invalid ids, contact id
lists, dates, e-mails) against the sandbox, which must never give a 5xx and must answer as the
OpenAPI says; and Hypothesis over the two things the routes parse themselves — a workflow's
enrollment criteria (HubSpot's JSON, any shape) and the contact id lists of the bodies."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from atom_hubspot.api.nurture_routes import FlowEnrollmentBody, SequenceEnrollmentBody
from atom_hubspot.service.nurture_answers import FlowEnrollmentTrigger, enrolling_list_ids
from tests.marketing.conftest import Stack
from tests.openapi_fuzzing import generate_cases, send_and_check, send_hostile

from .conftest import ALICE_KEY, NURTURE_FLOW, SEQUENCE

EXAMPLES_PER_MODE = 8


@pytest.mark.slow
async def test_generated_requests_never_5xx_and_match_the_schema(stack: Stack) -> None:
    schema = schemathesis.openapi.from_dict(stack.app.openapi())
    operations = [
        op
        for op in (r.ok() for r in schema.get_all_operations())
        if "HubSpot nurture" in op.definition.raw.get("tags", [])
        # Always 501 by design (HubSpot has no such endpoint): tested on its own.
        and op.definition.raw.get("operationId") != "unenroll_from_nurture_sequence"
    ]
    assert len(operations) == 8, sorted(f"{o.method} {o.path}" for o in operations)
    real = {
        "flow_id": [NURTURE_FLOW],
        "sequence_id": [SEQUENCE],
        "list_id": ["1"],
        "contact_id": [str(next(iter(stack.demo.lists[1].members)))],
        "user_email": [stack.demo.user_email],
        "sender_email": [stack.demo.user_email],
    }
    cases = await generate_cases(
        operations, per_mode=EXAMPLES_PER_MODE, real_ids=lambda _op, name: real.get(name)
    )
    statuses, failures = await send_and_check(stack.alice, cases, ALICE_KEY, "http://host")
    hostile, hostile_failures = await send_hostile(stack.alice, cases, ALICE_KEY, "http://host")
    print(f"{len(cases)} cases; statuses {dict(statuses)}; hostile {dict(hostile)}")
    assert not failures, f"{len(failures)} failing cases:\n" + "\n".join(failures[:15])
    assert not hostile_failures, "\n".join(hostile_failures[:15])
    assert not [s for s in statuses if s >= 500], statuses
    assert statuses[200] > 5 and statuses[422] > 20, statuses


# --------------------------------------------------------------------------- criteria

ids = st.from_regex(r"[0-9]{1,20}", fullmatch=True)
in_list = st.builds(
    lambda lid, op: {"filterType": "IN_LIST", "listId": lid, "operator": op},
    ids,
    st.sampled_from(["IN_LIST", "NOT_IN_LIST", "in_list"]),
)
other_filter = st.fixed_dictionaries(
    {"filterType": st.sampled_from(["PROPERTY", "ASSOCIATION", None]), "property": st.text()}
)
json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
junk = st.recursive(
    json_leaf,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=8,
)
branch = st.recursive(
    st.fixed_dictionaries(
        {
            "filterBranchType": st.sampled_from(["AND", "OR", "NOT_ALL", "or"]),
            "filters": st.lists(in_list | other_filter | junk, max_size=3),
            "filterBranches": st.just([]),
        }
    ),
    lambda children: st.fixed_dictionaries(
        {
            "filterBranchType": st.sampled_from(["AND", "OR"]),
            "filters": st.lists(in_list | other_filter, max_size=2),
            "filterBranches": st.lists(children | junk, max_size=3),
        }
    ),
    max_leaves=6,
)
criteria = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["LIST_BASED", "EVENT_BASED", "MANUAL", None, 3]),
        "listFilterBranch": branch | junk,
    },
    optional={
        "shouldReEnroll": json_leaf,
        "unEnrollObjectsNotMeetingCriteria": json_leaf,
    },
)


def _every_in_list_id(node: Any) -> set[str]:
    """Every list id an IN_LIST filter anywhere in `node` names."""
    out: set[str] = set()
    if isinstance(node, dict):
        if node.get("filterType") == "IN_LIST" and node.get("listId") is not None:
            out.add(str(node["listId"]))
        for v in node.values():
            out |= _every_in_list_id(v)
    elif isinstance(node, list):
        for v in node:
            out |= _every_in_list_id(v)
    return out


@settings(max_examples=300, deadline=None)
@given(criteria)
def test_enrolling_lists_come_only_from_list_based_in_list_filters(crit: dict[str, Any]) -> None:
    found = enrolling_list_ids(crit)
    assert len(found) == len(set(found))
    assert set(found) <= _every_in_list_id(crit)
    if crit.get("type") != "LIST_BASED":
        assert found == []
    trigger = FlowEnrollmentTrigger.of(crit)
    assert trigger is not None and trigger.list_ids == found
    assert trigger.re_enrolls in (None, True, False)


@settings(max_examples=200, deadline=None)
@given(ids, st.lists(other_filter, max_size=3))
def test_a_list_is_enrolling_only_when_it_stands_alone(lid: str, others: list[Any]) -> None:
    alone = {"filterBranchType": "AND", "filters": [in_list_filter(lid)], "filterBranches": []}
    mixed = {"filterBranchType": "AND", "filters": [in_list_filter(lid), *others]}
    root = {"filterBranchType": "OR", "filters": [], "filterBranches": [alone]}
    assert enrolling_list_ids({"type": "LIST_BASED", "listFilterBranch": root}) == [lid]
    root_mixed = {"filterBranchType": "OR", "filters": [], "filterBranches": [mixed]}
    expect = [lid] if not others else []
    assert enrolling_list_ids({"type": "LIST_BASED", "listFilterBranch": root_mixed}) == expect


def in_list_filter(lid: str) -> dict[str, str]:
    return {"filterType": "IN_LIST", "listId": lid, "operator": "IN_LIST"}


# --------------------------------------------------------------------------- bodies

contact_id_lists = st.lists(
    st.from_regex(r"[0-9]{1,20}", fullmatch=True)
    | st.text(max_size=25)
    | st.integers(min_value=-(10**21), max_value=10**21),
    max_size=1100,
)


def _all_ids(values: list[Any]) -> bool:
    return all(isinstance(v, str) and v.isascii() and v.isdigit() and len(v) <= 20 for v in values)


@settings(max_examples=200, deadline=None)
@given(contact_id_lists)
def test_flow_bodies_take_1_to_1000_record_ids_and_nothing_else(values: list[Any]) -> None:
    valid = 1 <= len(values) <= 1000 and _all_ids(values)
    try:
        body = FlowEnrollmentBody.model_validate({"contact_ids": values})
    except ValidationError as err:
        assert not valid
        assert all(e["loc"][0] == "contact_ids" for e in err.errors())
    else:
        assert valid and body.contact_ids == values


@settings(max_examples=200, deadline=None)
@given(
    contact_id_lists, st.sampled_from(["sales@example.com", "x@y", "no-at", "sales@example.com\n"])
)
def test_sequence_bodies_take_1_to_100_record_ids_and_an_email(
    values: list[Any], sender: str
) -> None:
    valid_ids = 1 <= len(values) <= 100 and _all_ids(values)
    try:
        SequenceEnrollmentBody.model_validate({"contact_ids": values, "sender_email": sender})
    except ValidationError as err:
        fields = {e["loc"][0] for e in err.errors()}
        assert fields <= {"contact_ids", "sender_email"}
        assert ("contact_ids" in fields) == (not valid_ids)
        assert ("sender_email" in fields) == (sender != "sales@example.com")
    else:
        assert valid_ids and sender == "sales@example.com"
