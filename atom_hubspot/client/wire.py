"""How `HubSpotHTTP`'s requests travel: two wires behind one small interface.

- `HttpxWire`: an `httpx.AsyncClient` over any transport: the sandbox in-process, recorded
  conversations, tests' fakes, and httpx's own connection pool where aiohttp is not installed
  or an HTTP proxy is configured.
- `AiohttpWire`: aiohttp's connection pool, for real HTTP when aiohttp is installed (the `api`
  extra, which `serve` needs anyway). httpx's client spends most of a live read's CPU in the
  host: building the request and its URL, then httpcore's pool on anyio (`python -m
  bench.serving --only live`; README, Benchmarks, "Where a request's time went").

Both take the same call (method, path under the API base URL, params, a JSON or form body,
headers), put the same request on the wire (`tests/client/test_wire.py` sends generated calls
through both to one server and compares what it received) and answer with an `httpx.Response`.
Both raise httpx's exception classes, so `HubSpotHTTP._exchange` alone decides whether a
request may have reached HubSpot. aiohttp's failures map so that "nothing was sent" is only
said when it is certain:

| aiohttp | httpx | sent? |
|---|---|---|
| `ClientConnectorError` (DNS, refused, TLS handshake) | `ConnectError` | no |
| `ConnectionTimeoutError` (no pooled or new connection in time) | `ConnectTimeout` | no |
| `SocketTimeoutError`, other `ServerTimeoutError` | `ReadTimeout` | maybe |
| `ServerDisconnectedError`, `ClientPayloadError`, bad HTTP | `RemoteProtocolError` | maybe |
| `ClientOSError`, any other `ClientError` | `ReadError` | maybe |

(A keep-alive connection the server closed just as a request went out reads as "maybe": a
create on it is reported as an unknown outcome rather than sent twice.)
"""

from __future__ import annotations

import asyncio
import importlib.util
import json as _json
import os
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import httpx

if TYPE_CHECKING:
    import aiohttp

Params = Mapping[str, Any] | list[tuple[str, Any]] | None

# What httpx decodes without optional packages; both wires ask for it, httpx decodes it.
ACCEPT_ENCODING = "gzip, deflate"
# Environment variables httpx honours (trust_env) and AiohttpWire would not: with any of them
# set, the httpx wire carries the calls through the proxy they name.
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


class Wire(Protocol):
    name: str

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params,
        json: Any,
        data: Mapping[str, str] | None,
        headers: dict[str, str],
    ) -> httpx.Response: ...

    async def fetch(self, url: str) -> httpx.Response:
        """GET an absolute URL HubSpot handed out (a journal file): no bearer, no params."""
        ...

    async def aclose(self) -> None: ...


class HttpxWire:
    """httpx's client: any `httpx.AsyncBaseTransport`, or its own pool when none is given."""

    name = "httpx"

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None,
        timeout: httpx.Timeout,
        headers: Mapping[str, str],
        max_connections: int,
    ) -> None:
        from http.cookiejar import CookieJar, DefaultCookiePolicy

        self.client = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            timeout=timeout,
            headers={**headers, "Accept-Encoding": ACCEPT_ENCODING},
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=20),
            follow_redirects=False,
            # One client serves every tenant's calls: a cookie HubSpot's edge sets on one
            # answer must not ride along on another tenant's requests, so none is kept.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params,
        json: Any,
        data: Mapping[str, str] | None,
        headers: dict[str, str],
    ) -> httpx.Response:
        return await self.client.request(
            method, path, params=params, json=json, data=data, headers=headers
        )

    async def fetch(self, url: str) -> httpx.Response:
        return await self.client.get(url)

    async def aclose(self) -> None:
        await self.client.aclose()


def with_query(url: str, params: Params) -> str:
    """`url` with the query httpx would send for `params` (values: str, int, float, bool,
    None, or a list of those for a repeated key). A bare `?` (params that encode to nothing)
    is dropped by yarl on the way out."""
    return url + "?" + str(httpx.QueryParams(params)) if params else url


def json_body(value: Any) -> bytes:
    """A JSON body as httpx encodes one (compact, UTF-8, NaN refused)."""
    return _json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def form_body(data: Mapping[str, Any]) -> bytes:
    """A form body as httpx encodes one (lists repeat the key; true/false; None is empty):
    the same encoding as its query strings."""
    return str(httpx.QueryParams(data)).encode()


