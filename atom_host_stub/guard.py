"""What the host does to every HTTP request before any plugin code sees it.

- Bodies are bounded (`ATOM_MAX_BODY_BYTES`): a declared `Content-Length` over the limit is
  answered 413 without reading a byte, and a streamed (chunked) body is counted as it arrives
  and answered 413 as soon as it passes the limit. The body is read here, once, so nothing
  downstream parses anything the limit has not seen.
- A request with a body to a plugin route that needs an authenticated caller is
  authenticated *before* the body is parsed, so no one without a key learns how it is read.
- Those JSON bodies are then parsed strictly, once: JSON's non-standard constants (`NaN`,
  `Infinity`, `-Infinity`), numbers too long to hold, and floats that overflow are refused with
  a message naming what is wrong and where (`body is not valid JSON: line 1, column 2 (…)`).
- The routes of a plugin that failed at start-up (or is disabled by a configuration error)
  answer 503 naming the plugin and the reason, instead of a bare 404.
- Every answer carries `X-Content-Type-Options: nosniff`; HTML pages a CSP with
  `frame-ancestors 'none'`; JSON answers `Cache-Control: no-store` unless they say otherwise.

Everything is answered in the host's error envelope `{"ok": false, "error": {code, message}}`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from atom_host_stub.auth import CrossSiteRefused, Unauthorized
from atom_host_stub.contract import JSON_BODY_SCOPE_KEY

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Bodies larger than this are parsed in a worker thread: the parser's callbacks let the event
# loop's thread take its turn, so other requests go on meanwhile.
PARSE_IN_THREAD_BYTES = 64 * 1024
# Integers and other numbers in a JSON body: at most this many characters. The largest number
# any route takes is a 20-digit record id; 100 leaves room and keeps int() instant.
MAX_JSON_NUMBER_CHARS = 100
CSP_HTML = "frame-ancestors 'none'"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HTTP1 = frozenset({"1.0", "1.1"})


class JSONBodyError(ValueError):
    """A body that is not strict JSON; the message says what and, where known, where."""


def _reject_constant(name: str) -> Any:
    raise JSONBodyError(f"{name} is not a JSON number (JSON has no NaN or Infinity)")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_NUMBER_CHARS:
        raise JSONBodyError(
            f"an integer of {len(text.lstrip('-'))} digits; numbers may have at most "
            f"{MAX_JSON_NUMBER_CHARS}"
        )
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_JSON_NUMBER_CHARS:
        raise JSONBodyError(
            f"a number of {len(text)} characters; numbers may have at most {MAX_JSON_NUMBER_CHARS}"
        )
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise JSONBodyError(f"the number {text[:40]} is too large to hold")
    return value


def strict_json_loads(body: bytes) -> Any:
    """`json.loads` refusing NaN/Infinity, over-long numbers and overflowing floats.

    Raises JSONBodyError with a message fit for the caller."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONBodyError(
            f"body is not valid UTF-8: byte {exc.start} (0x{body[exc.start]:02x})"
        ) from None
    try:
        return json.loads(
            text,
            parse_constant=_reject_constant,
            parse_int=_bounded_int,
            parse_float=_bounded_float,
        )
    except json.JSONDecodeError as exc:
        raise JSONBodyError(
            f"body is not valid JSON: line {exc.lineno}, column {exc.colno} ({exc.msg})"
        ) from None
    except JSONBodyError as exc:
        raise JSONBodyError(f"body is not acceptable JSON: {exc}") from None
    except (ValueError, RecursionError) as exc:  # e.g. nesting too deep
        raise JSONBodyError(f"body is not acceptable JSON: {type(exc).__name__}") from None


