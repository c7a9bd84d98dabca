"""The two wires against one real HTTP server: the same request on the wire for generated
calls, the same answer read back, and each way a connection can fail mapped to the same
outcome (a create is sent again only when it cannot have been sent)."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import h11
import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from atom_hubspot.client import HubSpotClient, HubSpotHTTP, RateLimitGovernor, StaticToken
from atom_hubspot.client.http import DEFAULT_HEADERS
from atom_hubspot.client.wire import AiohttpWire, HttpxWire, Wire, make_wire
from atom_hubspot.errors import OutcomeUnknown, Unavailable
from tests.client.fakes import settings

pytest.importorskip("aiohttp")

Reply = Callable[[h11.Request, bytes], Awaitable[bytes | None]]


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    """An HTTP/1.1 server on a real socket: records each request, answers with `reply`
    (raw bytes; None closes the connection without a word)."""

    reply: Reply
    seen: list[Seen] = field(default_factory=list)
    server: asyncio.Server | None = None
    handlers: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def start(self) -> Server:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for task in list(self.handlers):
            task.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request, body = None, b""
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        data = await reader.read(65536)
                        if not data:
                            return
                        conn.receive_data(data)
                    elif isinstance(event, h11.Request):
                        request = event
                    elif isinstance(event, h11.Data):
                        body += bytes(event.data)
                    elif isinstance(event, h11.EndOfMessage):
                        break
                    else:
                        return
                assert request is not None
                self.seen.append(
                    Seen(
                        request.method.decode(),
                        request.target.decode(),
                        {k.decode(): v.decode() for k, v in request.headers},
                        body,
                    )
                )
                raw = await self.reply(request, body)
                if raw is None:
                    return
                writer.write(raw)
                await writer.drain()
                if b"connection: close" in raw.lower():
                    return
                # Raw answers bypass h11's server state: start the next request afresh.
                conn = h11.Connection(h11.SERVER)
        except (ConnectionError, h11.RemoteProtocolError):
            return
        finally:
            writer.close()
            self.handlers.discard(task)


def answer(
    status: int = 200, body: bytes = b"{}", headers: list[tuple[str, str]] | None = None
) -> bytes:
    head = [f"HTTP/1.1 {status} X"]
    names = {k.lower() for k, _ in headers or []}
    if "content-length" not in names and "transfer-encoding" not in names:
        head.append(f"content-length: {len(body)}")
    head += [f"{k}: {v}" for k, v in headers or []]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def ok(request: h11.Request, body: bytes) -> bytes:
    return answer(200, b'{"ok":true}', [("content-type", "application/json")])


def wires(base_url: str, **timeouts: float) -> list[Wire]:
    t = httpx.Timeout(
        connect=timeouts.get("connect", 5.0),
        read=timeouts.get("read", 5.0),
        write=timeouts.get("read", 5.0),
        pool=timeouts.get("pool", 5.0),
    )
    common: dict[str, Any] = {"timeout": t, "headers": DEFAULT_HEADERS, "max_connections": 10}
    return [
        HttpxWire(base_url, transport=None, **common),
        AiohttpWire(base_url, **common),
    ]


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


# ------------------------------------------------------------------ the same request

TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    max_size=12,
)
SCALAR = st.one_of(TEXT, st.integers(-(10**12), 10**12), st.booleans(), st.none())
PARAMS = st.one_of(
    st.none(),
    st.dictionaries(TEXT, st.one_of(SCALAR, st.lists(SCALAR, max_size=3)), max_size=4),
    st.lists(st.tuples(TEXT, SCALAR), max_size=4),
)
JSONV = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        TEXT,
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
BODY = st.one_of(
    st.tuples(st.just("none"), st.none()),
    st.tuples(st.just("json"), JSONV),
    st.tuples(st.just("form"), st.dictionaries(TEXT, TEXT, max_size=4)),
)


@st.composite
def calls(draw: st.DrawFn) -> dict[str, Any]:
    segments = draw(st.lists(TEXT.filter(bool), min_size=1, max_size=3))
    kind, body = draw(BODY)
    headers = {
        "Authorization": "Bearer " + draw(st.from_regex(r"[A-Za-z0-9-]{1,20}", fullmatch=True))
    }
    return {
        "method": draw(st.sampled_from(["GET", "POST", "PATCH", "PUT", "DELETE"])),
        "path": "/crm/objects/2026-03/" + "/".join(quote(s, safe="") for s in segments),
        "params": draw(PARAMS),
        "json": body if kind == "json" else None,
        "data": body if kind == "form" else None,
        "headers": headers,
    }


def test_both_wires_put_the_same_request_on_the_wire(loop: asyncio.AbstractEventLoop) -> None:
    server = loop.run_until_complete(Server(ok).start())
    pair = wires(server.url + "/base")
    try:

        @hsettings(
            max_examples=120,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(call=calls())
        def check(call: dict[str, Any]) -> None:
            if call["json"] is not None and call["method"] == "GET":
                call["method"] = "POST"
            got = []
            for wire in pair:
                server.seen.clear()
                response = loop.run_until_complete(
                    wire.request(**{**call, "headers": dict(call["headers"])})
                )
                assert response.status_code == 200 and response.json() == {"ok": True}
                (seen,) = server.seen
                got.append(seen)
            httpx_side, aiohttp_side = got
            assert aiohttp_side.method == httpx_side.method
            # Params that encode to nothing ({"properties": []}): httpx ends the URL with a
            # bare `?`, yarl drops it; the same resource either way.
            assert aiohttp_side.target == httpx_side.target.removesuffix("?")
            assert aiohttp_side.body == httpx_side.body
            for name in (
                "host",
                "user-agent",
                "accept",
                "accept-encoding",
                "authorization",
                "content-type",
            ):
                assert aiohttp_side.headers.get(name) == httpx_side.headers.get(name), name
            # An empty body: aiohttp says `Content-Length: 0` on a GET or DELETE, httpx says
            # nothing; both mean the same.
            assert aiohttp_side.headers.get("content-length", "0") == httpx_side.headers.get(
                "content-length", "0"
            )
            assert "cookie" not in aiohttp_side.headers

        check()
    finally:
        for wire in pair:
            loop.run_until_complete(wire.aclose())
        loop.run_until_complete(server.close())


# ------------------------------------------------------------------ the same answer


async def varied(request: h11.Request, body: bytes) -> bytes:
    target = request.target.decode()
    if target.endswith("/gzip"):
        data = gzip.compress(b'{"zipped":true}')
        return answer(
            200, data, [("content-encoding", "gzip"), ("content-type", "application/json")]
        )
    if target.endswith("/chunked"):
        chunks = b'5\r\n{"a":\r\n3\r\n12}\r\n0\r\n\r\n'
        return answer(200, chunks, [("transfer-encoding", "chunked")])
    if target.endswith("/cookie"):
        return answer(200, b"{}", [("set-cookie", "edge=tenant-a; Path=/")])
    if target.endswith("/redirect"):
        return answer(302, b"", [("location", "/elsewhere")])
    if target.endswith("/limited"):
        return answer(
            429,
            b'{"status":"error","policyName":"TEN_SECONDLY_ROLLING"}',
            [("x-hubspot-ratelimit-remaining", "0"), ("retry-after", "1")],
        )
    if target.endswith("/empty"):
        return answer(204, b"")
    return answer(200, b"{}")


def test_both_wires_read_the_same_answers(loop: asyncio.AbstractEventLoop) -> None:
    async def run() -> None:
        server = await Server(varied).start()
        pair = wires(server.url)
        try:
            for path in ("/gzip", "/chunked", "/redirect", "/limited", "/empty"):
                answers = []
                for wire in pair:
                    r = await wire.request(
                        "GET", path, params=None, json=None, data=None, headers={}
                    )
                    answers.append((r.status_code, r.content, r.headers.get("retry-after")))
                assert answers[0] == answers[1], path
            assert answers[0][0] == 204
            # A cookie set on one answer never rides along on the next request.
            for wire in pair:
                await wire.request("GET", "/cookie", params=None, json=None, data=None, headers={})
                await wire.request("GET", "/next", params=None, json=None, data=None, headers={})
                assert "cookie" not in server.seen[-1].headers
            # A link HubSpot hands out (a journal file, signed) goes out byte for byte.
            link = "/files/2026%2F12/e.json?X-Amz-Signature=ab%2Bc%3D%3D&X-Amz-Expires=300"
            for wire in pair:
                r = await wire.fetch(server.url + link)
                assert r.status_code == 200 and "authorization" not in server.seen[-1].headers
                assert server.seen[-1].target == link
            # A redirect is handed back, not followed.
            assert not any(s.target == "/elsewhere" for s in server.seen)
            assert json.loads(
                (
                    await pair[1].request(
                        "GET", "/gzip", params=None, json=None, data=None, headers={}
                    )
                ).content
            ) == {"zipped": True}
        finally:
            for wire in pair:
                await wire.aclose()
            await server.close()

    loop.run_until_complete(run())


# ------------------------------------------------------------------ failures


async def slam(request: h11.Request, body: bytes) -> bytes | None:
    return None  # read the request, close without an answer


async def hang(request: h11.Request, body: bytes) -> bytes | None:
    await asyncio.sleep(30)
    return None


async def short_body(request: h11.Request, body: bytes) -> bytes | None:
    return b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\nconnection: close\r\n\r\n{"half":'


async def garbage(request: h11.Request, body: bytes) -> bytes | None:
    return b"HELLO THERE\r\n\r\nconnection: close\r\n"


async def nosleep(_: float) -> None:
    return None


FAILURES: dict[str, tuple[Reply | None, type[Exception], type[Exception], int]] = {
    # name: (server behaviour or None for a closed port, a read's error, a create's error,
    #        how many times the create reached the server)
    "refused": (None, Unavailable, Unavailable, 0),
    "closed without an answer": (slam, Unavailable, OutcomeUnknown, 1),
    "no answer in the read timeout": (hang, Unavailable, OutcomeUnknown, 1),
    "answer cut short": (short_body, Unavailable, OutcomeUnknown, 1),
    "not HTTP": (garbage, Unavailable, OutcomeUnknown, 1),
}


@pytest.mark.parametrize("wire_name", ["httpx", "aiohttp"])
@pytest.mark.parametrize("failure", list(FAILURES))
def test_each_failure_means_the_same_on_both_wires(
    loop: asyncio.AbstractEventLoop, failure: str, wire_name: str
) -> None:
    behaviour, read_error, create_error, create_sends = FAILURES[failure]

    async def run() -> None:
        server = await Server(behaviour or ok).start()
        url = server.url
        if behaviour is None:
            await server.close()  # nothing listens on the port any more
        s = settings(
            HUBSPOT_API_BASE_URL=url,
            HUBSPOT_READ_TIMEOUT="0.3",
            HUBSPOT_TOTAL_TIMEOUT="5",
            HUBSPOT_RETRY_MAX_ATTEMPTS="3",
        )
        (wire,) = [w for w in wires(url, read=0.3) if w.name == wire_name]
        http = HubSpotHTTP(
            s, wire=wire, governor=RateLimitGovernor(requests_per_10s=1000), sleep=nosleep
        )
        client = HubSpotClient(http, StaticToken("t"), portal_id=1)
        try:
            with pytest.raises(read_error) as read:
                await client.contacts.get(1)
            assert "t" != str(read.value) and "Bearer" not in str(read.value)
            reads_seen = len(server.seen)
            # A read is tried again whenever it fails (it changes nothing).
            assert reads_seen == (0 if behaviour is None else 3)
            assert http.calls == 3
            server.seen.clear()
            before = http.calls
            with pytest.raises(create_error):
                await client.contacts.create({"email": "ada@example.com"})
            assert len(server.seen) == create_sends
            # Sent again only when it cannot have reached the server.
            assert http.calls - before == (3 if create_sends == 0 else 1)
        finally:
            await http.aclose()
            if behaviour is not None:
                await server.close()

    loop.run_until_complete(run())


def test_real_http_takes_aiohttp_and_transports_take_httpx(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t = httpx.Timeout(5.0)
    assert make_wire("http://x", transport=None, timeout=t, headers={}).name == "aiohttp"
    mock = httpx.MockTransport(lambda r: httpx.Response(200))
    assert make_wire("http://x", transport=mock, timeout=t, headers={}).name == "httpx"
    # An HTTP proxy in the environment: httpx honours it, so httpx carries the calls.
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert make_wire("http://x", transport=None, timeout=t, headers={}).name == "httpx"


# ------------------------------------------------------------------ TLS


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no trust store knows."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_an_untrusted_certificate_is_refused_before_the_token_goes_out(
    loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    """A server whose certificate no trust store knows (a man in the middle): both wires
    refuse at the handshake, as a connection failure (nothing sent), and the server never
    reads a byte of the request, so never the bearer token."""
    import ssl

    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    received: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            data = await reader.read(65536)
            if data:
                received.append(data)
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def run() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
        port = server.sockets[0].getsockname()[1]
        try:
            for wire in wires(f"https://127.0.0.1:{port}"):
                with pytest.raises(httpx.ConnectError):
                    await wire.request(
                        "GET",
                        "/crm/objects/2026-03/contacts/1",
                        params=None,
                        json=None,
                        data=None,
                        headers={"Authorization": "Bearer pat-na1-SECRET"},
                    )
                await wire.aclose()
        finally:
            server.close()
            await server.wait_closed()
        assert received == []

    loop.run_until_complete(run())
