"""The sandbox's Webhooks Journal: the same changes as the webhooks, pulled instead of pushed.

Each time the sandbox takes new changes (after a call), it publishes one journal entry per portal
holding them. Readers walk the entries by offset: `earliest`, `latest`, `offset/{o}/next`, each
answering a JournalFetchResponse `{currentOffset, url, expiresAt}`; the file behind `url` holds
`{offset, publishedAt, journalEvents[]}`. Reads need the app's client-credentials token with
`developer.webhooks_journal.read`. The journal keeps about three days; an offset it no longer
has answers 404. When nothing newer exists, `next` answers 204 (HubSpot does not document that
case; the plugin also accepts 404 there and then checks how old its offset is).
https://developers.hubspot.com/docs/api-reference/latest/webhooks-journal/journal-entries/guide
"""

from __future__ import annotations

from starlette.responses import Response

from atom_hubspot.sandbox.changes import (
    JOURNAL_SCOPE,
    RETENTION_S,
    SUBSCRIPTIONS_SCOPE,
    JournalEntry,
    iso,
    journal_event,
)
from atom_hubspot.sandbox.errors import ApiError, not_found
from atom_hubspot.sandbox.routing import Call, Router, json_response, no_content

routes = Router()


def fetch_response(call: Call, entry: JournalEntry) -> Response:
    base = f"http://{call.headers.get('host', 'sandbox.local')}{call.root_path}"
    return json_response(
        {
            "currentOffset": entry.offset,
            "url": f"{base}/_journal-files/{entry.offset}",
            "expiresAt": iso(entry.published_at + RETENTION_S),
        }
    )


def _app_token(call: Call, scope: str = JOURNAL_SCOPE) -> None:
    auth = call.headers.get("authorization", "")
    token = auth.partition(" ")[2].strip()
    grant = call.sandbox.app_tokens.get(token)
    if grant is None or grant[1] <= call.sandbox.now():
        raise ApiError(
            401,
            "Authentication credentials not found: the journal takes the app's "
            "client-credentials token.",
            "INVALID_AUTHENTICATION",
        )
    if scope not in grant[0]:
        raise ApiError(
            403,
            "This app hasn't been granted all required scopes to make this call.",
            "MISSING_SCOPES",
            errors=[{"message": f"missing {scope}", "context": {"requiredScopes": [scope]}}],
        )


def _portal_filter(call: Call) -> int | None:
    raw = call.query.get("installPortalId")
    return call.int_query("installPortalId", 0, low=1) if raw else None


_PREFIXES = ("/webhooks-journal/journal/{date}", "/webhooks-journal/journal-local/{date}")


def _end_of_journal(call: Call, index: int) -> Response:
    """The first (0) or last (-1) live entry, for the caller's app token; 204 when none."""
    _app_token(call)
    book = call.sandbox.webhooks.journal_book
    entries = book.live(_portal_filter(call))
    return fetch_response(call, entries[index]) if entries else no_content()


@routes.add(
    "GET",
    "journal.earliest",
    *(p + "/earliest" for p in _PREFIXES),
    kind="oauth",
    family="webhooks.journal",
)
async def earliest(call: Call) -> Response:
    return _end_of_journal(call, 0)


@routes.add(
    "GET",
    "journal.latest",
    *(p + "/latest" for p in _PREFIXES),
    kind="oauth",
    family="webhooks.journal",
)
async def latest(call: Call) -> Response:
    return _end_of_journal(call, -1)


@routes.add(
    "GET",
    "journal.next",
    *(p + "/offset/{offset}/next" for p in _PREFIXES),
    kind="oauth",
    family="webhooks.journal",
)
async def next_entry(call: Call) -> Response:
    _app_token(call)
    book = call.sandbox.webhooks.journal_book
    entries = book.live(_portal_filter(call))
    everything = book.live(None)
    offset = call.params["offset"]
    if not any(e.offset == offset for e in everything):
        raise not_found(f"Offset {offset} does not exist or has expired")
    position = next(i for i, e in enumerate(everything) if e.offset == offset)
    later = [e for e in entries if everything.index(e) > position]
    if not later:
        return no_content()
    return fetch_response(call, later[0])


@routes.add("GET", "journal.file", "/_journal-files/{offset}", kind="oauth")
async def journal_file(call: Call) -> Response:
    book = call.sandbox.webhooks.journal_book
    entry = next((e for e in book.live(None) if e.offset == call.params["offset"]), None)
    if entry is None:
        raise not_found("This journal file has expired")
    return json_response(
        {
            "offset": entry.offset,
            "publishedAt": iso(entry.published_at),
            "journalEvents": [journal_event(e) for e in entry.events],
        }
    )


@routes.add(
    "GET",
    "journal.subscriptions",
    "/webhooks-journal/subscriptions/{date}",
    kind="oauth",
    family="webhooks.journal",
)
async def subscriptions(call: Call) -> Response:
    """The app's journal subscriptions (`SandboxConfig.journal_subscriptions`)."""
    _app_token(call, SUBSCRIPTIONS_SCOPE)
    app_id = call.sandbox.config.app_id
    return json_response(
        {
            "results": [
                {"id": n + 1, "appId": app_id, **sub}
                for n, sub in enumerate(call.sandbox.config.journal_subscriptions)
            ]
        }
    )
