from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from atom_host_stub.contract import Principal
from atom_hubspot.oauth import ConnectionManager, OAuthFlow
from atom_hubspot.settings import load_settings
from atom_hubspot.storage.db import Database, migrate
from tests.oauth.fakes import FakeHubSpot

ALICE = Principal(tenant_id="t1", user_id="alice")
BOB = Principal(tenant_id="t1", user_id="bob")
MALLORY = Principal(tenant_id="t2", user_id="mallory")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(hubspot_env):
    s, issues = load_settings(hubspot_env)
    assert s is not None, issues
    return s


@pytest.fixture
def fake() -> FakeHubSpot:
    return FakeHubSpot()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'oauth.sqlite3'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def db(db_url) -> AsyncIterator[Database]:
    migrate(db_url)
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
