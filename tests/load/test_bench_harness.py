"""The benchmark harness itself, at toy sizes: its correctness checks must see what happened.

Not timed — nothing here asserts on speed. It keeps `bench/` from rotting: the standalone
sandbox server starts, the bench-only speed-ups (indexed unique lookups, bisect paging) give
the sandbox's own answers, and the bulk-write check counts lost and duplicated records from
the sandbox's state.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from atom_hubspot.sandbox import DEMO_PORTAL_ID, SandboxConfig, create_sandbox_app

pytestmark = pytest.mark.slow


def test_bulk_write_check_counts_what_the_sandbox_holds() -> None:
    from bench import sandbox_server as sbx
    from bench._harness import free_port, sandbox_server
    from bench.bulk_write import rows, run_ours

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (
        sandbox_server(port, rate_limit=11, window_s=1.0),
        httpx.Client(base_url=base, timeout=30) as admin,
    ):
        data = rows("smoke", 300)
        res = asyncio.run(run_ours(base, data, 11, 1.0))
        assert res["errors"] == [] and res["rate_limited_surfaced"] == 0
        assert sbx.check_contacts(admin, "smoke", 300) == {
            "stored": 300,
            "lost": 0,
            "duplicated": 0,
        }
        # The check can fail: ask for more than was written.
        assert sbx.check_contacts(admin, "smoke", 310)["lost"] == 10
        # A duplicate made behind the API's back is seen.
        admin.post(
            "/crm/v3/objects/contacts",
            headers={"Authorization": f"Bearer {sbx.BENCH_TOKEN}"},
            json={"properties": {"email": "smoke-extra@bench.example"}},
        )
        assert sbx.check_contacts(admin, "smoke", 300)["stored"] == 301


async def _pages_after_writes(app: object, token: str) -> list[list[str]]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://sb",
        headers=headers,
    ) as c:
        inputs = [
            {
                "id": f"p{i}@bench.example",
                "idProperty": "email",
                "properties": {"firstname": f"F{i}"},
            }
            for i in range(30)
        ]
        first = await c.post("/crm/v3/objects/contacts/batch/upsert", json={"inputs": inputs})
        assert first.status_code in (200, 201)
        # Upsert again (updates, found through the unique lookup) and archive one.
        inputs[3]["properties"] = {"firstname": "Changed"}
        again = await c.post("/crm/v3/objects/contacts/batch/upsert", json={"inputs": inputs})
        assert again.status_code in (200, 201)
        ids = sorted(int(r["id"]) for r in again.json()["results"])
        assert len(ids) == 30
        assert (await c.delete(f"/crm/v3/objects/contacts/{ids[5]}")).status_code == 204
        after: str | None = None
        out: list[list[str]] = []
        while True:
            params = {"limit": 7, **({"after": after} if after else {})}
            body = (await c.get("/crm/v3/objects/contacts", params=params)).json()
            out.append([r["properties"]["email"] for r in body["results"]])
            after = (body.get("paging") or {}).get("next", {}).get("after")
            if not after:
                return out


async def test_bench_sandbox_speedups_answer_like_the_sandbox() -> None:
    from bench.sandbox_server import BENCH_TOKEN, build, speedups

    with speedups():
        fast = await _pages_after_writes(build(None, 10.0, 0), BENCH_TOKEN)
    plain = await _pages_after_writes(
        create_sandbox_app(
            SandboxConfig(
                seed=False,
                requests_per_10s=None,
                search_per_s=None,
                private_app_tokens={BENCH_TOKEN: DEMO_PORTAL_ID},
            )
        ),
        BENCH_TOKEN,
    )
    assert fast == plain
    assert sum(len(p) for p in fast) == 29
    # The speed-ups are gone again: the sandbox's own code is back for every other test.
    from atom_hubspot.sandbox.api_crm import routes
    from atom_hubspot.sandbox.state import Portal

    assert not hasattr(Portal, "_bench_note")
    assert (
        next(r for r in routes.routes if r.name == "crm.objects.list").handler.__module__
        == "atom_hubspot.sandbox.api_crm"
    )
