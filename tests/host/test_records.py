"""The contract's records and the status report are plain dataclasses: built and printed
without pydantic, yet pydantic and FastAPI read, write and describe them as before."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from atom_host_stub._records import RecordError, to_jsonable
from atom_host_stub.config import HostSettings
from atom_host_stub.contract import (
    ConfigIssue,
    ConnectedAccount,
    HealthResult,
    HealthStatus,
    Principal,
    Severity,
)
from atom_host_stub.health import HealthReport
from atom_host_stub.host import Host
from atom_host_stub.status import IntegrationsReport


def report_with_health() -> tuple[IntegrationsReport, HealthReport]:
    host = Host(HostSettings.from_env({"ATOM_DISABLE_PLUGIN_AUTOLOAD": "1"}))
    checked = HealthReport(
        name="crm",
        status=HealthStatus.DEGRADED,
        message="slow",
        details={"ms": 12.5},
        accounts=[ConnectedAccount(id="1", name="acme")],
        tenant_details={"t1": {"secret": "x"}},
        tenant_accounts={"t1": [ConnectedAccount(id="1")]},
        duration_ms=3.25,
        checked_at=datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC),
    )
    report = host.status_report()
    report.host.issues = [ConfigIssue(key="K", message="m", severity="warning")]  # type: ignore[arg-type]
    report.integrations = []
    return report.model_copy(update={"generated_at": checked.checked_at}), checked


def test_records_dump_as_pydantic_dumps_them() -> None:
    report, checked = report_with_health()
    adapter = TypeAdapter(IntegrationsReport)
    assert to_jsonable(report) == adapter.dump_python(report, mode="json")
    assert report.model_dump(mode="json") == adapter.dump_python(report, mode="json")
    dumped = TypeAdapter(HealthReport).dump_python(checked, mode="json")
    assert checked.model_dump(mode="json") == dumped
    assert "tenant_details" not in dumped and "tenant_accounts" not in dumped
    assert dumped["checked_at"] == "2026-01-02T03:04:05.000600Z"
    assert report.host.issues[0].severity is Severity.WARNING


def test_pydantic_validates_and_describes_the_records() -> None:
    adapter = TypeAdapter(IntegrationsReport)
    report, _ = report_with_health()
    again = adapter.validate_python(adapter.dump_python(report, mode="json"))
    assert again == report
    schema = adapter.json_schema()
    status = schema["$defs"]["IntegrationStatus"]["properties"]
    assert status["distribution"]["description"].startswith("Installed package")
    account = schema["$defs"]["ConnectedAccount"]["properties"]
    assert account["id"]["examples"] == ["1234567"]


def test_model_validate_takes_a_mapping_and_names_each_problem() -> None:
    issue = ConfigIssue.model_validate({"key": "K", "message": "m", "severity": "warning"})
    assert issue == ConfigIssue(key="K", message="m", severity=Severity.WARNING)
    assert ConfigIssue.model_validate(issue) is issue
    with pytest.raises(RecordError) as error:
        ConfigIssue.model_validate({"severity": "fatal", "hint": 3})
    assert str(error.value) == (
        "invalid ConfigIssue: key: Field required; severity: Input should be 'error' or "
        "'warning'; message: Field required; hint: Input should be a valid string"
    )
    result = HealthResult.model_validate({"status": "ok", "accounts": [{"id": "7"}]})
    assert result.status is HealthStatus.OK and result.accounts == [ConnectedAccount(id="7")]
    with pytest.raises(RecordError, match=r"accounts\.0: Input should be a valid dictionary"):
        HealthResult.model_validate({"status": "ok", "accounts": ["7"]})
    with pytest.raises(RecordError, match="Input should be a valid dictionary or instance"):
        ConfigIssue.model_validate(["K"])


def test_a_principal_is_frozen_and_hashable() -> None:
    principal = Principal(tenant_id="t", user_id="u")
    assert {principal: 1}[Principal(tenant_id="t", user_id="u")] == 1
    with pytest.raises(AttributeError):
        principal.tenant_id = "other"  # type: ignore[misc]


def test_an_async_config_check_runs_without_the_caller_running_a_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "async_check").mkdir()
    (tmp_path / "async_check" / "__init__.py").write_text(
        textwrap.dedent("""
        import asyncio, pluggy
        from atom_host_stub.contract import ConfigIssue
        hookimpl = pluggy.HookimplMarker("atom")

        @hookimpl
        async def atom_validate_config(env):
            await asyncio.sleep(0)
            return [ConfigIssue(key="ASYNC_KEY", message="checked in a loop of its own")]
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    env = {"ATOM_DISABLE_PLUGIN_AUTOLOAD": "1", "ATOM_EXTRA_PLUGINS": "async_check"}
    host = Host(HostSettings.from_env(env))
    report = host.check_config_now()
    assert [i.key for i in report.issues["async_check"]] == ["ASYNC_KEY"]
