"""Alembic environment of the HubSpot plugin: one history for SQLite and PostgreSQL.

Run through `atom_hubspot.storage.db.migrate(url)` (what `atom-host migrate` calls); the plain
URL is passed in `config.attributes["url"]`. SQLite runs in batch mode (it cannot ALTER most
things in place). The plugin keeps its own version table so it can share a database with the
host and other plugins.
"""

from __future__ import annotations

from alembic import context

from atom_hubspot.storage.db import VERSION_TABLE, to_sync_url
from atom_hubspot.storage.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to the HubSpot migrations")
    return to_sync_url(url)


def _options(url: str) -> dict[str, object]:
    return {
        "target_metadata": target_metadata,
        "version_table": VERSION_TABLE,
        "render_as_batch": url.startswith("sqlite"),
        "compare_type": True,
    }


def run_migrations_offline() -> None:
    url = _url()
    context.configure(url=url, literal_binds=True, **_options(url))  # type: ignore[arg-type]
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    from sqlalchemy import create_engine, pool

    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **_options(str(connection.engine.url)))  # type: ignore[arg-type]
        with context.begin_transaction():
            context.run_migrations()
        return
    url = _url()
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, **_options(url))  # type: ignore[arg-type]
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
