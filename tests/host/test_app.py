"""The web app: plugin routes behind the API key, the integrations JSON, the dashboard,
isolation of broken plugins, misconfigured plugins left unmounted, demo mounts."""

from __future__ import annotations

import pytest
from fastapi import Depends

from atom_host_stub.app import create_app, service_dependency
from atom_host_stub.host import StartupRefused
from tests.host.conftest import API_KEY, AUTH, GOOD_TOKEN, HostFactory, serving
from tests.host.fake_plugins import good


async def test_hook_register_routes_mounts_the_router_with_the_principal(
    make_host: HostFactory,
) -> None:
    app = create_app(make_host("good"))
    async with serving(app) as client:
        answer = await client.get("/api/good/whoami", headers=AUTH)
        assert answer.status_code == 200
        assert answer.json() == {"tenant": "tenant-a", "user": "user-1"}
        record = app.state.host.plugins.records["good"]
        assert record.route_prefixes == ["/api/good"]
        assert "GET /api/good/whoami" in record.routes


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": f"Basic {API_KEY}"},
        {"Authorization": "Bearer "},
    ],
    ids=["no-key", "wrong-key", "wrong-scheme", "empty"],
)
async def test_no_or_wrong_key_is_401_before_plugin_code_runs(
    make_host: HostFactory, headers: dict[str, str]
) -> None:
    app = create_app(make_host("good"))
    async with serving(app) as client:
        before = good.HANDLER_CALLS["whoami"]
        answer = await client.get("/api/good/whoami", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json()["ok"] is False
        assert answer.json()["error"]["code"] == "unauthorized"
        assert good.HANDLER_CALLS["whoami"] == before


async def test_optional_principal_is_none_without_a_key_and_401_with_a_wrong_one(
    make_host: HostFactory,
) -> None:
    app = create_app(make_host("good"))
    async with serving(app) as client:
        assert (await client.get("/api/good/callback")).json() == {"tenant": None}
        assert (await client.get("/api/good/callback", headers=AUTH)).json() == {
            "tenant": "tenant-a"
        }
        wrong = await client.get("/api/good/callback", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401


async def test_integrations_json_needs_no_key_and_shows_nothing_secret(
    make_host: HostFactory,
) -> None:
    app = create_app(make_host("good", "broken_import"))
    async with serving(app) as client:
        answer = await client.get("/api/integrations")
        assert answer.status_code == 200
        body = answer.json()
        assert GOOD_TOKEN not in answer.text and API_KEY not in answer.text
        items = {i["name"]: i for i in body["integrations"]}
        assert items["good"]["status"] == "ok"
        assert items["good"]["version"] == "1.2.3"
        assert items["good"]["capabilities"] == ["greeting"]
        assert items["good"]["health"][0]["name"] == "good-ok"
        assert items["good"]["features"] == [
            {"name": "sparkles", "enabled": False, "reason": "not installed", "extra": "sparkle"}
        ]
        token_key = next(c for c in items["good"]["config"] if c["name"] == "GOOD_TOKEN")
        assert token_key == {
            "name": "GOOD_TOKEN",
            "required": True,
            "secret": True,
            "is_set": True,
            "default": None,
            "description": "A secret the plugin needs",
        }
        assert items["broken_import"]["status"] == "failed"
        assert "cannot import" in items["broken_import"]["reason"]


async def test_a_plugin_raising_on_import_leaves_the_host_serving_and_shown_failed(
    make_host: HostFactory,
) -> None:
    app = create_app(make_host("broken_import", "good"))
    async with serving(app) as client:
        assert (await client.get("/api/good/whoami", headers=AUTH)).status_code == 200
        page = await client.get("/")
        assert page.status_code == 200
        assert 'id="integration-broken_import" data-status="failed"' in page.text
        assert "cannot import: a required library is missing" in page.text


async def test_a_misconfigured_plugin_is_served_without_routes_and_says_why(
    make_host: HostFactory,
) -> None:
    app = create_app(make_host("good", GOOD_TOKEN=""))
    async with serving(app) as client:
        answer = await client.get("/api/good/whoami", headers=AUTH)
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "plugin_unavailable"
        assert "'good'" in answer.json()["error"]["message"]
        assert "GOOD_TOKEN" in answer.json()["error"]["message"]
        items = {
            i["name"]: i for i in (await client.get("/api/integrations")).json()["integrations"]
        }
        assert items["good"]["status"] == "misconfigured"
        assert items["good"]["routes"] == []
        assert items["good"]["config_issues"][0]["key"] == "GOOD_TOKEN"


async def test_strict_app_refuses_to_start(make_host: HostFactory) -> None:
    app = create_app(make_host("good", GOOD_TOKEN=""), strict=True)
    with pytest.raises(StartupRefused):
        async with serving(app):
            pass


async def test_a_route_prefix_overlapping_another_plugins_fails_the_second_naming_both(
    make_host: HostFactory,
) -> None:
    app = create_app(make_host("good", "rival", RIVAL_PREFIX="/api/good/extra"))
    async with serving(app) as client:
        rival = app.state.host.plugins.records["rival"]
        assert rival.failure == (
            "route prefix /api/good/extra of plugin 'rival' overlaps /api/good registered by "
            "plugin 'good'"
        )
        assert (await client.get("/api/good/extra/ping")).status_code == 404
        assert (await client.get("/api/good/whoami", headers=AUTH)).status_code == 200


async def test_a_route_prefix_outside_the_manifest_or_on_the_host_is_refused(
    make_host: HostFactory,
) -> None:
    app = create_app(make_host("rival", RIVAL_PREFIX="/api/integrations"))
    async with serving(app):
        assert app.state.host.plugins.records["rival"].failure == (
            "route prefix /api/integrations of plugin 'rival' overlaps the host's /api/integrations"
        )


async def test_hook_demo_setup_runs_in_demo_mode_and_can_mount_apps(
    make_host: HostFactory,
) -> None:
    app = create_app(make_host("good"), demo=True)
    async with serving(app) as client:
        assert (await client.get("/good-demo/")).text == "good demo sandbox"
        assert ("good", "demo_setup") in app.state.host.context.state["events"]
        assert (await client.get("/api/integrations")).json()["host"]["demo"] is True


async def test_demo_setup_does_not_run_outside_demo_mode(make_host: HostFactory) -> None:
    app = create_app(make_host("good"))
    async with serving(app) as client:
        assert (await client.get("/good-demo/")).status_code == 404


async def test_routes_get_services_by_capability_through_the_host(
    make_host: HostFactory,
) -> None:
    app = create_app(make_host("good", "rival", ATOM_GREETING_PROVIDER="rival"))

    # A product route: it asks for `greeting` and never names the provider.
    @app.get("/product/greet")
    async def greet(greeter=Depends(service_dependency("greeting"))) -> dict[str, str]:  # type: ignore[no-untyped-def]  # noqa: B008
        return {"text": greeter.greet()}

    async with serving(app) as client:
        assert (await client.get("/product/greet")).status_code == 401
        assert (await client.get("/product/greet", headers=AUTH)).json() == {
            "text": "hello user-1 from rival"
        }


async def test_dashboard_refreshes_itself_and_fits_a_phone(make_host: HostFactory) -> None:
    app = create_app(make_host("good"))
    async with serving(app) as client:
        page = await client.get("/")
        assert page.headers["content-type"].startswith("text/html")
        assert '<meta http-equiv="refresh" content="10">' in page.text
        assert 'name="viewport" content="width=device-width, initial-scale=1"' in page.text
        assert "Good Example" in page.text and "v1.2.3" in page.text
        assert GOOD_TOKEN not in page.text


async def test_dashboard_shows_the_settings_in_effect(make_host: HostFactory) -> None:
    app = create_app(make_host("good", GOOD_MODE="shouting"))
    async with serving(app) as client:
        page = (await client.get("/")).text
        assert "Settings in effect" in page
        assert "<td>Greeting mode</td><td><code>shouting</code></td>" in page
        report = (await client.get("/api/integrations")).json()
        good = next(i for i in report["integrations"] if i["name"] == "good")
        assert good["config_summary"] == [
            {"key": "GOOD_MODE", "name": "Greeting mode", "value": "shouting"}
        ]
