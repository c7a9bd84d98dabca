"""Demo mode: the sandbox comes up, its pages are mounted, and the demo portal is connected
through the real OAuth code path for the first principal of ATOM_API_KEYS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from atom_host_stub.contract import HostContext, Principal
from atom_hubspot.demo import SANDBOX_MOUNT, demo_env, first_principal, setup_demo
from atom_hubspot.sandbox import DEMO_PORTAL_ID


def _context(tmp_path: Path, env: dict[str, str]) -> HostContext:
    data = tmp_path / "data"
    data.mkdir()
    return HostContext(
        env=env,
        data_dir=data,
        database_url=f"sqlite:///{data / 'atom.sqlite3'}",
        demo=True,
        public_url="http://127.0.0.1:8123",
    )


def test_first_principal_of_api_keys():
    p, key = first_principal({"ATOM_API_KEYS": "k1:acme:alice,k2:acme:bob"})
    assert p == Principal(tenant_id="acme", user_id="alice") and key == "k1"
    p, key = first_principal({})
    assert p == Principal(tenant_id="demo", user_id="demo") and key is None


def test_demo_env_points_at_the_sandbox(tmp_path: Path):
    ctx = _context(tmp_path, {})
    env = demo_env(ctx)
    assert env["HUBSPOT_API_BASE_URL"] == "http://127.0.0.1:8123" + SANDBOX_MOUNT
    assert env["HUBSPOT_AUTHORIZE_URL"].endswith(SANDBOX_MOUNT + "/oauth/authorize")
    assert env["HUBSPOT_REDIRECT_URI"] == "http://127.0.0.1:8123/auth/hubspot/callback"
    assert env["ATOM_HUBSPOT_ENCRYPTION_KEYS"].startswith("demo")
    assert demo_env(ctx)["ATOM_HUBSPOT_ENCRYPTION_KEYS"] == env["ATOM_HUBSPOT_ENCRYPTION_KEYS"]
    external = demo_env(ctx, sandbox_url="http://127.0.0.1:9999/")
    assert external["HUBSPOT_AUTHORIZE_URL"] == "http://127.0.0.1:9999/oauth/authorize"


async def test_setup_demo_connects_through_oauth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    ctx = _context(tmp_path, {"ATOM_API_KEYS": "secret-key-1:acme:alice"})
    mounted: dict[str, Any] = {}
    await setup_demo(ctx, lambda path, app: mounted.__setitem__(path, app))
    runtime = ctx.state["hubspot"]
    try:
        assert list(mounted) == [SANDBOX_MOUNT]
        sandbox = mounted[SANDBOX_MOUNT].state.sandbox
        # The real code path ran: a code was issued and exchanged, a refresh token is held.
        assert sandbox.calls["oauth.token"] >= 1 and sandbox.calls["oauth.introspect"] >= 1
        assert len(sandbox.refresh_tokens) == 1
        principal = Principal(tenant_id="acme", user_id="alice")
        conns = await runtime.connections.list(principal)
        assert [c.portal_id for c in conns] == [DEMO_PORTAL_ID]
        assert conns[0].status == "connected" and conns[0].auth_kind == "oauth"
        client, _ = await runtime.connections.client_for(principal)
        page = await client.contacts.list(limit=5)
        assert len(page.results) == 5 and page.results[0].properties.get("email")
        out = capsys.readouterr().out
        assert "Dashboard:       http://127.0.0.1:8123/" in out
        assert "/docs" in out and "first key of ATOM_API_KEYS" in out
        assert "secret-key-1" not in out  # the key itself is never printed
    finally:
        await runtime.aclose()


async def test_setup_demo_twice_reconnects_a_fresh_sandbox(tmp_path: Path):
    ctx = _context(tmp_path, {})
    for _ in range(2):  # a second start: new in-memory sandbox, same database
        await setup_demo(ctx, lambda path, app: None)
    runtime = ctx.state["hubspot"]
    try:
        conns = await runtime.connections.list(Principal(tenant_id="demo", user_id="demo"))
        assert len(conns) == 1 and conns[0].status == "connected"
        client, _ = await runtime.connections.client_for(
            Principal(tenant_id="demo", user_id="demo")
        )
        assert (await client.account.details()).portal_id == DEMO_PORTAL_ID
    finally:
        await runtime.aclose()


def _serve_demo(env: dict[str, str]) -> Any:
    from fastapi.testclient import TestClient

    from atom_host_stub.app import create_app

    # A browser on this machine: the sandbox's pages answer loopback clients only.
    return TestClient(create_app(env=env, demo=True), client=("127.0.0.1", 50000))


def test_host_in_demo_mode_serves_seeded_contacts(tmp_path: Path):
    """`serve --demo` end to end through the stub host: dashboard healthy, contacts listed
    with the API key, the sandbox's authorize page reachable under the mount."""
    env = {
        "ATOM_DATA_DIR": str(tmp_path),
        "ATOM_API_KEYS": "k-123-0123456789abcdef:acme:alice",
        "ATOM_PUBLIC_URL": "http://testserver",
        "ATOM_PLUGINS": "hubspot",
    }
    env.update(
        demo_env(
            HostContext(env=env, data_dir=tmp_path, database_url="", public_url="http://testserver")
        )
    )
    with _serve_demo(env) as c:
        report = c.get("/api/integrations").json()
        hubspot = next(i for i in report["integrations"] if i["name"] == "hubspot")
        assert hubspot["status"] == "ok", hubspot
        assert hubspot["health"][0]["status"] == "ok"
        r = c.get(
            "/api/hubspot/contacts", headers={"Authorization": "Bearer k-123-0123456789abcdef"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["data"]["results"][0]["properties"]["email"]
        page = c.get(
            f"{SANDBOX_MOUNT}/oauth/authorize",
            params={
                "client_id": "sandbox-client-id",
                "redirect_uri": env["HUBSPOT_REDIRECT_URI"],
                "scope": "oauth",
            },
        )
        assert page.status_code == 200
        assert f"action='{SANDBOX_MOUNT}/oauth/authorize'" in page.text
        # Only to the registered redirect URL: not a phishing page's.
        elsewhere = c.get(
            f"{SANDBOX_MOUNT}/oauth/authorize",
            params={
                "client_id": "sandbox-client-id",
                "redirect_uri": "https://evil.example/cb",
                "scope": "oauth",
            },
        )
        assert elsewhere.status_code == 400 and "registered" in elsewhere.text
        assert "evil.example" not in elsewhere.headers.get("location", "")
        assert elsewhere.headers["content-security-policy"] == "frame-ancestors 'none'"


def test_host_in_demo_mode_needs_no_hubspot_settings(tmp_path: Path):
    """The README's first command: nothing but `--demo` (no HubSpot settings at all)."""
    env = {
        "ATOM_DATA_DIR": str(tmp_path),
        "ATOM_API_KEYS": "k-123-0123456789abcdef:acme:alice",
        "ATOM_PUBLIC_URL": "http://testserver",
        "ATOM_PLUGINS": "hubspot",
    }
    with _serve_demo(env) as c:
        r = c.get(
            "/api/hubspot/contacts", headers={"Authorization": "Bearer k-123-0123456789abcdef"}
        )
        assert r.status_code == 200, r.text
        assert len(r.json()["data"]["results"]) > 0
        assert (tmp_path / "hubspot-encryption.key").exists()


async def test_setup_demo_with_a_standalone_sandbox_url(tmp_path: Path):
    """`--sandbox-url`: no in-process sandbox, no mount; OAuth and API over real HTTP."""
    import asyncio
    import socket
    import threading

    import uvicorn

    from atom_hubspot.sandbox import SandboxConfig, create_sandbox_app

    app = create_sandbox_app(SandboxConfig(fault_style="wire"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    for _ in range(500):  # the server thread binds and starts within a few ms
        if server.started:
            break
        await asyncio.sleep(0.01)
    mounted: list[str] = []
    ctx = _context(tmp_path, {"ATOM_SANDBOX_URL": url})
    try:
        await setup_demo(ctx, lambda path, a: mounted.append(path))
        runtime = ctx.state["hubspot"]
        try:
            assert mounted == []
            assert app.state.sandbox.calls["oauth.token"] == 1
            client, conn = await runtime.connections.client_for(
                Principal(tenant_id="demo", user_id="demo")
            )
            assert conn.portal_id == DEMO_PORTAL_ID
            assert (await client.account.details()).portal_id == DEMO_PORTAL_ID
        finally:
            await runtime.aclose()
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


def test_the_demo_sandboxs_admin_and_authorize_pages_answer_loopback_clients_only(
    tmp_path: Path,
) -> None:
    from fastapi.testclient import TestClient

    from atom_host_stub.app import create_app

    env = {
        "ATOM_DATA_DIR": str(tmp_path),
        "ATOM_API_KEYS": "k-123-0123456789abcdef:acme:alice",
        "ATOM_PUBLIC_URL": "http://testserver",
        "ATOM_PLUGINS": "hubspot",
    }
    with TestClient(create_app(env=env, demo=True), client=("203.0.113.7", 40000)) as c:
        for path in ("/_sandbox/faults", "/oauth/authorize"):
            r = c.get(SANDBOX_MOUNT + path)
            assert r.status_code == 403, (path, r.text)
            assert r.json()["error"]["code"] == "forbidden"
        minted = c.post(f"{SANDBOX_MOUNT}/_sandbox/private-app-tokens", json={"portal_id": 1})
        assert minted.status_code == 403
        # The host's own routes still answer remote callers.
        r = c.get(
            "/api/hubspot/contacts", headers={"Authorization": "Bearer k-123-0123456789abcdef"}
        )
        assert r.status_code == 200, r.text


def test_sandbox_codes_and_tokens_are_not_repeatable() -> None:
    from atom_hubspot.sandbox import SandboxConfig, create_sandbox_app

    one = create_sandbox_app(SandboxConfig()).state.sandbox
    two = create_sandbox_app(SandboxConfig()).state.sandbox
    assert one.new_token("") != two.new_token("")  # a seeded generator made these equal
    assert one.add_private_app_token(DEMO_PORTAL_ID) != two.add_private_app_token(DEMO_PORTAL_ID)