class AiohttpWire:
    """aiohttp's pool: HTTP/1.1 keep-alive, no cookies kept, no redirects followed, no
    proxy from the environment, certificates checked against certifi's bundle as httpx does.

    The session belongs to the event loop that first sends; a call from another loop (a
    test's, a CLI command's) opens a session of its own there."""

    name = "aiohttp"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: httpx.Timeout,
        headers: Mapping[str, str],
        max_connections: int,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._headers = {**headers, "Accept-Encoding": ACCEPT_ENCODING}
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _open(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is not None and self._loop is loop and not self._session.closed:
            return self._session
        import aiohttp
        import certifi

        if self._session is not None and self._loop is not loop:
            # Its connections belong to a loop that is gone or elsewhere: leave them to it.
            self._session.detach()
        t = self._timeout
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self._max_connections,
                limit_per_host=0,
                keepalive_timeout=5.0,  # httpx's keep-alive expiry
                ssl=ssl.create_default_context(cafile=certifi.where()),
            ),
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=t.pool,  # waiting for a pooled connection, or opening one
                sock_connect=t.connect,
                sock_read=t.read,
            ),
            headers=self._headers,
            # aiohttp would label a POST without a body application/octet-stream; httpx
            # sends no Content-Type then, and every body here sets its own.
            skip_auto_headers=("Content-Type",),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,  # httpx.Response decodes, as on the httpx wire
            trust_env=False,
            raise_for_status=False,
        )
        # aiohttp sends a GET, PUT or DELETE once more on a fresh connection when the first
        # connection drops (RFC 9112 §9.3.1). HubSpotHTTP has its own retry policy (counted
        # against the rate budget, backed off, logged), so that second send is switched off;
        # tests/client/test_wire.py counts the sends and catches an aiohttp that renames it.
        self._session._retry_connection = False
        self._loop = loop
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params,
        json: Any,
        data: Mapping[str, str] | None,
        headers: dict[str, str],
    ) -> httpx.Response:
        url = with_query(self.base_url + path, params)
        body: bytes | None = None
        if json is not None:
            body = json_body(json)
            headers.setdefault("Content-Type", "application/json")
        elif data:  # httpx sends no body for an empty form
            body = form_body(data)
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return await self._send(method, url, body, headers)

    async def fetch(self, url: str) -> httpx.Response:
        return await self._send("GET", url, None, {})

    async def _send(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> httpx.Response:
        import aiohttp
        from yarl import URL

        session = self._open()
        try:
            # encoded=True: the URL goes out as built (ids are quoted in paths.py, the query
            # by httpx's rules), and a signed link HubSpot handed out stays byte for byte.
            async with session.request(
                method, URL(url, encoded=True), data=body, headers=headers, allow_redirects=False
            ) as response:
                content = await response.read()
                return httpx.Response(
                    response.status, headers=response.raw_headers, content=content
                )
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(_what(exc)) from None
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(_what(exc)) from None
        except aiohttp.ServerTimeoutError as exc:
            raise httpx.ReadTimeout(_what(exc)) from None
        except (
            aiohttp.ServerDisconnectedError,
            aiohttp.ClientPayloadError,
            aiohttp.ClientResponseError,
        ) as exc:
            raise httpx.RemoteProtocolError(_what(exc)) from None
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(_what(exc)) from None

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            await session.close()
        else:
            session.detach()


def _what(exc: BaseException) -> str:
    # The class only: aiohttp's messages name the URL, which may carry an email.
    return type(exc).__name__


def aiohttp_installed() -> bool:
    return importlib.util.find_spec("aiohttp") is not None


def proxy_configured(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return any(env.get(v) or env.get(v.lower()) for v in PROXY_VARIABLES)


def make_wire(
    base_url: str,
    *,
    transport: httpx.AsyncBaseTransport | None,
    timeout: httpx.Timeout,
    headers: Mapping[str, str],
    max_connections: int = 50,
) -> Wire:
    """aiohttp's wire for real HTTP when it can carry the calls; httpx's otherwise."""
    if transport is None and aiohttp_installed() and not proxy_configured():
        return AiohttpWire(
            base_url, timeout=timeout, headers=headers, max_connections=max_connections
        )
    return HttpxWire(
        base_url,
        transport=transport,
        timeout=timeout,
        headers=headers,
        max_connections=max_connections,
    )
