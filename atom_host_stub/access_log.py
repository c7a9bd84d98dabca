"""The web server's access log without query strings.

Query strings carry what must not reach a log: the OAuth callback's single-use `code` and
`state`, and filters such as `?email=` (personal data). The access log keeps method, path and
status — enough to follow a request — and drops everything after the `?`. `atom-host serve`
names the filter in uvicorn's logging config, so every worker process applies it.
"""

from __future__ import annotations

import logging


class DropQueryStrings(logging.Filter):
    """Rewrites uvicorn access records (client, method, path, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, sep, _ = args[2].partition("?")
            if sep:
                record.args = (*args[:2], f"{path}?…", *args[3:])
        return True
