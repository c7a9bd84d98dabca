"""HubSpot failing behind a route: answered with the mapped status, never a 500."""

from __future__ import annotations

import pytest

from tests.api.conftest import Stack


@pytest.mark.parametrize(
    ("faults", "status", "code"),
    [
        ({"error_rate_5xx": 1.0}, 503, "hubspot_unavailable"),
        ({"script": ["429"] * 20}, 429, "rate_limited"),
    ],
)
async def test_hubspot_failures_are_not_500(
    stack: Stack, faults: dict, status: int, code: str
) -> None:
    from atom_hubspot.sandbox import FaultConfig

    sb = stack.sandbox
    sb.set_faults(FaultConfig(**faults))  # type: ignore[attr-defined]
    try:
        async with stack.client("alice") as c:
            r = await c.get("/api/hubspot/contacts", params={"limit": 1})
    finally:
        sb.set_faults(FaultConfig())  # type: ignore[attr-defined]
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    if status == 429:
        assert int(r.headers["Retry-After"]) >= 1
