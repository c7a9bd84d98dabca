from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from atom_host_stub.contract import Principal
from atom_hubspot.oauth import ConnectionManager, OAuthFlow
from atom_hubspot.settings import load_settings
from atom_hubspot.storage.db import Database, migrate
from tests.clocks import DateClock
from tests.oauth.fakes import FakeHubSpot

ALICE = Principal(tenant_id="t1", user_id="alice")
BOB = Principal(tenant_id="t1", user_id="bob")
MALLORY = Principal(tenant_id="t2", user_id="mallory")


@pytest.fixture
def clock() -> DateClock:
    return DateClock()


@pytest.fixture
def settings(hubspot_env):
    s, issues = load_settings(hubspot_env)
    assert s is not None, issues
    return s


@pytest.fixture
def fake() -> FakeHubSpot:
    return FakeHubSpot()


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory) -> Path:
    """Migrated once; each test gets a copy (Alembic's own runs are tested in tests/storage)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def migrated_pg_template(postgres_admin_url) -> Iterator[str]:
    import psycopg

    name = f"atom_tmpl_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_admin_url.rpartition("/")
    migrate(f"{base}/{name}")
    try:
        yield name
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> Iterator[str]:
    """A migrated database: a copy of a migrated SQLite file, or a PostgreSQL database made
    from a migrated template."""
    if request.param == "sqlite":
        path = tmp_path / "oauth.sqlite3"
        shutil.copy(request.getfixturevalue("migrated_sqlite_file"), path)
        yield f"sqlite:///{path}"
        return
    import psycopg

    admin = request.getfixturevalue("postgres_admin_url")
    template = request.getfixturevalue("migrated_pg_template")
    name = f"atom_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    base, _, _ = admin.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(db_url) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


@pytest.fixture
def manager(settings, db, fake, clock) -> ConnectionManager:
    return ConnectionManager(
        settings, db, oauth_api=fake, client_factory=fake.client_factory, clock=clock
    )


@pytest.fixture
def flow(settings, manager, clock) -> OAuthFlow:
    return OAuthFlow(settings, manager, public_url="http://host.local", clock=clock)
