"""`atom-host sandbox --webhook-url` delivers over real HTTP, and `atom-host sandbox-edit`
changes a record as a user in HubSpot's UI would: the change arrives at the target, signed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
from click.testing import CliRunner

from atom_hubspot.feed.signature import verify
from atom_hubspot.sandbox.cli import sandbox_edit
from atom_hubspot.sandbox.config import DEMO_PORTAL_ID
from bench._harness import free_port

TOKEN = "pat-na1-sandbox-edit-test"  # noqa: S105 - known to this sandbox only


def test_edit_in_the_sandbox_reaches_the_webhook_target() -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    class Target(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    target = HTTPServer(("127.0.0.1", 0), Target)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{target.server_port}/webhooks/hubspot"
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "atom_host_stub",
            "sandbox",
            "--port",
            str(port),
            "--webhook-url",
            hook,
            "--private-app-token",
            TOKEN,
        ],
        env={**os.environ, "ATOM_PLUGINS": "hubspot"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/_sandbox", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the sandbox did not start"
            time.sleep(0.2)
        listed = httpx.get(
            f"{base}/crm/objects/2026-03/contacts",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=5,
        )
        assert listed.status_code == 200, listed.text
        contact_id = listed.json()["results"][0]["id"]
        result = CliRunner().invoke(
            sandbox_edit,
            ["--url", base, "contacts", contact_id, "firstname=Grace", "lastname=Hopper"],
        )
        assert result.exit_code == 0, result.output
        deadline = time.monotonic() + 10
        while (
            len([e for _, b in received for e in json.loads(b)]) < 2 and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        bad = CliRunner().invoke(
            sandbox_edit, ["--url", base, "contacts", "99999999", "firstname=X"]
        )
        assert bad.exit_code != 0 and "404" in bad.output
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        target.shutdown()
    events = [e for _, body in received for e in json.loads(body)]
    assert {(e["propertyName"], e["propertyValue"]) for e in events} == {
        ("firstname", "Grace"),
        ("lastname", "Hopper"),
    }
    assert all(e["changeSource"] == "CRM_UI" and e["portalId"] == DEMO_PORTAL_ID for e in events)
    headers, body = received[0]
    verify(
        secret="sandbox-client-secret",  # noqa: S106 - the sandbox's fake secret
        method="POST",
        uri=hook,
        body=body,
        headers=headers,
        now_ms=int(time.time() * 1000),
    )
