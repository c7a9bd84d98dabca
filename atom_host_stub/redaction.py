"""Keep secrets out of anything the host shows: failure reasons, logs, status pages."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Credentials embedded in URLs: scheme://user:password@host
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^/:@\s]*:)[^@\s/]+@")
# Shorter values would blank out ordinary words.
_MIN_SECRET_LENGTH = 4
MASK = "***"


class Redactor:
    """Replaces known secret values and URL passwords with `***`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        self._secrets.update(s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH)

    def __call__(self, text: str) -> str:
        # Longest first, so a secret that contains another is masked whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)
