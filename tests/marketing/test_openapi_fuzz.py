"""Schemathesis over the marketing routes of the host app's OpenAPI: generated valid and invalid
requests as a connected user, against the sandbox. No answer may be a 5xx, and every answer
must match what the OpenAPI declares (status, content type, body schema, headers).
"""

from __future__ import annotations

import pytest
import schemathesis

from tests.marketing.conftest import Stack
from tests.openapi_fuzzing import generate_cases, send_and_check, send_hostile

MARKETING_TAGS = {"HubSpot campaigns", "HubSpot analytics", "HubSpot lead lists", "HubSpot email"}
EXAMPLES_PER_MODE = 8  # x 2 modes x 24 operations ≈ 280 requests


@pytest.mark.slow
async def test_generated_requests_never_5xx_and_match_the_schema(stack: Stack) -> None:
    schema = schemathesis.openapi.from_dict(stack.app.openapi())
    operations = [
        op
        for op in (r.ok() for r in schema.get_all_operations())
        if set(op.definition.raw.get("tags", [])) & MARKETING_TAGS
    ]
    assert len(operations) == 24, sorted(f"{o.method} {o.path}" for o in operations)

    real = {
        "campaign_id": list(stack.demo.campaigns),
        "list_id": [str(i) for i in stack.demo.lists],
    }

    cases = await generate_cases(
        operations,
        per_mode=EXAMPLES_PER_MODE,
        real_ids=lambda _op, name: real.get(name),
    )
    assert len(cases) >= 200
    headers = {"Authorization": "Bearer key-alice-0123456789"}
    statuses, failures = await send_and_check(stack.alice, cases, headers, "http://host")
    hostile, hostile_failures = await send_hostile(stack.alice, cases, headers, "http://host")
    print(f"hostile variants: statuses {dict(hostile)}")
    assert not hostile_failures, "\n".join(hostile_failures[:15])
    print(f"{len(cases)} cases; statuses {dict(statuses)}")
    assert not failures, f"{len(failures)} failing cases:\n" + "\n".join(failures[:15])
    assert not [s for s in statuses if s >= 500], statuses
    assert statuses[200] + statuses[201] + statuses[202] > 40, statuses
    assert statuses[422] > 40, statuses
