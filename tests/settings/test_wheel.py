"""The built wheel carries the manifest (identical to the top-level plugin.toml), the Alembic
history, the type markers and the entry point — the symlinks in the tree become real files."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_ships_manifest_migrations_and_entry_point(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    [wheel] = tmp_path.glob("atom_hubspot-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert z.read("atom_hubspot/plugin.toml") == (ROOT / "plugin.toml").read_bytes()
        for rel in (ROOT / "migrations").rglob("*"):
            if rel.is_file() and "__pycache__" not in rel.parts:
                inside = f"atom_hubspot/_migrations/{rel.relative_to(ROOT / 'migrations')}"
                assert z.read(inside) == rel.read_bytes(), inside
        assert {"atom_hubspot/py.typed", "atom_host_stub/py.typed"} <= names
        assert {"atom_host_stub/testing/plugin.py", "atom_host_stub/testing/crm_contract.py"} <= (
            names
        )
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        text = z.read(entry_points).decode()
    assert "[atom.plugins]\nhubspot = atom_hubspot.plugin" in text
    assert "atom-host = atom_host_stub.cli:main" in text
    assert "[pytest11]\natom_host = atom_host_stub.testing.plugin" in text
