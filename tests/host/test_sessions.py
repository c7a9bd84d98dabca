"""Browser sessions: sign in with an API key, the cookie's flags, the same Principal reaching a
plugin route, sign-out for every process, and cross-site requests refused."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from atom_host_stub.app import create_app
from atom_host_stub.config import HostSettings
from atom_host_stub.contract import Principal
from atom_host_stub.sessions import (
    COOKIE_NAME,
    REVOKED_DIR,
    RevocationRecords,
    SessionAuthority,
    cross_site_refusal,
    load_or_create_secret,
)
from atom_host_stub.sign_in import safe_next
from tests.host.conftest import API_KEY, HostFactory, serving
from tests.host.fake_plugins import good

SAME_ORIGIN = {"sec-fetch-site": "same-origin"}


async def sign_in(client: httpx.AsyncClient, key: str = API_KEY, **form: str) -> httpx.Response:
    return await client.post(
        "/sign-in", data={"api_key": key, **form}, headers={"sec-fetch-site": "same-origin"}
    )


def with_cookie(app: object, token: str) -> httpx.AsyncClient:
    """A client of its own (another tab, another machine) holding only this cookie."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://host.test",
        cookies={COOKIE_NAME: token},
    )


def cookie_header(answer: httpx.Response) -> str:
    headers = answer.headers.get_list("set-cookie")
    [cookie] = [h for h in headers if h.startswith(f"{COOKIE_NAME}=")]
    return cookie


async def test_sign_in_sets_an_httponly_lax_cookie_and_the_principal_reaches_a_plugin(
    make_host: HostFactory,
) -> None:
    app = create_app(make_host("good"))
    async with serving(app) as client:
        page = await client.get("/sign-in")
        assert page.status_code == 200 and 'name="api_key"' in page.text
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]

        answer = await sign_in(client, next="/api/good/whoami")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/api/good/whoami"
        flags = [part.strip().lower() for part in cookie_header(answer).split(";")]
        assert "httponly" in flags
        assert "samesite=lax" in flags
        assert "path=/" in flags
        assert "secure" not in flags  # plain http and no setting: a Secure cookie would be lost
        assert API_KEY not in cookie_header(answer)

        before = good.HANDLER_CALLS["whoami"]
        who = await client.get("/api/good/whoami")  # the cookie, no Authorization header
        assert who.status_code == 200
        assert who.json() == {"tenant": "tenant-a", "user": "user-1"}
        assert good.HANDLER_CALLS["whoami"] == before + 1
        signed_in = await client.get("/sign-in")
        assert "user-1" in signed_in.text and "tenant-a" in signed_in.text


@pytest.mark.parametrize(
    "case", ["https-request", "setting", "https-public-url"], ids=lambda c: str(c)
)
async def test_cookie_is_secure_on_https_or_when_configured(
    make_host: HostFactory, case: str
) -> None:
    env = {
        "https-request": {},
        "setting": {"ATOM_SESSION_COOKIE_SECURE": "1"},
        "https-public-url": {"ATOM_PUBLIC_URL": "https://atom.example"},
    }[case]
    app = create_app(make_host("good", **env))
    base = "https://host.test" if case == "https-request" else "http://host.test"
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base) as client:
            answer = await sign_in(client)
    assert "secure" in [p.strip().lower() for p in cookie_header(answer).split(";")]


async def test_a_wrong_key_gets_no_cookie(make_host: HostFactory) -> None:
    app = create_app(make_host("good"))
    async with serving(app) as client:
        for key in ("wrong-key-0123456789", "", API_KEY + "x"):
            answer = await sign_in(client, key)
            assert answer.status_code == 401
            assert "not valid" in answer.text
            assert not answer.headers.get_list("set-cookie")
        assert (await client.get("/api/good/whoami")).status_code == 401


async def test_sign_out_ends_the_session_even_for_a_copied_cookie(
    make_host: HostFactory, tmp_path: Path
) -> None:
    host = make_host("good")
    app = create_app(host)
    async with serving(app) as client:
        await sign_in(client)
        token = client.cookies[COOKIE_NAME]
        out = await client.post("/sign-out", headers=SAME_ORIGIN)
        assert out.status_code == 303 and out.headers["location"] == "/sign-in"
        assert COOKIE_NAME not in client.cookies
        # The same cookie replayed (another tab, a copy, another worker process) is dead.
        async with with_cookie(app, token) as copy:
            replay = await copy.get("/api/good/whoami")
        assert replay.status_code == 401
        assert "sign in again" in replay.json()["error"]["message"]
    # Another process with the same data directory and secret sees the revocation record.
    other = create_app(make_host("good"))
    async with serving(other), with_cookie(other, token) as copy:
        assert (await copy.get("/api/good/whoami")).status_code == 401
    assert len(list((host.settings.data_dir / REVOKED_DIR).iterdir())) == 1


async def test_a_session_survives_into_another_worker_process(make_host: HostFactory) -> None:
    first, second = create_app(make_host("good")), create_app(make_host("good"))
    async with serving(first) as client:
        await sign_in(client)
        token = client.cookies[COOKIE_NAME]
    async with serving(second), with_cookie(second, token) as copy:
        who = await copy.get("/api/good/whoami")
        assert who.json() == {"tenant": "tenant-a", "user": "user-1"}


