"""The standalone server (`atom-host sandbox`): a real uvicorn on a loopback port, where
connection faults are real dropped connections."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner

from atom_hubspot.sandbox import FaultConfig, SandboxConfig, create_sandbox_app
from atom_hubspot.sandbox.cli import build_config, sandbox
from atom_hubspot.sandbox.testing import serve_on_loopback


@pytest.fixture
def server() -> Iterator[tuple[str, object]]:
    app = create_sandbox_app(
        SandboxConfig(fault_style="wire", seed=False, private_app_tokens={"pat-test": 1234567})
    )
    with serve_on_loopback(app) as base:
        yield base, app.state.sandbox


async def test_over_http_reset_and_lost_answer(server: tuple[str, object]):
    base, _ = server
    h = {"Authorization": "Bearer pat-test"}
    async with httpx.AsyncClient(base_url=base, headers=h) as c:
        ok = await c.get("/crm/v3/objects/contacts")
        assert ok.status_code == 200
        await c.put("/_sandbox/faults", json={"script": ["reset", "lost_answer"]})
        with pytest.raises(httpx.TransportError):
            await c.get("/crm/v3/objects/contacts")
        with pytest.raises(httpx.TransportError):
            await c.post(
                "/crm/v3/objects/contacts", json={"properties": {"email": "wire@example.com"}}
            )
        r = await c.get("/crm/v3/objects/contacts/wire@example.com", params={"idProperty": "email"})
        assert r.status_code == 200


def test_cli_parses_faults_and_limits():
    cfg = build_config(
        rate_limit=None,
        window=1.0,
        search_rate=None,
        daily_limit=10,
        faults="error_rate_5xx=0.25,latency_ms=80",
        token_ttl=60,
        no_seed=True,
        private_app_token=("pat-x",),
    )
    assert cfg.faults == FaultConfig(error_rate_5xx=0.25, latency_ms=80)
    assert cfg.requests_per_10s is None and cfg.window_s == 1.0 and cfg.daily_limit == 10
    assert cfg.fault_style == "wire" and cfg.private_app_tokens == {"pat-x": 1234567}
    json_cfg = build_config(
        rate_limit=5,
        window=10,
        search_rate=5,
        daily_limit=None,
        faults='{"reset_rate": 0.5}',
        token_ttl=60,
        no_seed=False,
        private_app_token=(),
    )
    assert json_cfg.faults.reset_rate == 0.5
    bad = CliRunner().invoke(sandbox, ["--faults", "nonsense"])
    assert bad.exit_code != 0 and "--faults" in bad.output
    assert sandbox.name == "sandbox"
