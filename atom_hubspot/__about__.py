"""The package version, read from plugin.toml: the manifest is its one source."""

from __future__ import annotations

import re
from importlib import resources

_MANIFEST = resources.files("atom_hubspot").joinpath("plugin.toml")
_match = re.search(r'^version = "([^"]+)"', _MANIFEST.read_text(encoding="utf-8"), re.M)
__version__ = _match.group(1) if _match else "0+unknown"
