"""Utilities for tests and benchmarks that talk to the sandbox in-process."""

from __future__ import annotations

import asyncio
import html
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from atom_hubspot.sandbox.app import SandboxApp, create_sandbox_app
from atom_hubspot.sandbox.config import DEMO_PORTAL_ID, SandboxConfig

SANDBOX_BASE_URL = "http://sandbox.local"


def sandbox_transport(
    config: SandboxConfig | SandboxApp | None = None, *, root_path: str = ""
) -> httpx.ASGITransport:
    """An httpx transport into a (new, unless one is given) in-process sandbox.

    The sandbox is reachable as `transport.app.state.sandbox`.
    """
    app = config if isinstance(config, SandboxApp) else create_sandbox_app(config)
    # SandboxApp is a plain ASGI callable; httpx types `app` as its own narrower signature.
    return httpx.ASGITransport(app=app, root_path=root_path)  # type: ignore[arg-type]


def sandbox_of(transport: httpx.ASGITransport) -> object:
    # httpx types `app` as a bare callable; ours is a SandboxApp, which has `state`.
    return transport.app.state.sandbox  # type: ignore[attr-defined]


async def approve(
    authorize_url: str,
    transport: httpx.AsyncBaseTransport,
    *,
    deny: bool = False,
    portal_id: int | None = None,
) -> str:
    """Do what the user does on the authorize page: open it and click Connect (or Cancel).

    Returns the URL the browser is redirected to (the app's redirect_uri with `code` and
    `state`, or `error=access_denied`). Raises AssertionError when the page shows an error.
    """
    async with httpx.AsyncClient(transport=transport, follow_redirects=False) as client:
        page = await client.get(authorize_url)
        if page.status_code != 200:
            raise AssertionError(f"authorize page answered {page.status_code}: {page.text}")
        form = re.search(r"<form method='post' action='([^']*)'>(.*?)</form>", page.text, re.S)
        if form is None:
            raise AssertionError("authorize page has no form")
        fields = {
            html.unescape(k): html.unescape(v)
            for k, v in re.findall(
                r"<input type='hidden' name='([^']*)' value='([^']*)'>", form.group(2)
            )
        }
        options = re.findall(r"<option value='(\d+)'>", form.group(2))
        chosen = (
            portal_id
            if portal_id is not None
            else (DEMO_PORTAL_ID if str(DEMO_PORTAL_ID) in options else int(options[0]))
        )
        fields["portal_id"] = str(chosen)
        fields["decision"] = "deny" if deny else "approve"
        parts = urlsplit(authorize_url)
        action = f"{parts.scheme}://{parts.netloc}{html.unescape(form.group(1))}"
        answer = await client.post(action, data=fields)
        if answer.status_code != 302:
            raise AssertionError(f"authorize decision answered {answer.status_code}")
        return answer.headers["location"]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@contextmanager
def serve_on_loopback(app: Any) -> Iterator[str]:
    """Serve `app` (the sandbox, or any ASGI app) with uvicorn on an ephemeral loopback port in
    a background thread, for clients that need real HTTP (HubSpot's own SDK, dropped
    connections); yields its base URL and stops the server on exit."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()
