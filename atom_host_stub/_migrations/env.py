"""Alembic environment of the host's own tables (atom_host_stub/host_db.py).

Run through `atom_host_stub.host_db.migrate(url)`; the plain URL is passed in
`config.attributes["url"]`. The host keeps its own version table, so it shares the database
with the plugins' histories. On PostgreSQL the upgrade holds a transaction-scoped advisory lock:
workers that start together migrate one after another, and the later ones find nothing to do.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from atom_host_stub.host_db import MIGRATION_LOCK_KEY, VERSION_TABLE, metadata, to_sync_url

config = context.config


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to the host's migrations")
    return to_sync_url(url)


def run_migrations_offline() -> None:
    url = _url()
    context.configure(
        url=url,
        literal_binds=True,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = _url()
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        context.configure(
            connection=conn,
            target_metadata=metadata,
            version_table=VERSION_TABLE,
            render_as_batch=url.startswith("sqlite"),
            transactional_ddl=True,
        )
        with context.begin_transaction():
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
