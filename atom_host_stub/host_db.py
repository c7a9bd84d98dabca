"""The host's own tables in the ATOM database (ATOM_DATABASE_URL), beside the plugins' tables:
what the MCP server must share between worker processes — the ledger of used confirmation
tokens (mcp_ledger.py) and the OAuth clients, codes and tokens of `/mcp` (mcp_auth.py).

The schema is built by the host's own Alembic history (`atom_host_stub/_migrations`, version
table `atom_host_alembic_version`, so it shares a database with the plugins' histories). The
MCP server brings it up to date when it starts (`atom-host migrate` does too); on PostgreSQL
an advisory lock in the history's env.py lets several workers start at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = logging.getLogger("atom_host_stub.db")

VERSION_TABLE = "atom_host_alembic_version"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "_migrations"
SQLITE_BUSY_TIMEOUT_S = 30.0
# pg_advisory_xact_lock key of the host's migrations: "atomhost" in ASCII.
MIGRATION_LOCK_KEY = 0x61746F6D686F7374

# Alembic's `context` is one module-wide proxy: two upgrades in one process at once (two apps
# in one test process) would tear each other's down, so they take turns.
_ALEMBIC_TURN = threading.Lock()

metadata = sa.MetaData()

confirmations = sa.Table(
    "atom_host_mcp_confirmations",
    metadata,
    # SHA-256 of the confirmation's nonce (its idempotency key).
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("tool", sa.String(100), nullable=False),
    # "running" while one process commits, then "done" with the commit's answer.
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("result", sa.Text, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    # Unix seconds after which the row may go (the token has long expired by then).
    sa.Column("expires_at", sa.BigInteger, nullable=False, index=True),
)


# OAuth for /mcp (mcp_auth.py). Codes and tokens are kept as SHA-256 digests only: the database
# never holds one that could be presented. A client's secret is kept encrypted (the SDK's client
# check compares it in clear), the rest of its registration as JSON.
oauth_clients = sa.Table(
    "atom_host_oauth_clients",
    metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("info", sa.Text, nullable=False),
    sa.Column("secret_sealed", sa.Text, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

oauth_codes = sa.Table(
    "atom_host_oauth_codes",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("tenant_id", sa.String(200), nullable=False),
    sa.Column("user_id", sa.String(200), nullable=False),
    # challenge, redirect URI, scopes, resource: what the token request is checked against.
    sa.Column("request", sa.Text, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
)

oauth_tokens = sa.Table(
    "atom_host_oauth_tokens",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),  # "access" or "refresh"
    # One authorization: the tokens of one consent and its refreshes, revoked together.
    sa.Column("grant_id", sa.String(64), nullable=False, index=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("tenant_id", sa.String(200), nullable=False),
    sa.Column("user_id", sa.String(200), nullable=False),
    sa.Column("scopes", sa.String(500), nullable=False),
    # The audience (RFC 8707 resource indicator): the /mcp URL the token is good for.
    sa.Column("resource", sa.String(2000), nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False, index=True),
)


class HostDatabaseError(Exception):
    """The host's database is unreachable or its schema could not be built; the message names
    no URL (it may hold a password)."""


def _driver_url(url: str, *, asynchronous: bool) -> str:
    try:
        u = make_url(url)
    except sa.exc.ArgumentError:
        raise HostDatabaseError("ATOM_DATABASE_URL is not a database URL") from None
    backend = u.get_backend_name()
    if backend == "sqlite":
        driver = "sqlite+aiosqlite" if asynchronous else "sqlite"
    elif backend in ("postgresql", "postgres"):
        driver = "postgresql+psycopg"
    else:
        raise HostDatabaseError(
            f"ATOM_DATABASE_URL uses an unsupported database {backend!r}: use sqlite:///path "
            "or postgresql://user@host/db"
        )
    return u.set(drivername=driver).render_as_string(hide_password=False)


def to_sync_url(url: str) -> str:
    return _driver_url(url, asynchronous=False)


def dialect_of(url: str) -> str:
    return "postgresql" if url.split(":", 1)[0].lower().startswith("postgres") else "sqlite"


def create_engine(url: str) -> AsyncEngine:
    """An async engine on the host's database (aiosqlite or psycopg 3)."""
    if dialect_of(url) == "sqlite":
        return create_async_engine(
            _driver_url(url, asynchronous=True),
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S},
        )
    return create_async_engine(_driver_url(url, asynchronous=True), pool_pre_ping=True)


class HostDatabase:
    """The engine on the host's tables, brought up to date on first use (not at start-up: a
    host nobody reaches through MCP pays nothing for them)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: AsyncEngine | None = None
        self._ready = False
        self._ready_lock = asyncio.Lock()

    @property
    def engine(self) -> AsyncEngine:
        """Made on first use, so a database URL the host cannot serve (a config error the
        report already names) fails the MCP call that needs it, not the host's start."""
        if self._engine is None:
            self._engine = create_engine(self.url)
        return self._engine

    @property
    def dialect(self) -> str:
        return dialect_of(self.url)

    async def ready(self) -> AsyncEngine:
        """The engine, once the host's tables are at the head revision (migrated once per
        process; another process may be at it too)."""
        engine = self.engine
        if self._ready:
            return engine
        async with self._ready_lock:
            if not self._ready:
                try:
                    await asyncio.to_thread(migrate, self.url)
                except HostDatabaseError:
                    # Two processes may create a table at the same moment on SQLite
                    # (PostgreSQL serialises them with a lock): a second try finds it there.
                    await asyncio.to_thread(migrate, self.url)
                self._ready = True
        return self.engine

    async def aclose(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()


def migrate(url: str) -> str:
    """Bring the host's tables at `url` to the head of the host's history (sync: Alembic)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["url"] = url
    if dialect_of(url) == "sqlite":
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        with _ALEMBIC_TURN:
            before = current_revision(url)
            command.upgrade(cfg, "head")
            after = current_revision(url)
    except sa.exc.SQLAlchemyError as exc:
        raise HostDatabaseError(
            f"the host's migration failed: {type(exc).__name__}: "
            f"{getattr(exc, 'orig', None) or exc}"
        ) from None
    if before == after:
        return f"schema already at {after}"
    return f"schema migrated {before or 'empty'} -> {after}"


def current_revision(url: str) -> str | None:
    engine = sa.create_engine(to_sync_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(VERSION_TABLE):
                return None
            query = sa.text(f"SELECT version_num FROM {VERSION_TABLE}")  # noqa: S608 - a constant
            return cast("str | None", conn.execute(query).scalar())
    finally:
        engine.dispose()


def rows_changed(result: sa.Result[Any]) -> int:
    """How many rows an INSERT, UPDATE or DELETE changed (typed Result, really a cursor)."""
    return int(cast("sa.CursorResult[Any]", result).rowcount or 0)
