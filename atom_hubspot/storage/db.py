"""The database: async engine from a plain URL, one-transaction sessions, migrations.

`ATOM_DATABASE_URL` is a plain `sqlite:///path` or `postgresql://user@host/db`; the drivers are
ours to pick (aiosqlite, psycopg 3). On PostgreSQL each session binds its transaction to one
tenant for row-level security (`hubspot_bind_tenant`, a SECURITY DEFINER function: the binding
lasts for that transaction only and cannot be changed within it), so a pooled connection never
carries one tenant's scope into another's request and no statement can widen it. Work across
tenants uses a second engine, connected as a role that bypasses row-level security
(ATOM_HUBSPOT_CROSS_TENANT_DATABASE_URL); without one, the main role does that work too, which
only a superuser or BYPASSRLS role can (the plugin says so at start-up).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from atom_hubspot.errors import StorageError
from atom_hubspot.storage.pg_reads import PgShortReads
from atom_hubspot.storage.shapes import Shape, ShapeCache

log = logging.getLogger("atom_hubspot.storage")

VERSION_TABLE = "hubspot_alembic_version"
_VERSION_QUERY = sa.text(f"SELECT version_num FROM {VERSION_TABLE}")  # noqa: S608 - a constant
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "_migrations"
SQLITE_BUSY_TIMEOUT_S = 30.0
# A lookup by key on SQLite runs on the caller's thread (see `Database.first`); a WAL reader
# takes no lock, so this bound only matters while SQLite recovers its WAL index.
SQLITE_POINT_READ_TIMEOUT_S = 0.05
# PostgreSQL: a pooled connection idle longer than this is pinged before use. One used more
# recently is trusted (a ping on every checkout is a round trip on every request); should the
# server have dropped it all the same, the read is retried once on a fresh connection.
PING_IDLE_S = 10.0
# PostgreSQL pool per engine and process. SQLAlchemy's default (5, and 10 more opened and
# closed again as needed) made a worker serving 50 clients open and close a connection on most
# requests (a server process forked each time). Several workers multiply this: keep
# workers x (PG_POOL_SIZE + PG_MAX_OVERFLOW + PG_SHORT_READ_POOL) under the server's
# max_connections (100 by default), with room for the cross-tenant engine's few.
PG_POOL_SIZE = 20
PG_MAX_OVERFLOW = 10
# Connections for a tenant's short reads (storage/pg_reads.py): each holds one for a single
# round trip, so a few serve many clients.
PG_SHORT_READ_POOL = 10


def _driver_url(url: str, sqlite_driver: str, pg_driver: str) -> str:
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        return u.set(
            drivername=f"sqlite+{sqlite_driver}" if sqlite_driver else "sqlite"
        ).render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        return u.set(drivername=f"postgresql+{pg_driver}").render_as_string(hide_password=False)
    raise StorageError(
        f"ATOM_DATABASE_URL uses an unsupported database {backend!r}: use sqlite:///path "
        "or postgresql://user@host/db"
    )


def to_async_url(url: str) -> str:
    """sqlite:///f → sqlite+aiosqlite:///f ; postgresql://… → postgresql+psycopg://…"""
    return _driver_url(url, "aiosqlite", "psycopg")


def to_sync_url(url: str) -> str:
    """The synchronous driver for Alembic: stdlib sqlite3, psycopg 3."""
    return _driver_url(url, "", "psycopg")


def dialect_of(url: str) -> str:
    return "sqlite" if make_url(url).get_backend_name() == "sqlite" else "postgresql"


