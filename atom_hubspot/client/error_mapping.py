"""HubSpot's error answers → the plugin's error hierarchy (`atom_hubspot.errors`).

Error body: `{status:"error", message, correlationId, category, subCategory?, errors:[{message,
in?, code?, context?}], context?}`; OAuth errors follow RFC 6749 (`error`, `error_description`).
https://developers.hubspot.com/docs/api-reference/error-handling
Every error keeps HubSpot's status, category and correlationId, and never the token: messages
are HubSpot's own text with any secret of the call blanked out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import httpx

from atom_hubspot.errors import (
    Conflict,
    HubSpotError,
    MissingScopes,
    NotFound,
    RateLimited,
    ReconnectRequired,
    TierRequired,
    Unavailable,
    ValidationFailed,
)

_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)", re.I)
_SCOPE_WORD = re.compile(
    r"\b([a-z][a-z0-9-]*(?:\.[a-z0-9-]+)+|oauth|content|marketing-email|"
    r"transactional-email|automation|forms|tickets|e-commerce)\b"
)
REDACTED = "[redacted]"


def redact(text: str, secrets: Iterable[str]) -> str:
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, REDACTED)
    return text


def parse_body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = json.loads(response.content or b"{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {"results": data}


def correlation_id(response: httpx.Response, body: dict[str, Any] | None = None) -> str | None:
    body = parse_body(response) if body is None else body
    cid = body.get("correlationId") or response.headers.get("x-hubspot-correlation-id")
    return str(cid) if cid else None


def retry_after_s(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        from datetime import UTC, datetime

        return max(0.0, (when - datetime.now(UTC)).total_seconds())


def required_scopes(body: dict[str, Any]) -> list[str]:
    """Scopes HubSpot names in a 403: `errors[].context.requiredGranularScopes` (or
    `requiredScopes`), else the ones quoted in the message."""
    found: list[str] = []
    contexts: list[Any] = [body.get("context")]
    for err in body.get("errors") or []:
        if isinstance(err, dict):
            contexts.append(err.get("context"))
    for ctx in contexts:
        if not isinstance(ctx, dict):
            continue
        for key in ("requiredGranularScopes", "requiredScopes", "requiredScope"):
            for scope in ctx.get(key) or []:
                if isinstance(scope, str) and scope not in found:
                    found.append(scope)
    if not found:
        msg = str(body.get("message") or "")
        # e.g. "This app hasn't been granted all required scopes to make this call. Read more
        # about required scopes here: …. requiredGranularScopes: [crm.objects.contacts.read]"
        m = re.search(r"(?:required\w*Scopes?|scopes?)\W*[:=]\s*\[([^\]]*)\]", msg, re.I)
        if m:
            found = [s.strip(" '\"") for s in m.group(1).split(",") if s.strip(" '\"")]
    return found


_DUPLICATE_WORDS = re.compile(r"\balready exists\b", re.I)


def _names_a_duplicate(errors: list[dict[str, Any]], message: str) -> bool:
    """Whether a validation answer says the input clashes with an existing record."""
    for e in errors:
        code = str(e.get("code") or "").upper()
        if "DUPLICATE" in code or "ALREADY_EXISTS" in code:
            return True
    return bool(_DUPLICATE_WORDS.search(message))


def map_error(
    response: httpx.Response,
    *,
    tier: str | None = None,
    secrets: Iterable[str] = (),
) -> HubSpotError:
    """The error for a non-2xx HubSpot answer."""
    secrets = tuple(secrets)
    status = response.status_code
    body = parse_body(response)
    cid = correlation_id(response, body)
    category = body.get("category") or body.get("errorType") or body.get("error")
    raw_msg = body.get("message") or body.get("error_description") or ""
    message = redact(str(raw_msg), secrets)[:500] or f"HubSpot answered {status}"
    errors = [
        {k: (redact(v, secrets) if isinstance(v, str) else v) for k, v in e.items()}
        for e in body.get("errors") or []
        if isinstance(e, dict)
    ]
    common: dict[str, Any] = {
        "status": status,
        "category": category,
        "correlation_id": cid,
        "errors": errors,
    }
    sub = body.get("subCategory")
    if sub:
        common["sub_category"] = sub

    oauth_error = body.get("error")
    if status == 401 or oauth_error == "invalid_grant" or body.get("status") == "BAD_REFRESH_TOKEN":
        return ReconnectRequired(
            "HubSpot no longer accepts this connection's credentials; reconnect the account "
            f"({message})",
            **common,
        )
    if status == 403:
        scopes = required_scopes(body)
        if tier is not None and category == "MISSING_SCOPES" and scopes:
            # HubSpot names scopes the token lacks: reconnecting with them is the fix, and
            # those scopes are only granted to accounts that have the tier.
            return MissingScopes(
                f"The HubSpot connection lacks permissions for this call: {', '.join(scopes)}; "
                f"reconnect and grant them (this API also needs {tier})",
                required_scopes=scopes,
                required_tier=tier,
                **common,
            )
        if tier is not None:
            extra = {"required_scopes": scopes} if scopes else {}
            return TierRequired(
                f"This HubSpot account cannot use this feature: it needs {tier}. ({message})",
                required_tier=tier,
                **common,
                **extra,
            )
        if scopes or category == "MISSING_SCOPES" or "scope" in message.lower():
            named = f": {', '.join(scopes)}" if scopes else ""
            return MissingScopes(
                f"The HubSpot connection lacks permissions for this call{named}; reconnect "
                "and grant them",
                required_scopes=scopes,
                **common,
            )
        err = HubSpotError(f"HubSpot refused the call: {message}", **common)
        err.http_status = 403
        return err
    if status == 404:
        return NotFound(f"Not found in HubSpot: {message}", **common)
    if status == 409:
        m = _EXISTING_ID.search(str(raw_msg))
        return Conflict(message, existing_id=m.group(1) if m else None, **common)
    if status == 429:
        policy = body.get("policyName")
        return RateLimited(
            f"HubSpot rate limit reached ({policy or 'unknown policy'})",
            policy=policy,
            retry_after_s=retry_after_s(response),
            **common,
        )
    if status >= 500:
        return Unavailable(f"HubSpot is unavailable (HTTP {status}): {message}", **common)
    if status in (400, 422):
        if _names_a_duplicate(errors, message):
            # Some APIs (campaigns: a name must be unique) answer a duplicate with a 400
            # VALIDATION_ERROR; it is a conflict with an existing record all the same.
            return Conflict(message, existing_id=None, **common)
        return ValidationFailed(message, **common)
    err = HubSpotError(f"HubSpot answered {status}: {message}", **common)
    err.http_status = 502
    return err
