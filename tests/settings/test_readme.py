"""The README's configuration reference is the manifest's, and it opens with the two commands."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
MANIFEST = tomllib.loads((ROOT / "plugin.toml").read_text(encoding="utf-8"))


def test_readme_config_table_matches_the_manifest() -> None:
    rows = {}
    for line in README.splitlines():
        m = re.match(r"^\| `([A-Z0-9_]+)` \| (yes|no) \| (yes|no) \| (.+?) \| (.+) \|$", line)
        if m:
            default = m.group(4).strip("`") if m.group(4) != "—" else None
            rows[m.group(1)] = (m.group(2) == "yes", m.group(3) == "yes", default, m.group(5))
    expected = {
        c["name"]: (c["required"], c["secret"], c.get("default"), c["description"])
        for c in MANIFEST["config"]
    }
    assert rows == expected


def test_readme_opens_with_the_run_and_the_test_command() -> None:
    blocks = re.findall(r"```bash\n(.+?)\n```", README, re.S)[:2]
    assert blocks[0].endswith("atom-host serve --demo")
    assert blocks[1].endswith(".venv/bin/python -m pytest -n 2")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert '.venv/bin/python -m pytest -n 2 "$@"' in ci  # CI runs the README's command
