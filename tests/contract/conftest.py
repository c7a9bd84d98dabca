"""HubSpot's settings for the host's test kit: pointed at the in-process sandbox, on a fresh
copy of a database migrated once per session (see hubspot_provider.py for the rest)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated once per session; each test works on a copy (a migration
    takes about a second, a copy a millisecond)."""
    from atom_hubspot.storage.db import migrate

    path = tmp_path_factory.mktemp("contract-db") / "migrated.sqlite3"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def hubspot_provider_env(
    tmp_path: Path, hubspot_env: dict[str, str], migrated_sqlite_file: Path
) -> dict[str, str]:
    """HubSpot's settings for the in-process sandbox, on a fresh copy of the migrated file."""
    database = tmp_path / "hubspot.sqlite3"
    shutil.copyfile(migrated_sqlite_file, database)
    return {**hubspot_env, "ATOM_DATABASE_URL": f"sqlite:///{database}"}
