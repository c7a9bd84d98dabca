"""The serving benchmark's floor (bench/minimal_app.py) reads the row the host's route answers,
both ways it can read SQLite: through aiosqlite, and on the loop's thread as the host does."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.minimal_app import make_app
from bench.serving import seed_send


async def _get(app: Any) -> dict[str, Any]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    await app(scope, receive, send)
    assert sent[0]["status"] == 200
    body = dict(orjson.loads(sent[1]["body"]))
    steps = iter([{"type": "lifespan.shutdown"}])  # disposes of the app's engine

    async def lifespan() -> dict[str, Any]:
        return next(steps)

    await app({"type": "lifespan"}, lifespan, send)
    return body


@pytest.mark.parametrize("sync_sqlite", [False, True])
def test_the_floor_reads_the_stored_send(tmp_path: Path, sync_sqlite: bool) -> None:
    url = f"sqlite:///{tmp_path}/atom.sqlite3"
    seed_send(url)
    body = asyncio.run(_get(make_app(url, "bench", "bench", sync_sqlite=sync_sqlite)))
    [item] = body["data"]["items"]
    assert item["email_id"] == 123456789 and item["status"] == "pending"
    other = asyncio.run(_get(make_app(url, "bench", "someone-else", sync_sqlite=sync_sqlite)))
    assert other["data"]["items"] == []
