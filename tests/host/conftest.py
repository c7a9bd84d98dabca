"""Helpers for the host's tests: hosts built from an explicit environment, with the test
plugins in `fake_plugins` loaded by module name (autoload off unless a test asks for it)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from atom_host_stub.config import HostSettings
from atom_host_stub.host import Host

FAKE = "tests.host.fake_plugins"
API_KEY = "test-key-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
GOOD_TOKEN = "good-secret-token-value"  # noqa: S105 - a fake secret the tests look for


def plugin_modules(*names: str) -> str:
    return ",".join(f"{FAKE}.{name}" for name in names)


HostFactory = Callable[..., Host]


@pytest.fixture
def make_host(tmp_path: Path) -> HostFactory:
    """make_host("good", "rival", autoload=False, demo=False, **env) -> Host."""

    def build(*plugins: str, autoload: bool = False, demo: bool = False, **env: str) -> Host:
        base = {
            "ATOM_DATA_DIR": str(tmp_path / "data"),
            "ATOM_API_KEYS": f"{API_KEY}:tenant-a:user-1",
            "ATOM_EXTRA_PLUGINS": plugin_modules(*plugins),
            "GOOD_TOKEN": GOOD_TOKEN,
        }
        if not autoload:
            base["ATOM_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        return Host(HostSettings.from_env({**base, **env}), demo=demo)

    return build


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and give a client talking to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://host.test") as client:
            yield client


def statuses(report: Any) -> dict[str, str]:
    """{name: status} of the integrations that are not disabled (installed ones are listed as
    disabled when autoload is off)."""
    return {i.name: str(i.status) for i in report.integrations if i.status != "disabled"}


def names(items: Iterable[Any]) -> list[str]:
    return [item.name for item in items]


def integration(report: Any, name: str) -> Any:
    """The report's entry for plugin `name`."""
    (item,) = [i for i in report.integrations if i.name == name]
    return item


@contextmanager
def served(app: Any) -> Iterator[str]:
    """`app` served by uvicorn in a thread on a free loopback port (its lifespan runs in
    uvicorn's loop); yields the base URL, and stops the server on leaving."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