def _alembic_config(url: str) -> Any:
    from alembic.config import Config

    if not (MIGRATIONS_DIR / "env.py").exists():
        raise StorageError(f"the HubSpot migrations are missing at {MIGRATIONS_DIR}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["url"] = url
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def migrate(url: str, revision: str = "head") -> str:
    """Bring the schema at `url` to `revision` (sync; Alembic). Returns a one-line summary."""
    from alembic import command

    cfg = _alembic_config(url)
    new_file: Path | None = None
    if dialect_of(url) == "sqlite":
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            new_file = None if Path(path).exists() else Path(path)
    try:
        before = current_revision(url)
        command.upgrade(cfg, revision)
        after = current_revision(url)
    except SQLAlchemyError as exc:
        # The URL may hold a password: only the driver's message is shown, never the URL.
        raise StorageError(
            f"HubSpot migration failed: {type(exc).__name__}: {getattr(exc, 'orig', None) or exc}"
        ) from None
    if new_file is not None and new_file.exists():
        new_file.chmod(0o600)  # tokens are encrypted, but the rest is nobody else's business
    if before == after:
        return f"schema already at {after}"
    return f"schema migrated {before or 'empty'} -> {after}"


def downgrade(url: str, revision: str = "base") -> str:
    """Step the schema down to `revision` ("base" removes every HubSpot table)."""
    from alembic import command

    command.downgrade(_alembic_config(url), revision)
    return f"schema downgraded to {current_revision(url) or 'base'}"


def current_revision(url: str) -> str | None:
    engine = sa.create_engine(to_sync_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(VERSION_TABLE):
                return None
            return conn.execute(_VERSION_QUERY).scalar()
    finally:
        engine.dispose()


def schema_sql(dialect_url: str = "postgresql://localhost/atom") -> str:
    """The PostgreSQL DDL of the whole history, from Alembic's offline (--sql) mode."""
    import io

    from alembic import command

    cfg = _alembic_config(dialect_url)
    buf = io.StringIO()
    cfg.output_buffer = buf
    command.upgrade(cfg, "head", sql=True)
    header = (
        "-- HubSpot plugin schema for PostgreSQL, generated from the Alembic history in\n"
        "-- migrations/ (offline mode). Do not edit: regenerate with\n"
        "--   atom-host hubspot schema-sql > migrations/hubspot_schema.sql\n\n"
    )
    return header + buf.getvalue()


def rows_changed(result: sa.Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed (they return a CursorResult, typed Result)."""
    return int(cast("sa.CursorResult[Any]", result).rowcount or 0)


_BIND_TENANT = sa.text("SELECT hubspot_bind_tenant(:t)")
_BYPASSES_RLS = sa.text(
    "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
)


class Database:
    """An async engine plus one-transaction sessions, for SQLite or PostgreSQL."""

    def __init__(self, url: str, *, cross_tenant_url: str | None = None, **engine_kwargs: Any):
        self.url = url
        self.dialect = dialect_of(url)
        kwargs: dict[str, Any] = {}
        if self.dialect == "sqlite":
            # A pooled connection to a local file cannot go stale, so no pre-ping: with
            # aiosqlite it would cost four thread round trips on every checkout.
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
        else:
            kwargs.update(pool_size=PG_POOL_SIZE, max_overflow=PG_MAX_OVERFLOW)
        kwargs.update(engine_kwargs)
        self.engine: AsyncEngine = create_async_engine(to_async_url(url), **kwargs)
        # Work across tenants: its own engine on PostgreSQL when a role for it is configured.
        self._cross_tenant_engine: AsyncEngine | None = None
        # SQLite: a synchronous engine for `first`'s lookups by key (a file database only: an
        # in-memory one is private to the connection that made it).
        self.point_engine: sa.Engine | None = None
        # ...and the connection it keeps open for the thread that reads (the event loop's).
        self._point_conn: sa.Connection | None = None
        self._point_thread: int | None = None
        self._point_shapes: ShapeCache | None = None
        # PostgreSQL: a tenant's lookups by key on psycopg directly, in one round trip.
        self._pg_reads: PgShortReads | None = None
        if self.dialect == "sqlite":
            self._sqlite_transactions()
            if make_url(url).database not in (None, "", ":memory:"):
                self.point_engine = self._sqlite_point_engine(url)
                self._point_shapes = ShapeCache(self.point_engine.dialect)
        else:
            _ping_when_idle(self.engine)
            if PgShortReads.available():
                self._pg_reads = PgShortReads(url, self.engine.dialect, max_size=PG_SHORT_READ_POOL)
            if cross_tenant_url:
                self._cross_tenant_engine = create_async_engine(
                    to_async_url(cross_tenant_url), **kwargs
                )
                _ping_when_idle(self._cross_tenant_engine)

    @property
    def cross_tenant_engine(self) -> AsyncEngine:
        return self._cross_tenant_engine or self.engine

    def _engine_for(self, tenant_id: str | None) -> AsyncEngine:
        return self.engine if tenant_id is not None else self.cross_tenant_engine

    async def cross_tenant_role_problem(self) -> str | None:
        """Why work across tenants cannot see every tenant's rows on PostgreSQL, or None.

        Row-level security confines every role but a superuser or a BYPASSRLS one, the table
        owner included (FORCE ROW LEVEL SECURITY)."""
        if self.dialect != "postgresql":
            return None
        try:
            async with self.cross_tenant_engine.connect() as conn:
                bypasses = (await conn.execute(_BYPASSES_RLS)).scalar()
        except (OSError, sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            return f"the database for work across tenants is unreachable ({type(exc).__name__})"
        if bypasses:
            return None
        return (
            "work across tenants (scheduled sends, the mirror's sync, key rotation, health "
            "counts) connects as a role that row-level security confines, so it sees no "
            "tenant's rows; set ATOM_HUBSPOT_CROSS_TENANT_DATABASE_URL to a role WITH BYPASSRLS"
        )

    def _sqlite_transactions(self) -> None:
        # Take transaction control from the sqlite3 module so a session can say BEGIN IMMEDIATE
        # (the write lock, taken up front) — SQLAlchemy's documented recipe for pysqlite.
        sync_engine = self.engine.sync_engine

        @event.listens_for(sync_engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        @event.listens_for(sync_engine, "begin")
        def _begin(conn: Any) -> None:
            options = conn.get_execution_options()
            if options.get("sqlite_single_statement", False):
                return  # Database.first: the statement is its own (read) transaction
            immediate = options.get("sqlite_immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    @staticmethod
    def _sqlite_point_engine(url: str) -> sa.Engine:
        engine = sa.create_engine(
            to_sync_url(url), connect_args={"timeout": SQLITE_POINT_READ_TIMEOUT_S}
        )

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA query_only=ON")  # lookups only: this engine never writes
            cur.close()

        return engine

    @asynccontextmanager
    async def session(
        self, tenant_id: str | None = None, *, write_lock: bool = True, read_only: bool = False
    ) -> AsyncIterator[AsyncSession]:
        """One transaction, committed on success, rolled back on error.

        `tenant_id` binds the PostgreSQL transaction to that tenant for row-level security; None
        means the work spans tenants on purpose (background jobs, key rotation) and runs on the
        cross-tenant role's engine, bound to no tenant. On SQLite a session takes the write lock
        up front (BEGIN IMMEDIATE):
        a deferred transaction that reads and then writes fails at once with "database is
        locked" when another connection wrote meanwhile — the busy timeout cannot help it.
        Pure reads pass `read_only=True` and run without the lock (WAL readers never block).
        PostgreSQL uses row locks instead; both flags change nothing there.
        """
        try:
            async with self._engine_for(tenant_id).connect() as conn:
                if write_lock and not read_only and self.dialect == "sqlite":
                    await conn.execution_options(sqlite_immediate=True)
                async with AsyncSession(bind=conn, expire_on_commit=False) as session:
                    async with session.begin():
                        if self.dialect == "postgresql" and tenant_id is not None:
                            await session.execute(_BIND_TENANT, {"t": tenant_id})
                        yield session
        except (OSError, sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            log.warning("database unavailable: %s", type(exc).__name__)
            raise StorageError(
                "The HubSpot plugin's database is unavailable; try again later."
            ) from None

    async def first(
        self, stmt: sa.Select[Any], params: dict[str, Any], tenant_id: str | None
    ) -> sa.Row[Any] | None:
        """The first row of one read-only statement that looks a row up by key, with as few
        round trips as possible.

        For lookups on every request (the caller's connection, a mirrored record by id). No
        ORM session: plain rows. SQLite runs the statement without BEGIN/COMMIT: a single
        statement is its own read transaction there, so it sees one committed snapshot, and WAL
        readers take no lock. It runs on the calling thread, on a synchronous connection: an
        indexed lookup takes SQLite microseconds, a hand-off to aiosqlite's thread and back
        (execute, fetch, reset) several times that. Should SQLite be busy all the same (it
        recovers its WAL index after a crash), the lookup goes the asynchronous way, which may
        wait. PostgreSQL still needs the transaction, because row-level security's tenant is
        bound to it alone (`hubspot_bind_tenant`): a policy may read the binding before a call
        in the same statement would make it, so that cannot be folded into the query.
        """
        rows = await self.rows(stmt, params, tenant_id, first_only=True)
        return rows[0] if rows else None

    async def rows(
        self,
        stmt: sa.Select[Any],
        params: dict[str, Any],
        tenant_id: str | None,
        *,
        first_only: bool = False,
    ) -> list[sa.Row[Any]]:
        """Every row of one read-only statement, the way `first` reads one (see there): for
        short reads on every request (a page of at most a few hundred rows, by an index)."""
        if self.point_engine is not None:
            held = None
            try:
                held = self._point_connection()
                if held is None:
                    with self.point_engine.connect() as sync_conn:
                        return _fetched(sync_conn.execute(stmt, params), first_only)
                assert self._point_shapes is not None
                shape = self._point_shapes.get(stmt)
                if shape is None:
                    return _fetched(held.execute(stmt, params), first_only)
                return _point_read(held, shape, params, first_only)
            except (sa.exc.OperationalError, sqlite3.OperationalError):
                # Busy, or unreadable: the asynchronous way says which. A fresh connection
                # next time.
                if held is not None:
                    self._drop_point_connection()
        if self._pg_reads is not None and tenant_id is not None:
            got = await self._pg_reads.rows(stmt, params, tenant_id, first_only)
            if got is not None:
                return got  # None: the engine's path answers (see pg_reads)
        try:
            try:
                return await self._rows(stmt, params, tenant_id, first_only)
            except sa.exc.DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
                # A pooled connection the server had dropped (a restart): SQLAlchemy has
                # invalidated the pool; a read is safe to run again on a fresh connection.
                return await self._rows(stmt, params, tenant_id, first_only)
        except (OSError, sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            log.warning("database unavailable: %s", type(exc).__name__)
            raise StorageError(
                "The HubSpot plugin's database is unavailable; try again later."
            ) from None

    def _point_connection(self) -> sa.Connection | None:
        """The read-only connection `rows` reads SQLite through, kept open for the thread that
        reads (the event loop's); None on another thread, which takes one from the pool.

        A checkout and return per read was a third of a lookup's time. Keeping it open
        changes nothing that is read: the sqlite3 module begins a transaction only before a
        write (this connection is `query_only`), so each SELECT is its own read of the latest
        committed state, and fetching all of its rows (`first` closes the cursor) ends it."""
        assert self.point_engine is not None
        thread = threading.get_ident()
        if self._point_conn is None:
            self._point_conn, self._point_thread = self.point_engine.connect(), thread
        elif self._point_thread != thread:
            return None
        return self._point_conn

    def _drop_point_connection(self) -> None:
        conn, self._point_conn = self._point_conn, None
        if conn is not None:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                conn.close()

    async def _rows(
        self, stmt: sa.Select[Any], params: dict[str, Any], tenant_id: str | None, first_only: bool
    ) -> list[sa.Row[Any]]:
        async with self._engine_for(tenant_id).connect() as conn:
            if self.dialect == "sqlite":
                conn = await conn.execution_options(sqlite_single_statement=True)
            elif tenant_id is not None:
                await conn.execute(_BIND_TENANT, {"t": tenant_id})
            # SQLAlchemy's overloads of AsyncConnection.execute resolve to Any for a Select.
            result: sa.Result[Any] = await conn.execute(stmt, params)
            return _fetched(result, first_only)

    async def check_migrated(self) -> None:
        """Raise StorageError (saying what to run) unless the schema is at the head revision."""
        head = head_revision()
        try:
            async with self.engine.connect() as conn:
                has = await conn.run_sync(lambda c: sa.inspect(c).has_table(VERSION_TABLE))
                current = (await conn.execute(_VERSION_QUERY)).scalar() if has else None
        except (OSError, sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise StorageError(
                f"The HubSpot plugin cannot reach its database ({type(exc).__name__}). "
                "Check ATOM_DATABASE_URL."
            ) from None
        if current != head:
            state = "has no HubSpot tables" if current is None else f"is at revision {current}"
            raise StorageError(
                f"The database {state}; the plugin needs revision {head}. "
                "Run `atom-host migrate` and start again.",
                current_revision=current,
                required_revision=head,
            )

    async def dispose(self) -> None:
        self._drop_point_connection()
        if self._pg_reads is not None:
            await self._pg_reads.aclose()
        if self.point_engine is not None:
            self.point_engine.dispose()
        await self.engine.dispose()
        if self._cross_tenant_engine is not None:
            await self._cross_tenant_engine.dispose()


def _point_read(
    conn: sa.Connection, shape: Shape, params: dict[str, Any], first_only: bool
) -> list[Any]:
    """`shape` run on the kept connection's sqlite3 cursor (see `storage/shapes.py`): the
    statement's compiled SQL and decoders, without an execution context around the call.
    Closing the cursor resets the statement, which ends its read of the database."""
    dbapi = conn.connection.driver_connection
    assert isinstance(dbapi, sqlite3.Connection)
    cursor = dbapi.execute(shape.sql, shape.parameters(params))
    try:
        if first_only:
            row = cursor.fetchone()
            raw = [] if row is None else [row]
        else:
            raw = cursor.fetchall()
    finally:
        cursor.close()
    return shape.decode(raw)


def _fetched(result: sa.Result[Any], first_only: bool) -> list[sa.Row[Any]]:
    """The rows `Database.rows` answers, read the same way from either connection."""
    if first_only:
        row = result.first()
        return [] if row is None else [row]
    return list(result.all())


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled PostgreSQL connection before use only when it has been idle for
    PING_IDLE_S: SQLAlchemy's recipe for custom pessimistic disconnect handling (a
    DisconnectionError raised at checkout makes the pool replace the connection and try again).
    https://docs.sqlalchemy.org/en/20/core/pooling.html#disconnect-handling-pessimistic"""
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_IDLE_S:
            return  # new, or used moments ago
        try:
            alive = sync_engine.dialect.do_ping(dbapi_conn)
        except Exception:  # the driver's own error class; any of them: use a new connection
            alive = False
        if not alive:
            raise sa.exc.DisconnectionError("the server dropped an idle pooled connection")
