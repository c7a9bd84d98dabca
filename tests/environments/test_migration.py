"""The environment column: connections and pending authorizations made before it are
production's; only the two names are stored; down and up again keep the data."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from atom_hubspot.storage.db import downgrade, migrate, to_sync_url

BEFORE = "0007_list_sends"
REVISION = "0008_connection_environment"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'm.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


def _insert_connection(engine: sa.Engine, portal_id: int) -> None:
    with engine.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO hubspot_connections (id, tenant_id, user_id, portal_id, auth_kind, "
                "scopes, status, is_default) VALUES (:id, 't', 'u', :portal, 'oauth', '[]', "
                "'connected', true)"
            ),
            {"id": f"c-{portal_id}", "portal": portal_id},
        )
        c.execute(
            sa.text(
                "INSERT INTO hubspot_oauth_states (id, state_hash, tenant_id, user_id, "
                "redirect_uri, expires_at) VALUES (:id, :h, 't', 'u', 'http://x/cb', "
                "CURRENT_TIMESTAMP)"
            ),
            {"id": f"s-{portal_id}", "h": f"{portal_id:064d}"},
        )


def test_rows_made_before_are_production_and_only_known_names_are_stored(url: str) -> None:
    migrate(url, BEFORE)
    engine = sa.create_engine(to_sync_url(url))
    try:
        _insert_connection(engine, 1)
        migrate(url)
        with engine.connect() as c:
            assert c.execute(sa.text("SELECT environment FROM hubspot_connections")).all() == [
                ("production",)
            ]
            assert c.execute(sa.text("SELECT environment FROM hubspot_oauth_states")).all() == [
                ("production",)
            ]
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as c:
            c.execute(sa.text("UPDATE hubspot_connections SET environment = 'staging'"))
        with engine.begin() as c:
            c.execute(sa.text("UPDATE hubspot_connections SET environment = 'qa'"))
        downgrade(url, BEFORE)
        with engine.connect() as c:
            assert c.execute(sa.text("SELECT count(*) FROM hubspot_connections")).scalar() == 1
        migrate(url)
        with engine.connect() as c:
            rows = c.execute(sa.text("SELECT environment FROM hubspot_connections")).all()
            assert rows == [("production",)]
    finally:
        engine.dispose()
