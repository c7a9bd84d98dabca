"""The offline sandbox as the QA app: `HUBSPOT_ENVIRONMENT=qa atom-host serve --demo` fills the
QA settings (not the production ones) and connects the demo portal as a QA connection."""

from __future__ import annotations

from pathlib import Path

from atom_host_stub.contract import Principal
from atom_hubspot.demo import SANDBOX_MOUNT, demo_env, setup_demo
from atom_hubspot.sandbox import DEMO_PORTAL_ID
from tests.demo.test_demo import _context


def test_demo_env_fills_the_settings_of_the_environment_in_force(tmp_path: Path) -> None:
    qa = demo_env(_context(tmp_path, {"HUBSPOT_ENVIRONMENT": "qa"}))
    assert qa["HUBSPOT_QA_API_BASE_URL"] == "http://127.0.0.1:8123" + SANDBOX_MOUNT
    assert qa["HUBSPOT_QA_CLIENT_ID"] and qa["HUBSPOT_QA_CLIENT_SECRET"]
    assert not any(k in qa for k in ("HUBSPOT_CLIENT_ID", "HUBSPOT_API_BASE_URL"))


async def test_demo_in_qa_connects_a_qa_connection(tmp_path: Path) -> None:
    principal = Principal(tenant_id="acme", user_id="alice")
    ctx = _context(
        tmp_path, {"ATOM_API_KEYS": "secret-key-1:acme:alice", "HUBSPOT_ENVIRONMENT": "qa"}
    )
    await setup_demo(ctx, lambda path, app: None)
    runtime = ctx.state["hubspot"]
    try:
        assert runtime.settings.app.environment == "qa"
        [conn] = await runtime.connections.list(principal)
        assert (conn.portal_id, conn.environment) == (DEMO_PORTAL_ID, "qa")
        client, _ = await runtime.connections.client_for(principal)
        assert (await client.contacts.list(limit=1)).results
    finally:
        await runtime.aclose()
