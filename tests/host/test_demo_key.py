"""Demo mode's API key: random, private to the data folder, stable across restarts."""

from __future__ import annotations

import stat
from pathlib import Path

from atom_host_stub.cli import demo_api_key


def test_demo_key_is_generated_once_private_and_reused(tmp_path: Path) -> None:
    key, path = demo_api_key(tmp_path / "data")
    assert key.startswith("demo-") and len(key) > 20
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, _ = demo_api_key(tmp_path / "data")
    assert again == key
    other, _ = demo_api_key(tmp_path / "elsewhere")
    assert other != key
