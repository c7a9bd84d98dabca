"""PostgreSQL short reads in one round trip, for `Database.rows`.

Through SQLAlchemy's asynchronous engine a tenant's lookup is three round trips (BEGIN with
the tenant binding, the SELECT, the ROLLBACK that returns the connection) and greenlet hand-offs
around each: about 1.3 ms of CPU per read on a 2-core machine, as much as the rest of a
request several times over. Here the same statement runs on psycopg directly, in pipeline mode:

    BEGIN; SELECT hubspot_bind_tenant(%s); <the statement>; ROLLBACK

sent together and answered together. Row-level security sees the same binding as on the
engine's path (bound first, in the same transaction). Binding writes a row, so the transaction
is not READ ONLY; ROLLBACK drops that row as the engine's path does, with no commit to flush,
and the connection goes back to the pool outside any transaction.

SQLAlchemy still compiles the statement (once per statement object, `storage/shapes.py`) and
decodes each column with its type's own result processor, so rows carry the same values.

A statement this cannot run the same way (no shape: see there) is answered None, and
`Database.rows` takes the engine's path; so is a read that finds no pooled connection within
WAIT_S, or meets dropped connections twice (the engine's path then answers, or fails at once
with the database down). Without psycopg-pool
(`pip install 'atom-hubspot[postgres]'`) the engine's path serves every read.
https://www.psycopg.org/psycopg3/docs/advanced/pipeline.html
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect, make_url

from atom_hubspot.storage.shapes import Shape, ShapeCache

log = logging.getLogger("atom_hubspot.storage")

BIND_TENANT_SQL = "SELECT hubspot_bind_tenant(%s)"
# How long a read waits for a pooled connection before taking the engine's path instead: the
# pool would wait for a database that is down (its worker reconnecting in the background),
# where the engine's path fails at once with the 503 a caller should get.
WAIT_S = 0.25


class PgShortReads:
    """A small pool of psycopg connections (autocommit; each read is its own transaction)."""

    def __init__(self, url: str, dialect: Dialect, *, max_size: int) -> None:
        self.conninfo = (
            make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        self.max_size = max_size
        self.wait_s = WAIT_S
        self._pool: Any = None
        self.shapes = ShapeCache(dialect)

    @staticmethod
    def available() -> bool:
        try:
            import psycopg_pool  # noqa: F401
        except ImportError:
            return False
        return True

    async def _open(self) -> Any:
        if self._pool is None:
            from psycopg_pool import AsyncConnectionPool

            pool = AsyncConnectionPool(
                self.conninfo,
                min_size=1,
                max_size=self.max_size,
                kwargs={"autocommit": True},
                open=False,
                name="atom-hubspot-short-reads",
            )
            await pool.open()
            self._pool = pool
        return self._pool

    async def rows(
        self, stmt: sa.Select[Any], params: dict[str, Any], tenant_id: str, first_only: bool
    ) -> list[Any] | None:
        """The rows of `stmt` read as `tenant_id`, or None when it must take the engine's
        path. Raises psycopg's errors (the caller maps them as it maps the engine's)."""
        shape = self.shapes.get(stmt)
        if shape is None:
            return None
        import psycopg
        from psycopg_pool import PoolTimeout

        values = shape.parameters(params)
        try:
            raw = await self._read(shape, values, tenant_id)
        except PoolTimeout:
            return None  # every connection busy, or none can be made: the engine's path says
        except psycopg.OperationalError:
            # A pooled connection the server dropped (a restart): so may the others be. The
            # pool tests the idle ones (replacing the dead), and the read runs again; if that
            # fails too, the engine's path answers (a database that is down: at once, 503).
            log.info("a pooled PostgreSQL connection was dropped; reading again")
            try:
                await self._pool.check()
                raw = await self._read(shape, values, tenant_id)
            except (psycopg.OperationalError, PoolTimeout):
                return None
        if first_only:
            raw = raw[:1]
        return shape.decode(raw)

    async def _read(
        self, shape: Shape, values: dict[str, Any] | tuple[Any, ...], tenant_id: str
    ) -> list[tuple[Any, ...]]:
        pool = await self._open()
        async with pool.connection(timeout=self.wait_s) as conn:
            async with conn.pipeline():
                await conn.execute("BEGIN")
                await conn.execute(BIND_TENANT_SQL, (tenant_id,))
                cur = await conn.execute(shape.sql, values)
                await conn.execute("ROLLBACK")
            return list(await cur.fetchall())

    async def aclose(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
