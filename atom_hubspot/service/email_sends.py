"""Marketing emails that can be sent (HubSpot has no template resource), their recipients, and
the per-recipient results of a send."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from atom_hubspot.client.models import (
    MarketingEmail,
)
from atom_hubspot.errors import (
    HubSpotError,
    InputError,
)
from atom_hubspot.service import mapping
from atom_hubspot.service.pages import ResultsPage


def _str(v: object) -> str | None:
    return None if v is None else str(v)


MAX_RECIPIENTS = 1000


class EmailTemplate(BaseModel):
    """A marketing email that can be sent (HubSpot has no separate template resource)."""

    id: str = Field(examples=["123456789"])
    name: str | None = Field(default=None, examples=["Welcome email"])
    subject: str | None = Field(default=None, examples=["Welcome to Acme"])
    state: str | None = Field(default=None, examples=["PUBLISHED"])
    type: str | None = Field(default=None, examples=["AUTOMATED_EMAIL"])
    is_published: bool | None = None
    from_name: str | None = None
    updated_at: datetime | None = None

    @classmethod
    def of(cls, e: MarketingEmail) -> EmailTemplate:
        return cls(
            id=e.id,
            name=e.name,
            subject=e.subject,
            state=e.state,
            type=e.type or e.email_type,
            is_published=e.is_published,
            from_name=_str((e.sender or {}).get("fromName")),
            updated_at=e.updated_at,
        )


class EmailTemplatePage(ResultsPage[EmailTemplate]):
    """Marketing emails that can be sent, one page."""


class Recipient(BaseModel):
    """Whom to send to: a contact id (its email is looked up) or an address."""

    model_config = ConfigDict(extra="forbid")

    contact_id: str | None = None
    email: str | None = None


RecipientStatus = Literal["sent", "failed", "skipped", "unknown"]


class RecipientResult(BaseModel):
    contact_id: str | None = None
    email: str | None = None
    status: RecipientStatus = Field(
        description="sent: HubSpot accepted it; failed: HubSpot refused it or it was not "
        "attempted because of an error; skipped: nothing to send to (no such contact, no "
        "address, duplicate); unknown: it may have been sent — not repeated, check in HubSpot",
    )
    status_id: str | None = Field(default=None, description="HubSpot's statusId of the send")
    send_result: str | None = Field(default=None, examples=["SENT"])
    error: dict[str, Any] | None = Field(
        default=None, examples=[{"code": "not_found", "message": "Contact 9 was not found"}]
    )


class SendSummary(BaseModel):
    email_id: int
    requested: int
    sent: int
    failed: int
    skipped: int
    unknown: int
    results: list[RecipientResult]

    @classmethod
    def of(cls, email_id: int, results: list[RecipientResult]) -> SendSummary:
        def n(s: str) -> int:
            return sum(1 for r in results if r.status == s)

        return cls(
            email_id=email_id,
            requested=len(results),
            sent=n("sent"),
            failed=n("failed"),
            skipped=n("skipped"),
            unknown=n("unknown"),
            results=results,
        )


# HubSpot's sendResult values meaning it took the message (anything else: it refused).
ACCEPTED_SEND_RESULTS = frozenset({"SENT", "QUEUED"})


def error_dict(err: HubSpotError) -> dict[str, Any]:
    """A recipient result's `error`: the failure's code, message and correlation id."""
    d = {"code": err.code, "message": err.message}
    if err.correlation_id:
        d["correlation_id"] = err.correlation_id
    return d


def recipients_from(
    contact_ids: Iterable[str] | None, emails: Iterable[str] | None
) -> list[Recipient]:
    """Validate and merge recipients; 422 naming each bad field, nothing sent."""
    out: list[Recipient] = []
    errors: list[dict[str, Any]] = []
    # Each listed id is one recipient: a repeat is answered as a skipped duplicate.
    for i, cid in enumerate(contact_ids or []):
        if mapping.is_record_id(cid):
            out.append(Recipient(contact_id=str(cid).strip()))
        else:
            errors.append({"field": f"contact_ids.{i}", "message": mapping.NOT_A_RECORD_ID})
    for i, e in enumerate(emails or []):
        s = str(e).strip()
        if not mapping.EMAIL.fullmatch(s):
            errors.append({"field": f"emails.{i}", "message": "not a valid e-mail address"})
        else:
            out.append(Recipient(email=s))
    if errors:
        raise InputError(
            "Invalid recipients: " + ", ".join(e["field"] for e in errors), errors=errors
        )
    if not out:
        raise InputError(
            "Give contact_ids or emails (at least one recipient).",
            errors=[{"field": "contact_ids", "message": "no recipients"}],
        )
    if len(out) > MAX_RECIPIENTS:
        raise InputError(
            f"At most {MAX_RECIPIENTS} recipients per request.",
            errors=[{"field": "contact_ids", "message": "too many recipients"}],
        )
    return out


OnResult = Callable[[int, RecipientResult], Awaitable[None]]
