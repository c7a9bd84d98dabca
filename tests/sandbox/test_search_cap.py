"""The 10,000-result cap of CRM search, and keyset paging past it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from atom_hubspot.sandbox import SandboxConfig

from .conftest import assert_error_shape
from .test_search import f, search


@pytest.fixture
def config(clock: Any) -> SandboxConfig:
    # A big, unseeded portal for the 10,000-result cap; search limit off for speed.
    return SandboxConfig(clock=clock, search_per_s=None, requests_per_10s=None, search_lag_s=0)


async def test_paging_stops_at_10000(api: httpx.AsyncClient, sandbox: Any, p: dict[str, str]):
    from atom_hubspot.sandbox.objects import CONTACTS

    portal = sandbox.portals[1234567]
    for i in range(10_050 - 300):
        portal.create(CONTACTS, {"firstname": f"n{i}"}, sandbox.now())
    r = await search(api, p, limit=100, after="9900")
    assert r.status_code == 200
    assert r.json()["total"] == 10_050
    assert r.json()["paging"]["next"]["after"] == "10000"
    past = await search(api, p, limit=100, after="10000")
    assert past.status_code == 400
    assert_error_shape(past.json(), "VALIDATION_ERROR")
    # Keyset: restart after the last id seen, sorted by hs_object_id.
    last = r.json()["results"][-1]["id"]
    rest = await search(
        api,
        p,
        limit=200,
        sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
        filterGroups=[{"filters": [f("hs_object_id", "GT", value=last)]}],
    )
    assert rest.json()["total"] == 50
