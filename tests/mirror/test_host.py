"""The mirror through the host: background sync with `serve`, the status route."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.api.conftest import (
    PORTAL_A,
    PORTAL_B,
    Stack,
    migrated_template,
    module_env,
    running_stack,
)

__all__ = ["migrated_template"]  # the fixture, shared with the route tests


@pytest.fixture
async def synced(
    hubspot_env: dict[str, str], sqlite_url: str, migrated_template: Path
) -> AsyncIterator[Stack]:
    """The host with the background sync on; both connected portals mirrored once."""
    env = {**hubspot_env, "HUBSPOT_SYNC_INTERVAL": "3600"}
    async with running_stack(env, sqlite_url, migrated_template) as st:
        await sync_now(st)
        yield st


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def synced_module(
    tmp_path_factory: pytest.TempPathFactory, migrated_template: Path
) -> AsyncIterator[Stack]:
    """`synced`, shared by a module's tests that only read (syncing costs seconds per test);
    they run in the module's event loop (`@pytest.mark.asyncio(loop_scope="module")`)."""
    tmp = tmp_path_factory.mktemp("synced")
    env = module_env(tmp, sync_interval_s=3600)
    async with running_stack(env, f"sqlite:///{tmp / 'atom.sqlite3'}", migrated_template) as st:
        await sync_now(st)
        yield st


async def sync_now(st: Stack) -> None:
    """Run the background sync of both connected portals now, to the end."""
    runner = st.runtime.mirror_sync  # type: ignore[attr-defined]
    runner.kick()  # the portals were connected after start-up: look now
    for _ in range(200):
        await asyncio.sleep(0.05)
        if {PORTAL_A, PORTAL_B} <= set(runner.running):
            break
    await runner.wait_idle()


async def test_serve_mirrors_connected_portals_and_reports_their_state(synced: Stack) -> None:
    async with synced.client("alice") as alice:
        answer = (await alice.get("/api/hubspot/sync")).json()
    assert answer["ok"], answer
    portals = answer["data"]["portals"]
    # Alice sees her portal only, every object type current, with counts and a small lag.
    assert [p["portal_id"] for p in portals] == [PORTAL_A]
    objects = {o["object_type"]: o for o in portals[0]["objects"]}
    assert set(objects) == {"contacts", "companies", "deals", "pipelines", "lists", "campaigns"}
    assert all(o["status"] == "current" for o in objects.values()), objects
    seeded = synced.sandbox.portals[PORTAL_A].records
    assert objects["contacts"]["records"] == len(seeded["contacts"])
    assert objects["deals"]["records"] == len(seeded["deals"])
    assert 0 <= objects["contacts"]["lag_s"] < 60
    async with synced.client("carol") as carol:
        nothing = (await carol.get("/api/hubspot/sync")).json()
    assert nothing["ok"] and nothing["data"]["portals"] == []


async def test_dashboard_health_shows_the_mirror(synced: Stack) -> None:
    from atom_hubspot.health import mirror_health

    result = await mirror_health(synced.host.context)
    assert result.status == "ok", result.message
    assert "portal 1: contacts current" in result.message
    assert str(PORTAL_A) not in result.message  # public: portal ids only in tenant_details
    assert any(str(PORTAL_A) in figures for figures in result.tenant_details.values())
