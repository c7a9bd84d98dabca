"""Tenant isolation: Alice's record ids used by anyone else, on every CRM route, answer
401/403/404 and change nothing — in Alice's portal or anywhere else."""

from __future__ import annotations

import copy
import uuid

import httpx
import pytest

from tests.api.conftest import PORTAL_A, PORTAL_B, Stack

KINDS = ("contacts", "companies", "deals")


def _snapshot(stack: Stack) -> dict:
    return {
        pid: {
            t: {
                rid: (copy.deepcopy(r.properties), r.archived)
                for rid, r in stack.sandbox.portal(pid).records[t].items()
            }
            for t in KINDS
        }
        for pid in (PORTAL_A, PORTAL_B)
    }


@pytest.fixture(params=["sqlite", "postgres"])
def any_stack(request: pytest.FixtureRequest) -> Stack:
    return request.getfixturevalue("stack" if request.param == "sqlite" else "pg_stack")


async def test_foreign_ids_on_every_crm_route(any_stack: Stack) -> None:
    stack = any_stack
    # Alice's new records get ids that portal B has never used, so "found" cannot happen
    # by coincidence: any 2xx below would be a leak.
    stack.sandbox.portal(PORTAL_A).next_id = 9_000_000
    tag = uuid.uuid4().hex[:8]
    async with stack.client("alice") as a:
        contact = (
            await a.post(
                "/api/hubspot/contacts",
                json={"email": f"alice-{tag}@example.com", "firstname": "Alice"},
            )
        ).json()["data"]["id"]
        company = (
            await a.post(
                "/api/hubspot/companies",
                json={"name": f"Alice Co {tag}", "domain": f"alice-{tag}.example"},
            )
        ).json()["data"]["id"]
        deal = (
            await a.post(
                "/api/hubspot/deals",
                json={
                    "dealname": f"Alice deal {tag}",
                    "amount": "10",
                    "contact_ids": [contact],
                    "company_ids": [company],
                },
            )
        ).json()["data"]["id"]
    ids = {"contacts": contact, "companies": company, "deals": deal}
    before = _snapshot(stack)

    callers = {
        # (who, extra query): the statuses allowed
        ("bob", None): {404},
        ("bob", PORTAL_A): {401},  # Bob has no connection to Alice's portal
        ("carol", None): {401},  # Carol has none at all
        ("carol", PORTAL_A): {401},
    }
    answers: list[tuple[str, str, str, int]] = []
    for (who, portal), allowed in callers.items():
        params = {"portal_id": portal} if portal else {}
        async with stack.client(who) as c:
            for kind, rid in ids.items():
                path = f"/api/hubspot/{kind}/{rid}"
                body = {
                    "contacts": {"firstname": "Mallory"},
                    "companies": {"name": "Mallory"},
                    "deals": {"dealname": "Mallory"},
                }[kind]
                calls = [
                    c.get(path, params=params),
                    c.get(path, params={**params, "associations": "contacts"}),
                    c.patch(path, params=params, json=body),
                    c.put(path, params=params, json=body),
                    c.delete(path, params=params),
                ]
                for call in calls:
                    r = await call
                    answers.append((who, str(portal), f"{r.request.method} {kind}", r.status_code))
                    assert r.status_code in allowed, (who, portal, r.request.url, r.text)
                    assert tag not in r.text
            # Associating Alice's records from another tenant fails too, and creates nothing.
            r = await c.post(
                "/api/hubspot/deals",
                params=params,
                json={
                    "dealname": f"Mallory {tag}",
                    "contact_ids": [contact],
                    "company_ids": [company],
                },
            )
            assert r.status_code in allowed | {422}, r.text
            assert tag not in r.json()["error"]["message"]
            # Listing with Alice's unique e-mail finds nothing outside her portal.
            r = await c.get(
                "/api/hubspot/contacts", params={**params, "email": f"alice-{tag}@example.com"}
            )
            if r.status_code == 200:
                assert (
                    r.json()["data"]["results"] == [] and r.json()["meta"]["portal_id"] != PORTAL_A
                )
            else:
                assert r.status_code in allowed
    assert len(answers) == 4 * 3 * 5
    assert _snapshot(stack) == before  # nothing changed anywhere

    # Without an API key the host answers 401 before any plugin code runs.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.app), base_url="http://host.local"
    ) as anon:
        for kind, rid in ids.items():
            assert (await anon.get(f"/api/hubspot/{kind}/{rid}")).status_code == 401
            assert (await anon.delete(f"/api/hubspot/{kind}/{rid}")).status_code == 401
    assert _snapshot(stack) == before
    # ...while Alice still sees all of it.
    async with stack.client("alice") as a:
        for kind, rid in ids.items():
            assert (await a.get(f"/api/hubspot/{kind}/{rid}")).status_code == 200
