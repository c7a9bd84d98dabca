"""Limits (10-second window with headers, search per second without, daily budget) and
injected faults, set at start and through the admin endpoints — on a manual clock."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from atom_hubspot.sandbox import FaultConfig, ManualClock
from atom_hubspot.sandbox.core import Sandbox

from .conftest import assert_error_shape

LIST = "/crm/objects/2026-03/contacts"
SEARCH = "/crm/v3/objects/contacts/search"


async def test_ten_second_window_headers_and_429(
    api: httpx.AsyncClient, clock: ManualClock, client: httpx.AsyncClient
):
    await client.put("/_sandbox/limits", json={"requests_per_10s": 5})
    remaining = []
    for _ in range(5):
        r = await api.get(LIST, params={"limit": 1})
        assert r.status_code == 200
        assert r.headers["X-HubSpot-RateLimit-Max"] == "5"
        assert r.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        remaining.append(int(r.headers["X-HubSpot-RateLimit-Remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    r = await api.get(LIST)
    assert r.status_code == 429
    body = r.json()
    assert_error_shape(body)
    assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert "Retry-After" not in r.headers  # not promised by HubSpot
    assert "X-HubSpot-RateLimit-Daily" not in r.headers  # only for private apps
    clock.advance(9.9)
    assert (await api.get(LIST)).status_code == 429
    clock.advance(0.2)  # the first call has left the rolling window
    assert (await api.get(LIST)).status_code == 200


async def test_window_scales_for_benchmarks(
    api: httpx.AsyncClient, clock: ManualClock, client: httpx.AsyncClient
):
    await client.put("/_sandbox/limits", json={"requests_per_10s": 2, "window_s": 0.5})
    assert [(await api.get(LIST)).status_code for _ in range(3)] == [200, 200, 429]
    r = await api.get(LIST)
    clock.advance(0.51)
    r = await api.get(LIST)
    assert r.status_code == 200
    assert r.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "500"


async def test_search_limit_is_separate_and_headerless(api: httpx.AsyncClient, clock: ManualClock):
    codes = [(await api.post(SEARCH, json={"limit": 1})).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    r = await api.post(SEARCH, json={})
    assert r.json()["policyName"] == "SECONDLY"
    assert not [h for h in r.headers if h.lower().startswith("x-hubspot-ratelimit")]
    other = await api.get(LIST)  # the 10-second budget is untouched by search
    assert other.status_code == 200
    assert other.headers["X-HubSpot-RateLimit-Remaining"] == "109"
    clock.advance(1.0)
    assert (await api.post(SEARCH, json={})).status_code == 200


async def test_daily_budget_and_private_app_headers(
    client: httpx.AsyncClient, sandbox: Sandbox, clock: ManualClock
):
    token = (await client.post("/_sandbox/private-app-tokens", json={"portal_id": 1234567})).json()[
        "token"
    ]
    assert token.startswith("pat-")
    await client.put("/_sandbox/limits", json={"daily_limit": 3, "retry_after": True})
    h = {"Authorization": f"Bearer {token}"}
    first = await client.get(LIST, headers=h)
    assert first.headers["X-HubSpot-RateLimit-Daily"] == "3"
    assert first.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "2"
    await client.get(LIST, headers=h)
    await client.get(LIST, headers=h)
    r = await client.get(LIST, headers=h)
    assert r.status_code == 429 and r.json()["policyName"] == "DAILY"
    assert int(r.headers["Retry-After"]) > 0
    clock.advance(86_400)
    assert (await client.get(LIST, headers=h)).status_code == 200


async def test_limits_are_per_portal(client: httpx.AsyncClient, sandbox: Sandbox):
    await client.post("/_sandbox/portals", json={"portal_id": 555, "seed": False})
    a = sandbox.add_private_app_token(1234567)
    b = sandbox.add_private_app_token(555)
    await client.put("/_sandbox/limits", json={"requests_per_10s": 1})
    assert (await client.get(LIST, headers={"Authorization": f"Bearer {a}"})).status_code == 200
    assert (await client.get(LIST, headers={"Authorization": f"Bearer {a}"})).status_code == 429
    r = await client.get(LIST, headers={"Authorization": f"Bearer {b}"})
    assert r.status_code == 200 and r.json()["results"] == []  # portals do not share data


async def _faults(client: httpx.AsyncClient, **kw: Any) -> None:
    r = await client.put("/_sandbox/faults", json=kw)
    assert r.status_code == 200, r.text


async def test_scripted_5xx_answers(api: httpx.AsyncClient, client: httpx.AsyncClient):
    await _faults(client, script=["500", "502", "503"])
    r500, r502, r503 = [await api.get(LIST) for _ in range(3)]
    assert r500.status_code == 500 and r500.json()["category"] == "INTERNAL_ERROR"
    assert r502.status_code == 502 and "text/html" in r502.headers["content-type"]
    assert r503.status_code == 503
    assert (await api.get(LIST)).status_code == 200


async def test_reset_and_timeout_raise_transport_errors(
    api: httpx.AsyncClient, client: httpx.AsyncClient, sandbox: Sandbox
):
    await _faults(client, script=["reset", "timeout"])
    with pytest.raises(httpx.ReadError):
        await api.get(LIST)
    with pytest.raises(httpx.TimeoutException):
        await api.get(LIST)
    assert sandbox.faults_injected == {"reset": 1, "timeout": 1}


async def test_lost_answer_performs_the_write(api: httpx.AsyncClient, client: httpx.AsyncClient):
    await _faults(client, script=["lost_answer"])
    with pytest.raises(httpx.ReadError):
        await api.post(LIST, json={"properties": {"email": "lost@example.com"}})
    found = await api.get(f"{LIST}/lost@example.com", params={"idProperty": "email"})
    assert found.status_code == 200  # it happened
    retry = await api.post(LIST, json={"properties": {"email": "lost@example.com"}})
    assert retry.status_code == 409  # a blind retry duplicates; upsert is the safe one


async def test_rates_are_seeded_and_repeatable(clock: ManualClock):
    from atom_hubspot.sandbox import SandboxConfig, create_sandbox_app

    def outcomes() -> list[str | None]:
        app = create_sandbox_app(
            SandboxConfig(
                clock=clock,
                seed=False,
                faults=FaultConfig(
                    error_rate_5xx=0.2,
                    reset_rate=0.1,
                    timeout_rate=0.1,
                    lost_answer_rate=0.1,
                    seed=7,
                ),
            )
        )
        sb = app.state.sandbox
        return [sb.draw_fault("POST", LIST) for _ in range(200)]

    first = outcomes()
    assert first == outcomes()
    counts = {k: first.count(k) for k in ("5xx", "reset", "timeout", "lost_answer")}
    assert 20 <= counts["5xx"] <= 60 and all(5 <= counts[k] <= 35 for k in counts if k != "5xx")
    assert first.count(None) > 60


async def test_fault_filters_by_path_and_method(api: httpx.AsyncClient, client: httpx.AsyncClient):
    await _faults(client, error_rate_5xx=1.0, paths=["/search"], methods=["POST"])
    assert (await api.get(LIST)).status_code == 200
    assert (await api.post(SEARCH, json={})).status_code >= 500


async def test_latency_uses_the_injected_clock(
    api: httpx.AsyncClient, client: httpx.AsyncClient, clock: ManualClock
):
    await _faults(client, latency_ms=250)
    before = clock.now()
    assert (await api.get(LIST)).status_code == 200
    assert clock.now() - before == pytest.approx(0.25)


async def test_scripted_429(api: httpx.AsyncClient, client: httpx.AsyncClient):
    await _faults(client, script=["429"])
    r = await api.get(LIST)
    assert r.status_code == 429 and r.json()["policyName"] == "TEN_SECONDLY_ROLLING"


async def test_faults_can_be_set_at_start(clock: ManualClock):
    from atom_hubspot.sandbox import SandboxConfig
    from atom_hubspot.sandbox.testing import sandbox_transport

    t = sandbox_transport(
        SandboxConfig(clock=clock, seed=False, faults=FaultConfig(script=["503"]))
    )
    async with httpx.AsyncClient(transport=t, base_url="http://sandbox.local") as c:
        token = t.app.state.sandbox.add_private_app_token(1234567)  # type: ignore[attr-defined]
        r = await c.get(LIST, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 503


async def test_invalid_fault_settings_rejected(client: httpx.AsyncClient):
    r = await client.put("/_sandbox/faults", json={"error_rate_5xx": 2})
    assert r.status_code == 400
    r = await client.patch("/_sandbox/faults", json={"latency_ms": 5})
    assert r.json()["latency_ms"] == 5
    assert (await client.get("/_sandbox/faults")).json()["latency_ms"] == 5


async def test_faults_reach_the_token_endpoint_but_not_the_pages(
    client: httpx.AsyncClient, transport: httpx.ASGITransport
):
    from atom_hubspot.sandbox.testing import approve

    from .conftest import authorize_url

    await _faults(client, error_rate_5xx=1.0)
    location = await approve(authorize_url(), transport)  # the browser pages are not faulted
    assert "code=" in location
    assert (await client.get("/_sandbox/faults")).status_code == 200
    r = await client.post("/oauth/2026-03/token", data={"grant_type": "refresh_token"})
    assert r.status_code >= 500


async def test_private_apps_can_have_their_own_budget(
    client: httpx.AsyncClient, api: httpx.AsyncClient, sandbox: Sandbox
):
    await client.put("/_sandbox/limits", json={"private_app_requests_per_10s": 2})
    token = sandbox.add_private_app_token(1234567)
    h = {"Authorization": f"Bearer {token}"}
    first = await client.get(LIST, headers=h)
    assert first.headers["X-HubSpot-RateLimit-Max"] == "2"
    assert (await client.get(LIST, headers=h)).status_code == 200
    assert (await client.get(LIST, headers=h)).status_code == 429
    oauth = await api.get(LIST)  # the OAuth app's budget is the public-app one
    assert oauth.headers["X-HubSpot-RateLimit-Max"] == "110"