def error_body(code: str, message: str, **extra: Any) -> bytes:
    return json.dumps({"ok": False, "error": {"code": code, "message": message, **extra}}).encode()


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: Iterable[tuple[bytes, bytes]] = (),
    **extra: Any,
) -> None:
    payload = error_body(code, message, **extra)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def with_security_headers(send: Send) -> Send:
    """`send` adding the security headers to the response start."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers") or []
            nosniff = csp = frame = cache = False
            content_type = ""
            for name, value in headers:  # one pass; names may come in any case
                name = name.lower()
                if name == b"content-type":
                    content_type = value.decode("latin-1").lower()
                elif name == b"x-content-type-options":
                    nosniff = True
                elif name == b"content-security-policy":
                    csp = True
                elif name == b"x-frame-options":
                    frame = True
                elif name == b"cache-control":
                    cache = True
            add: list[tuple[bytes, bytes]] = []
            if not nosniff:
                add.append((b"x-content-type-options", b"nosniff"))
            html = content_type.startswith("text/html")
            if html:
                if not csp:
                    add.append((b"content-security-policy", CSP_HTML.encode()))
                if not frame:
                    add.append((b"x-frame-options", b"DENY"))
            if not cache and (html or "json" in content_type):
                add.append((b"cache-control", b"no-store"))
            if add:
                message = {**message, "headers": [*headers, *add]}
        await send(message)

    return wrapped


class BodyTooLarge(Exception):
    pass


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, refusing (BodyTooLarge) as soon as it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        if chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` giving `body` once, then whatever the server sends (a disconnect)."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def _is_json(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "" or kind == "application/json" or kind.endswith("+json")


def under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


class RequestGuard:
    """The ASGI middleware doing all of the above; see the module's docstring.

    `authenticated(method, path)` says whether a plugin route needs an authenticated caller
    (those get the key check before, and the strict parse of, their body; a route that
    authenticates its caller another way — a webhook's signature — gets its bytes as they
    came), `unavailable(path)` the (plugin, reason) of a path served by a plugin that is not
    running, `authenticate(scope,
    receive)` raises Unauthorized for a caller without a valid key or session (CrossSiteRefused
    for a session's state-changing request from another site)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        authenticated: Callable[[str, str], bool],
        unavailable: Callable[[str], tuple[str, str] | None],
        authenticate: Callable[[Scope, Receive], Awaitable[Any]],
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.authenticated = authenticated
        self.unavailable = unavailable
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = with_security_headers(send)
        path: str = scope.get("path", "")
        down = self.unavailable(path)
        if down is not None:
            plugin, reason = down
            await send_error(
                send,
                503,
                "plugin_unavailable",
                f"The {plugin!r} integration is not running: {reason}",
                details={"plugin": plugin, "reason": reason},
            )
            return
        declared = framing = content_type = ""
        for raw_name, value in scope["headers"]:
            name = raw_name.lower()
            if name == b"content-length":
                declared = value.decode("latin-1").strip()
            elif name == b"transfer-encoding":
                framing = value.decode("latin-1")
            elif name == b"content-type":
                content_type = value.decode("latin-1")
        if not declared and not framing and scope.get("http_version") in HTTP1:
            # HTTP/1.x frames a request body only by Content-Length or Transfer-Encoding: with
            # neither there is none, so nothing is read or replayed (most GETs).
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        if declared.isdigit() and int(declared) > limit:
            await self._too_large(send)
            return
        try:
            body = await read_body(receive, limit)
        except BodyTooLarge:
            await self._too_large(send)
            return
        receive = replay(body, receive)
        if body and self.authenticated(scope.get("method", "GET"), path):
            try:
                await self.authenticate(scope, receive)
            except Unauthorized as exc:
                await send_error(
                    send, 401, "unauthorized", exc.message, [(b"www-authenticate", b"Bearer")]
                )
                return
            except CrossSiteRefused as exc:  # a session cookie sent by another site's page
                await send_error(send, 403, "cross_site_refused", exc.message)
                return
            if _is_json(content_type):
                try:
                    scope[JSON_BODY_SCOPE_KEY] = (
                        await asyncio.to_thread(strict_json_loads, body)
                        if len(body) > PARSE_IN_THREAD_BYTES
                        else strict_json_loads(body)
                    )
                except JSONBodyError as exc:
                    await send_error(
                        send,
                        422,
                        "invalid_input",
                        str(exc),
                        errors=[{"field": "body", "message": str(exc)}],
                    )
                    return
        await self.app(scope, receive, send)

    async def _too_large(self, send: Send) -> None:
        await send_error(
            send,
            413,
            "body_too_large",
            f"The request body is larger than {self.max_body_bytes} bytes (ATOM_MAX_BODY_BYTES).",
            details={"max_body_bytes": self.max_body_bytes},
        )