async def test_removing_the_key_from_the_configuration_ends_its_sessions(
    make_host: HostFactory,
) -> None:
    async with serving(create_app(make_host("good"))) as client:
        await sign_in(client)
        token = client.cookies[COOKIE_NAME]
    other_key = "another-key-0123456789"
    app = create_app(make_host("good", ATOM_API_KEYS=f"{other_key}:tenant-a:user-1"))
    async with serving(app), with_cookie(app, token) as copy:
        assert (await copy.get("/api/good/whoami")).status_code == 401


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"sec-fetch-site": "same-origin"}, True),
        ({"sec-fetch-site": "none"}, True),
        ({"sec-fetch-site": "cross-site"}, False),
        ({"sec-fetch-site": "same-site"}, False),
        ({"origin": "http://host.test"}, True),
        ({"origin": "https://evil.example"}, False),
        ({"origin": "null"}, False),
        ({}, True),  # neither header: not a browser (SameSite=Lax keeps the cookie off anyway)
    ],
)
async def test_state_changing_session_requests_from_other_sites_are_refused(
    make_host: HostFactory, headers: dict[str, str], allowed: bool
) -> None:
    app = create_app(make_host("good"))
    async with serving(app) as client:
        await sign_in(client)
        before = good.HANDLER_CALLS["whoami"]
        answer = await client.post("/api/good/whoami", headers=headers)
        if allowed:
            assert answer.status_code == 200, answer.text
            assert good.HANDLER_CALLS["whoami"] == before + 1
        else:
            assert answer.status_code == 403
            assert answer.json()["error"]["code"] == "cross_site_refused"
            assert good.HANDLER_CALLS["whoami"] == before  # no plugin code ran
        # Reads are never refused, and bearer-key writes are never checked.
        assert (await client.get("/api/good/whoami", headers=headers)).status_code == 200
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://host.test"
        ) as api_client:
            bearer = await api_client.post(
                "/api/good/whoami", headers={**headers, "Authorization": f"Bearer {API_KEY}"}
            )
        assert bearer.status_code == 200


async def test_sign_in_and_sign_out_refuse_cross_site_posts(make_host: HostFactory) -> None:
    async with serving(create_app(make_host("good"))) as client:
        forced = await client.post(
            "/sign-in", data={"api_key": API_KEY}, headers={"sec-fetch-site": "cross-site"}
        )
        assert forced.status_code == 403 and not forced.headers.get_list("set-cookie")
        await sign_in(client)
        kept = await client.post("/sign-out", headers={"origin": "https://evil.example"})
        assert kept.status_code == 403
        assert (await client.get("/api/good/whoami")).status_code == 200


def test_next_is_only_ever_a_path_on_this_host() -> None:
    assert safe_next("/auth/hubspot/callback?code=c&state=s") == (
        "/auth/hubspot/callback?code=c&state=s"
    )
    for hostile in (
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
        "",
        None,
        "javascript:alert(1)",
        "/ok\r\nSet-Cookie: x=1",
    ):
        assert safe_next(hostile) == "/"


def test_tokens_are_signed_expiring_and_checked_against_the_configured_keys(
    tmp_path: Path,
) -> None:
    now = [1_800_000_000.0]
    alice = Principal(tenant_id="t1", user_id="alice")
    records = RevocationRecords(tmp_path / "revoked", clock=lambda: now[0])
    authority = SessionAuthority(
        b"s" * 32, {"key-alice": alice}, records, max_age_s=60, clock=lambda: now[0]
    )
    token = authority.issue("key-alice", alice).token
    assert authority.principal_for(token) == alice
    payload, _, mac = token.partition(".")
    assert authority.principal_for(payload + "." + mac[:-2] + "AA") is None  # forged MAC
    assert authority.principal_for(token + "x") is None
    assert authority.principal_for("garbage") is None
    other_secret = SessionAuthority(b"t" * 32, {"key-alice": alice}, records)
    assert other_secret.principal_for(token) is None
    now[0] += 61
    assert authority.principal_for(token) is None  # expired
    # A revocation record goes once the session it revoked would have expired anyway.
    now[0] -= 61
    assert authority.revoke(token)
    assert authority.principal_for(token) is None
    now[0] += 120
    authority.revoke(authority.issue("key-alice", alice).token)
    assert len(os.listdir(tmp_path / "revoked")) == 1


def test_the_generated_secret_is_shared_and_private(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path, None)
    assert load_or_create_secret(tmp_path, None) == first
    assert len(first) >= 32
    assert (tmp_path / "session-secret").stat().st_mode & 0o777 == 0o600
    assert load_or_create_secret(tmp_path, "configured-" * 4) == b"configured-" * 4


def test_a_short_session_secret_is_a_config_error() -> None:
    settings = HostSettings.from_env({"ATOM_SESSION_SECRET": "tiny-secret-x"})
    [issue] = [i for i in settings.validate() if i.key == "ATOM_SESSION_SECRET"]
    assert "32" in issue.message and "tiny-secret-x" not in issue.message


def test_cross_site_refusal_lets_safe_methods_through() -> None:
    hosts = frozenset({"host.test"})
    assert cross_site_refusal("GET", {"sec-fetch-site": "cross-site"}, hosts) is None
    assert cross_site_refusal("DELETE", {"sec-fetch-site": "cross-site"}, hosts)
    assert cross_site_refusal("PATCH", {"origin": "http://host.test"}, hosts) is None


async def test_a_browser_without_a_session_is_sent_to_sign_in_and_back(
    make_host: HostFactory,
) -> None:
    app = create_app(make_host("good"))
    async with serving(app) as client:
        page = {"accept": "text/html,application/xhtml+xml"}
        answer = await client.get("/api/good/whoami?x=1", headers=page)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/sign-in?next=%2Fapi%2Fgood%2Fwhoami%3Fx%3D1"
        # API clients still get the 401 envelope.
        assert (await client.get("/api/good/whoami")).status_code == 401
        signed = await sign_in(client, next="/api/good/whoami?x=1")
        assert signed.headers["location"] == "/api/good/whoami?x=1"
        assert (await client.get("/api/good/whoami?x=1", headers=page)).status_code == 200
