"""vcrpy set-up for the recorded conversations: matching, secret scrubbing, cassette header.

Requests are matched on method, path, query and body. Before anything is written — and, since
vcrpy runs the same hook on live requests before matching, before anything is compared —
bearer tokens, client secrets, codes and tokens in form bodies and token answers are replaced
by fixed placeholders. So a cassette never holds a secret, and replay works whatever secret
the test process holds.

Modes (environment variable ATOM_RECORD_CASSETTES):
  unset          replay only (record_mode "none"): no sandbox, no network
  sandbox        re-record every cassette against the in-process offline sandbox
  hubspot        re-record the CRM/marketing cassettes against a HubSpot developer test
                 account (HUBSPOT_TEST_ACCOUNT_TOKEN, a private-app token), written next to the
                 sandbox ones under tests/cassettes/hubspot/
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import vcr
import yaml

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
PLACEHOLDER = {
    "access_token": "SCRUBBED-ACCESS",
    "refresh_token": "SCRUBBED-REFRESH",
    "client_secret": "SCRUBBED-SECRET",
    "id_token": "SCRUBBED-ID",
    "token": "SCRUBBED-TOKEN",
    "code": "SCRUBBED-CODE",
    "code_verifier": "SCRUBBED-VERIFIER",
}
# The repository's rule for anything committed: no token-shaped value next to these names.
SECRET_SHAPE = re.compile(
    r"""(access_token|refresh_token|client_secret)["']?[:=] *["']?[A-Za-z0-9_-]{24,}"""
)
# Path segments that carry tokens in HubSpot's legacy OAuth paths.
_TOKEN_PATH = re.compile(r"(/oauth/v1/(?:access-tokens|refresh-tokens)/)[^/?]+")
# content-length of a request would tell the length of the secret it carried.
_HEADERS_DROPPED = ["authorization", "cookie", "set-cookie", "user-agent", "content-length"]

HEADERS = {
    "sandbox": "# Recorded against the atom-hubspot offline sandbox (atom_hubspot.sandbox), not\n"
    "# HubSpot: it pins our wire format. Re-recording against a HubSpot developer\n"
    "# test account (see tests/cassettes/README.md) replaces it. Secrets scrubbed.\n",
    "hubspot": "# Recorded against a HubSpot developer test account. Secrets scrubbed.\n",
}


def record_target() -> str | None:
    value = os.environ.get("ATOM_RECORD_CASSETTES", "").strip().lower()
    return value or None


def _scrub_form(body: str) -> str:
    pairs = parse_qsl(body, keep_blank_values=True)
    if not pairs:
        return body
    return urlencode([(k, PLACEHOLDER.get(k, v)) for k, v in pairs])


def _scrub_json(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {
            k: (PLACEHOLDER[k] if k in PLACEHOLDER and isinstance(v, str) else _scrub_json(v))
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_scrub_json(v) for v in obj]
    return obj


def _scrub_text(text: str, content_type: str) -> str:
    if "x-www-form-urlencoded" in content_type:
        return _scrub_form(text)
    if text[:1] in "{[":
        try:
            return json.dumps(_scrub_json(json.loads(text)), separators=(",", ":"))
        except ValueError:
            return text
    return text


def scrub_request(request: Any) -> Any:
    request.uri = _TOKEN_PATH.sub(r"\1SCRUBBED-TOKEN", request.uri)
    body = request.body
    if body:
        text = body.decode() if isinstance(body, bytes) else str(body)
        ctype = str(
            request.headers.get("content-type", "") or request.headers.get("Content-Type", "")
        )
        new = _scrub_text(text, ctype)
        if new != text:
            request.body = new.encode() if isinstance(body, bytes) else new
    for h in list(request.headers):
        if h.lower() in _HEADERS_DROPPED:
            del request.headers[h]
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    body = response.get("body", {}).get("string")
    if body:
        text = body.decode() if isinstance(body, bytes) else body
        headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        ctype = " ".join(headers.get("content-type", []) or [])
        new = _scrub_text(text, ctype)
        if new != text:
            response["body"]["string"] = new.encode() if isinstance(body, bytes) else new
            if "content-length" in headers:
                for k in list(response["headers"]):
                    if k.lower() == "content-length":
                        response["headers"][k] = [str(len(new.encode()))]
    for k in list(response.get("headers") or {}):
        if k.lower() in ("set-cookie", "date", "x-hubspot-correlation-id"):
            del response["headers"][k]
    return response


class _HeaderedYaml:
    """vcrpy's YAML with a first comment line saying what the cassette was recorded against."""

    def __init__(self, header: str) -> None:
        self.header = header

    def deserialize(self, text: str) -> Any:
        return yaml.safe_load(text)

    def serialize(self, data: Any) -> str:
        return self.header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def make_vcr(
    target: str = "sandbox", *, library: Path | None = None, mode: str | None = None
) -> vcr.VCR:
    mode = mode or ("all" if record_target() == target else "none")
    v = vcr.VCR(
        cassette_library_dir=str(library or CASSETTES / target),
        record_mode=mode,
        match_on=["method", "path", "query", "body"],
        before_record_request=scrub_request,
        before_record_response=scrub_response,
        decode_compressed_response=True,
        serializer="headered",
        path_transformer=vcr.VCR.ensure_suffix(f".{target}.yaml"),
    )
    v.register_serializer("headered", _HeaderedYaml(HEADERS[target]))
    return v
