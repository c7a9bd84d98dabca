"""Make a plugin importable and discoverable the way `pip install` does, without pip: a
package directory on sys.path beside a `<name>-<version>.dist-info` holding METADATA and
entry_points.txt, which importlib.metadata reads like any installed distribution."""

from __future__ import annotations

from pathlib import Path


def write_distribution(
    site: Path,
    distribution: str,
    version: str,
    entry_points: dict[str, str],
    *,
    summary: str = "",
    group: str = "atom.plugins",
) -> Path:
    """Write `<distribution>-<version>.dist-info` into `site` (a sys.path entry); give back
    its path. `entry_points` is {name: module}."""
    folder = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
    folder.mkdir(parents=True)
    metadata = f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
    if summary:
        metadata += f"Summary: {summary}\n"
    (folder / "METADATA").write_text(metadata, encoding="utf-8")
    lines = [f"[{group}]", *(f"{name} = {module}" for name, module in entry_points.items())]
    (folder / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
