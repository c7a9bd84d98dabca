"""Alembic: up and down on both databases, models match the history, schema SQL is current."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from atom_hubspot.errors import StorageError
from atom_hubspot.storage.db import (
    VERSION_TABLE,
    Database,
    current_revision,
    downgrade,
    head_revision,
    migrate,
    schema_sql,
    to_async_url,
    to_sync_url,
)
from atom_hubspot.storage.models import EXPRESSION_INDEXES, TENANT_TABLES, Base

ROOT = Path(__file__).resolve().parents[2]
TABLES = {
    "hubspot_connections",
    "hubspot_tokens",
    "hubspot_oauth_states",
    "hubspot_portal_details",
    "hubspot_sync_cursors",
    "hubspot_scheduled_sends",
    "hubspot_rate_windows",
    "hubspot_leases",
    "hubspot_mirror_records",
    "hubspot_mirror_associations",
    "hubspot_mirror_sync_state",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'm.sqlite3'}"
    return request.getfixturevalue("postgres_url")


def _tables(url: str) -> set[str]:
    eng = sa.create_engine(to_sync_url(url))
    try:
        return set(sa.inspect(eng).get_table_names())
    finally:
        eng.dispose()


def test_urls():
    assert to_async_url("sqlite:////x/y.db") == "sqlite+aiosqlite:////x/y.db"
    assert to_async_url("postgresql://u@h:5432/d") == "postgresql+psycopg://u@h:5432/d"
    assert to_sync_url("postgresql://u:p@h/d") == "postgresql+psycopg://u:p@h/d"
    with pytest.raises(StorageError):
        to_async_url("mysql://u@h/d")


def test_up_down_up(url):
    assert current_revision(url) is None
    assert "migrated empty -> " in migrate(url)
    assert TABLES <= _tables(url)
    assert current_revision(url) == head_revision()
    assert "already at" in migrate(url)
    downgrade(url, "base")
    assert not (TABLES & _tables(url))
    assert current_revision(url) is None
    migrate(url)
    assert TABLES <= _tables(url)


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:Did not recognize type 'xid8'")  # the tenant bindings table
def test_models_match_migrations(url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    migrate(url)
    eng = sa.create_engine(to_sync_url(url))
    try:
        with eng.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "version_table": VERSION_TABLE}
            )
            diff = [
                d
                for d in compare_metadata(ctx, Base.metadata)
                # The version table, and row-level security's per-transaction tenant bindings
                # (PostgreSQL only, written by its SECURITY DEFINER function alone): no models.
                if not (
                    isinstance(d, tuple)
                    and d[0] == "remove_table"
                    and d[1].name in (VERSION_TABLE, "hubspot_tenant_bindings")
                )
                # Expression indexes on JSON properties are the migration's alone (per dialect).
                and not (
                    isinstance(d, tuple)
                    and d[0] == "remove_index"
                    and d[1].name in EXPRESSION_INDEXES
                )
            ]
    finally:
        eng.dispose()
    assert diff == []


async def test_check_migrated(url):
    db = Database(url)
    try:
        with pytest.raises(StorageError) as ei:
            await db.check_migrated()
        assert "atom-host migrate" in ei.value.message
        migrate(url)
        await db.check_migrated()
    finally:
        await db.dispose()


def test_postgres_has_rls_jsonb_and_updated_at_trigger(postgres_url):
    import psycopg

    migrate(postgres_url)
    with psycopg.connect(postgres_url) as c:
        rls = dict(
            c.execute(
                "select relname, relrowsecurity and relforcerowsecurity from pg_class "
                "where relname like 'hubspot_%' and relkind = 'r'"
            ).fetchall()
        )
        assert all(rls[t] for t in TENANT_TABLES)
        assert rls["hubspot_rate_windows"] is False
        types = dict(
            c.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_name = 'hubspot_scheduled_sends'"
            ).fetchall()
        )
        assert types["recipients"] == "jsonb" and types["send_at"] == "timestamp with time zone"
        c.execute("select set_config('app.tenant_id', 't1', false)")
        c.execute(
            "insert into hubspot_connections (id, tenant_id, user_id, portal_id, auth_kind, scopes,"
            " updated_at) values ('c1','t1','u',1,'oauth','[]', now() - interval '1 day')"
        )
        c.commit()
        before = c.execute("select updated_at from hubspot_connections").fetchone()[0]
        c.execute("update hubspot_connections set hub_domain = 'x'")
        c.commit()
        after = c.execute("select updated_at from hubspot_connections").fetchone()[0]
        assert (after - before).total_seconds() > 3600


def test_schema_sql_is_current():
    committed = (ROOT / "migrations" / "hubspot_schema.sql").read_text()
    assert committed == schema_sql(), (
        "migrations/hubspot_schema.sql is stale: run "
        "`atom-host hubspot schema-sql > migrations/hubspot_schema.sql`"
    )


def test_schema_sql_applies_to_postgres(postgres_url):
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as c:
        c.execute(schema_sql())
    assert current_revision(postgres_url) == head_revision()
    assert TABLES <= _tables(postgres_url)


def test_new_sqlite_file_is_private(tmp_path):
    import stat

    path = tmp_path / "new" / "atom.sqlite3"
    migrate(f"sqlite:///{path}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
