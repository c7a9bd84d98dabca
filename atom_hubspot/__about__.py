"""The package version, read from plugin.toml: the manifest is its one source."""

from __future__ import annotations

import os
import re


def _manifest_text() -> str:
    # The file beside this module; importlib.resources (whose import costs every command
    # more than reading the file) only where the package is not a folder on disk (a zip).
    try:
        with open(os.path.join(os.path.dirname(__file__), "plugin.toml"), encoding="utf-8") as f:
            return f.read()
    except OSError:
        from importlib import resources

        return resources.files("atom_hubspot").joinpath("plugin.toml").read_text(encoding="utf-8")


_match = re.search(r'^version = "([^"]+)"', _manifest_text(), re.M)
__version__ = _match.group(1) if _match else "0+unknown"
