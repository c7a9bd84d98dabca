"""The served host's access log keeps method, path and status, never a query string (the OAuth
callback's code and state, contact filters such as ?email=)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench._harness import free_port


def test_served_access_log_drops_query_strings(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "ATOM_DATA_DIR": str(tmp_path),
        "ATOM_API_KEYS": "k-access-log-test:t:u",
        "ATOM_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "atom_host_stub", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/integrations", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the host did not start"
                time.sleep(0.2)
        r = httpx.get(
            f"http://127.0.0.1:{port}/api/integrations",
            params={"code": "one-time-code-123", "state": "state-456", "email": "a@b.example"},
        )
        assert r.status_code == 200
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    lines = [ln for ln in out.splitlines() if "/api/integrations" in ln]
    assert lines, out
    assert any("GET /api/integrations?…" in ln and "200" in ln for ln in lines), lines
    for secret in ("one-time-code-123", "state-456", "a@b.example"):
        assert secret not in out
