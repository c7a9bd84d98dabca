"""`atom-host hubspot webhooks`: what to subscribe to, and (pull mode) whether HubSpot has it."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from click.testing import CliRunner

from atom_hubspot.cli import hubspot
from atom_hubspot.feed.subscriptions import missing_journal_subscriptions, push_subscriptions
from atom_hubspot.sandbox import SandboxConfig, create_sandbox_app


@contextmanager
def sandbox(config: SandboxConfig) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_sandbox_app(config), log_level="critical"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    try:
        while not server.started:
            threading.Event().wait(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


def run(args: list[str], env: dict[str, str]) -> Any:
    return CliRunner().invoke(hubspot, ["webhooks", *args], env=env)


def test_lists_the_subscriptions_and_the_target_url(tmp_path: Any) -> None:
    result = run(
        [],
        {
            "ATOM_DATA_DIR": str(tmp_path),
            "HUBSPOT_CLIENT_ID": "x",
            "HUBSPOT_CLIENT_SECRET": "y",
            "HUBSPOT_WEBHOOK_URL": "https://atom.example.com/webhooks/hubspot",
        },
    )
    assert result.exit_code == 0, result.output
    assert "target URL: https://atom.example.com/webhooks/hubspot" in result.output
    for needed in (
        "contact.creation",
        "deal.merge",
        "contact.privacyDeletion",
        "company.propertyChange (domain)",
    ):
        assert needed in result.output
    assert len({str(s) for s in push_subscriptions()}) == len(push_subscriptions())


def test_check_reads_the_journal_subscriptions_back(tmp_path: Any) -> None:
    env = {"ATOM_DATA_DIR": str(tmp_path)}
    with sandbox(SandboxConfig()) as url:
        ok = run(["--check", "--sandbox-url", url], env)
    assert ok.exit_code == 0, ok.output
    assert "every object type the mirror keeps is covered" in ok.output
    partial = SandboxConfig(
        journal_subscriptions=[
            {"subscriptionType": "OBJECT", "objectTypeId": "0-1", "actions": ["CREATE", "UPDATE"]},
            {
                "subscriptionType": "OBJECT",
                "objectTypeId": "0-2",
                "actions": ["CREATE", "UPDATE", "DELETE", "MERGE", "RESTORE"],
            },
        ]
    )
    with sandbox(partial) as url:
        lacking = run(["--check", "--sandbox-url", url], env)
    assert lacking.exit_code == 1
    assert "'objectTypeId': '0-1', 'actions': ['DELETE', 'MERGE', 'RESTORE']" in lacking.output
    assert "'objectTypeId': '0-3'" in lacking.output
    assert "'objectTypeId': '0-2'" not in lacking.output.split("HubSpot:")[-1]


def test_limited_subscriptions_do_not_count() -> None:
    limited = [
        {
            "objectTypeId": "0-1",
            "actions": ["CREATE", "UPDATE", "DELETE", "MERGE", "RESTORE"],
            "properties": ["email"],
        }
    ]
    assert [m["objectTypeId"] for m in missing_journal_subscriptions(limited)] == [
        "0-1",
        "0-2",
        "0-3",
    ]
