"""The host lifecycle without the web: config report, startup/shutdown order, services by
capability, health checks, features."""

from __future__ import annotations

from typing import Any

import pytest

from atom_host_stub.contract import Principal, Severity
from atom_host_stub.host import StartupRefused
from atom_host_stub.services import ServiceUnavailable
from tests.host.conftest import HostFactory, integration, statuses

ALICE = Principal(tenant_id="tenant-a", user_id="alice")


async def test_hook_startup_and_shutdown_run_once_each_in_order(make_host: HostFactory) -> None:
    host = make_host("good")
    await host.start()
    assert host.context.state["events"] == [("good", "startup")]
    await host.stop()
    assert host.context.state["events"] == [("good", "startup"), ("good", "shutdown")]
    await host.stop()  # a second stop releases nothing twice
    assert host.context.state["events"][-1] == ("good", "shutdown")
    assert len(host.context.state["events"]) == 2


async def test_hook_shutdown_is_called_even_when_startup_failed_halfway(
    make_host: HostFactory,
) -> None:
    host = make_host("raising_startup", "good")
    await host.start()
    await host.stop()
    events = host.context.state["events"]
    assert ("raising_startup", "shutdown") in events
    # Released newest first.
    assert events.index(("good", "shutdown")) < events.index(("raising_startup", "shutdown"))
    assert host.plugins.records["raising_startup"].failure is not None


async def test_hook_validate_config_issues_make_the_plugin_misconfigured_and_not_started(
    make_host: HostFactory,
) -> None:
    host = make_host("good", GOOD_TOKEN="")
    report = await host.start()
    try:
        assert report.has_errors
        assert [i.key for i in report.issues["good"]] == ["GOOD_TOKEN"]
        assert "events" not in host.context.state  # startup never ran
        status = await host.report()
        assert statuses(status) == {"good": "misconfigured"}
        assert integration(status, "good").reason == "disabled until fixed: GOOD_TOKEN"
    finally:
        await host.stop()


async def test_hook_validate_config_never_shows_a_secret_value(make_host: HostFactory) -> None:
    host = make_host("good", GOOD_TOKEN="echo-me")  # noqa: S106 - a fake secret
    report = await host.check_config()
    (issue,) = report.issues["good"]
    assert issue.severity == Severity.WARNING
    assert "echo-me" not in issue.message
    assert issue.message == "GOOD_TOKEN *** looks like a test value"


async def test_strict_start_refuses_on_config_errors(make_host: HostFactory) -> None:
    host = make_host("good", GOOD_TOKEN="")
    with pytest.raises(StartupRefused) as refused:
        await host.start(strict=True)
    assert "good" in refused.value.report.issues


async def test_strict_start_refuses_when_a_plugin_failed(make_host: HostFactory) -> None:
    host = make_host("broken_import", "good")
    with pytest.raises(StartupRefused) as refused:
        await host.start(strict=True)
    assert refused.value.failed == ["broken_import"]


async def test_hook_features_report_what_is_off_and_the_extra(make_host: HostFactory) -> None:
    host = make_host("good")
    host.prepare()
    (feature,) = host.plugins.records["good"].features
    assert (feature.name, feature.enabled, feature.extra) == ("sparkles", False, "sparkle")


async def test_hook_register_services_hands_out_a_service_per_principal(
    make_host: HostFactory,
) -> None:
    host = make_host("good")
    await host.start()
    try:
        greeter = await host.services.get_service("greeting", ALICE)
        assert greeter.greet() == "hello alice from good"
        assert host.plugins.records["good"].capabilities == ["greeting"]
        with pytest.raises(ServiceUnavailable, match="no running plugin provides 'crm'"):
            await host.services.get_service("crm", ALICE)
    finally:
        await host.stop()


async def test_hook_register_agent_tools_runs_tools_as_the_caller(
    make_host: HostFactory,
) -> None:
    from atom_host_stub.agent_tools import Confirmations, ToolRunner

    host = make_host("good")
    await host.start()
    try:
        (tool,) = host.agent_tools["good"]
        assert tool.name == "greet" and tool.read_only

        async def services(capability: str, principal: Principal) -> Any:
            return await host.services.get_service(capability, principal)

        runner = ToolRunner([tool], services, Confirmations(b"k" * 32))
        answer = await runner.call(ALICE, "greet", {"name": "Bo"})
        assert answer == {"text": "hello alice from good to Bo"}
    finally:
        await host.stop()


async def test_two_providers_of_a_capability_need_a_choice_naming_both(
    make_host: HostFactory,
) -> None:
    host = make_host("good", "rival")
    report = await host.start()
    try:
        (issue,) = [i for i in report.issues["host"] if i.key == "ATOM_GREETING_PROVIDER"]
        assert issue.message == "capability 'greeting' is provided by both 'good' and 'rival'"
        with pytest.raises(
            ServiceUnavailable, match=r"both 'good' and 'rival'.*ATOM_GREETING_PROVIDER"
        ):
            await host.services.get_service("greeting", ALICE)
    finally:
        await host.stop()


@pytest.mark.parametrize("provider", ["good", "rival"])
async def test_the_provider_variable_swaps_the_service_without_touching_callers(
    make_host: HostFactory, provider: str
) -> None:
    host = make_host("good", "rival", ATOM_GREETING_PROVIDER=provider)
    report = await host.start()
    try:
        assert not [i for i in report.issues["host"] if i.key == "ATOM_GREETING_PROVIDER"]
        greeter = await host.services.get_service("greeting", ALICE)
        assert greeter.greet() == f"hello alice from {provider}"
    finally:
        await host.stop()


async def test_a_provider_variable_naming_no_provider_is_a_config_error(
    make_host: HostFactory,
) -> None:
    host = make_host("good", ATOM_GREETING_PROVIDER="salesforce")
    report = await host.check_config()
    (issue,) = [i for i in report.issues["host"] if i.key == "ATOM_GREETING_PROVIDER"]
    assert issue.severity == Severity.ERROR
    assert issue.hint == "Set ATOM_GREETING_PROVIDER to one of: good."


async def test_hook_register_health_checks_results_carry_status_and_duration(
    make_host: HostFactory,
) -> None:
    host = make_host("good")
    await host.start()
    try:
        report = await host.report()
        (check,) = integration(report, "good").health
        assert (check.name, check.status, check.message) == ("good-ok", "ok", "all good")
        assert check.duration_ms >= 0
        assert statuses(report) == {"good": "ok"}
    finally:
        await host.stop()


async def test_a_plugin_failing_after_startup_loses_its_services_and_checks(
    make_host: HostFactory,
) -> None:
    host = make_host("good")
    await host.start()
    try:
        host.plugins.fail(host.plugins.records["good"], "lost its database")
        with pytest.raises(ServiceUnavailable):
            await host.services.get_service("greeting", ALICE)
        assert await host.health.results(fresh=True) == {}
        assert integration(await host.report(), "good").reason == "lost its database"
    finally:
        await host.stop()
