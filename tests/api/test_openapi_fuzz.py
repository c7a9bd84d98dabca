"""Schemathesis over the host app's OpenAPI: generated (valid and invalid) requests to every
HubSpot CRM route, as a connected user, against the sandbox. No answer may be a 5xx, and every
answer must match what the OpenAPI declares (status, content type, body schema, headers).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import schemathesis

from tests.api.conftest import KEYS, PORTAL_A, Stack
from tests.openapi_fuzzing import generate_cases, send_and_check, send_hostile

CRM_TAGS = {"HubSpot CRM", "HubSpot"}
EXAMPLES_PER_MODE = 8  # 8 x 2 modes x 21 operations: about 340 requests


def _operations(app_schema: dict[str, Any]) -> list[Any]:
    schema = schemathesis.openapi.from_dict(app_schema)
    ops = []
    for result in schema.get_all_operations():
        op = result.ok()
        tags = set(op.definition.raw.get("tags", []))
        if (
            op.path.startswith("/api/hubspot")
            and tags & CRM_TAGS
            and not tags - CRM_TAGS - {"hubspot"}
        ):
            ops.append(op)
    return ops


@pytest.mark.slow
async def test_generated_requests_never_5xx_and_match_the_schema(stack: Stack) -> None:
    operations = _operations(stack.app.openapi())
    names = {f"{op.method.upper()} {op.path}" for op in operations}
    assert "POST /api/hubspot/deals" in names and "GET /api/hubspot/health" in names
    assert len(operations) >= 21, sorted(names)

    real_ids = {
        otype: [str(r.id) for r in stack.sandbox.portal(PORTAL_A).records[otype].values()]
        for otype in ("contacts", "companies", "deals")
    }

    def record_ids(op: Any, name: str) -> list[str] | None:
        return real_ids.get(op.path.split("/")[3]) if name == "record_id" else None

    t0 = time.monotonic()
    cases = await generate_cases(operations, per_mode=EXAMPLES_PER_MODE, real_ids=record_ids)
    t1 = time.monotonic()
    assert len(cases) >= 200
    headers = {"Authorization": f"Bearer {KEYS['alice']}"}
    async with stack.client("alice") as http:
        statuses, failures = await send_and_check(http, cases, headers, "http://host.local")
        hostile, hostile_failures = await send_hostile(http, cases, headers, "http://host.local")
    print(f"hostile variants: statuses {dict(hostile)}")
    assert not hostile_failures, "\n".join(hostile_failures[:15])
    print(
        f"{len(cases)} cases: generated in {t1 - t0:.1f} s, sent in "
        f"{time.monotonic() - t1:.1f} s; statuses {dict(statuses)}"
    )
    assert not failures, f"{len(failures)} failing cases:\n" + "\n".join(failures[:15])
    assert not [s for s in statuses if s >= 500], statuses
    # The run reached real work, not only input validation.
    assert statuses[200] + statuses[201] > 50, statuses
    assert statuses[422] > 50, statuses
