"""`atom-host hubspot sync`: arguments checked, a clear answer with nothing to sync."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from atom_hubspot.cli import hubspot
from atom_hubspot.storage.db import migrate


def test_sync_refuses_unknown_object_types() -> None:
    result = CliRunner().invoke(hubspot, ["sync", "--objects", "contacts,tickets"])
    assert result.exit_code == 2
    assert "unknown object type(s): tickets" in result.output


def test_sync_with_no_connected_portal_says_so(
    sqlite_url: str, hubspot_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate(sqlite_url)
    for key, value in hubspot_env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(hubspot, ["sync", "--database-url", sqlite_url])
    assert result.exit_code == 0, result.output
    assert "No connected portals to sync." in result.output
