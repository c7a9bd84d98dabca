"""The floor for a host-only database route: a bare ASGI app on the host's own stack (uvicorn,
the same event loop and HTTP parser, SQLAlchemy's async engine on the same driver and URL)
that reads the same scheduled-send row the host's `GET /api/hubspot/scheduled-sends` reads
and answers it as JSON. No framework, no authentication, no validation: what is left is the
server, the driver and the row.

    python -m bench.minimal_app --port 8810 --database-url sqlite:///…/atom.sqlite3
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from atom_hubspot.storage.db import (
    _BIND_TENANT,
    PG_MAX_OVERFLOW,
    PG_POOL_SIZE,
    dialect_of,
    to_async_url,
    to_sync_url,
)
from atom_hubspot.storage.models import ScheduledSend

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

T = ScheduledSend.__table__.c
# Core, not text: the columns' types decode JSON and timestamps as the host's answer does.
QUERY = (
    sa.select(
        T.id, T.portal_id, T.email_id, T.recipients, T.send_at, T.status, T.attempts,
        T.results, T.error, T.created_at, T.updated_at,
    )
    .where(T.tenant_id == sa.bindparam("t"), T.user_id == sa.bindparam("u"))
    .order_by(T.send_at.desc(), T.id)
    .limit(100)
)  # fmt: skip


def make_app(
    url: str, tenant: str, user: str, *, sync_sqlite: bool = False
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """`sync_sqlite`: read SQLite on the event loop's thread through the synchronous driver
    (no thread hand-off), the way the host reads a short page of rows."""
    # A plain engine, as a small app would make it (the host's adds SQLite transaction control),
    # with the host's pool size on PostgreSQL, so both sides hold connections alike.
    postgres = dialect_of(url) == "postgresql"
    pool = {"pool_size": PG_POOL_SIZE, "max_overflow": PG_MAX_OVERFLOW} if postgres else {}
    engine = create_async_engine(to_async_url(url), **pool)
    sync_engine = sa.create_engine(to_sync_url(url)) if sync_sqlite and not postgres else None

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await engine.dispose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if sync_engine is not None:
            with sync_engine.connect() as sync_conn:
                rows = sync_conn.execute(QUERY, {"t": tenant, "u": user}).mappings().all()
        else:
            async with engine.connect() as conn:
                if postgres:  # the same row-level security scope the host sets
                    await conn.execute(_BIND_TENANT, {"t": tenant})
                rows = (await conn.execute(QUERY, {"t": tenant, "u": user})).mappings().all()
        body = orjson.dumps({"ok": True, "data": {"items": [dict(r) for r in rows]}, "meta": {}})
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--tenant", default="bench")
    ap.add_argument("--user", default="bench")
    ap.add_argument("--sync-sqlite", action="store_true", help="SQLite read on the loop thread")
    a = ap.parse_args(argv)
    uvicorn.run(
        make_app(a.database_url, a.tenant, a.user, sync_sqlite=a.sync_sqlite),
        host="127.0.0.1",
        port=a.port,
        log_level="warning",
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
