"""`serve --workers N`: refused where it cannot be correct (SQLite, demo mode), a HubSpot rate
budget kept per process is a config error with several workers, workers read their settings
from the environment, and the load balancer's endpoints answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from atom_host_stub.app import app_from_environment, create_app
from atom_host_stub.cli import EXIT_USAGE, main
from atom_host_stub.config import HostSettings
from atom_host_stub.contract import HostContext
from atom_hubspot.plugin import atom_validate_config
from tests.host.conftest import HostFactory, serving
from tests.host.test_cli import cli_env  # noqa: F401 - the fixture


def test_several_workers_on_sqlite_are_refused_saying_why(
    cli_env: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--workers", "2", "--port", "1"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "--workers 2 needs PostgreSQL" in err
    assert "SQLite" in err and "one process writes at a time" in err


def test_several_workers_in_demo_mode_are_refused(
    cli_env: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ATOM_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert main(["serve", "--demo", "--workers", "3", "--port", "1"]) == EXIT_USAGE
    assert "demo mode runs each plugin's sandbox inside the process" in capsys.readouterr().err


def test_worker_count_reaches_plugins_from_the_environment() -> None:
    assert HostSettings.from_env({"ATOM_WORKERS": "4"}).workers == 4
    assert HostSettings.from_env({"ATOM_WORKERS": "zero"}).workers == 1
    assert HostSettings.from_env({}).workers == 1


@pytest.mark.parametrize(("backend", "refused"), [("memory", True), ("postgres", False)])
def test_a_per_process_rate_budget_is_an_error_with_several_workers(
    hubspot_env: dict[str, str], tmp_path: Path, backend: str, refused: bool
) -> None:
    env = {**hubspot_env, "HUBSPOT_RATE_LIMIT_BACKEND": backend}
    url = "postgresql://postgres@127.0.0.1/x"
    for workers in (1, 2):
        context = HostContext(env=env, data_dir=tmp_path, database_url=url, workers=workers)
        keys = [i.key for i in atom_validate_config(env=env, context=context)]
        assert ("HUBSPOT_RATE_LIMIT_BACKEND" in keys) == (refused and workers > 1), keys


async def test_load_balancer_endpoints(make_host: HostFactory) -> None:
    app = create_app(make_host("good"))
    async with serving(app) as client:
        assert (await client.get("/_host/live")).json() == {"ok": True}
        ready = await client.get("/_host/ready")
        assert ready.status_code == 200 and ready.json() == {"ok": True}
    # After shutdown (and before start-up) the app says it is not ready.
    after = await _call(app, "/_host/ready")
    assert after == 503


async def _call(app: object, path: str) -> int:
    import httpx

    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://h") as client:
        return (await client.get(path)).status_code


def test_a_worker_builds_its_app_from_the_environment(
    cli_env: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ATOM_WORKERS", "2")
    monkeypatch.setenv("ATOM_SERVE_STRICT", "1")
    app = app_from_environment()
    host = app.state.host
    assert host.context.workers == 2 and host.settings.workers == 2


async def test_what_start_up_built_is_left_out_of_garbage_collection(
    make_host: HostFactory,
) -> None:
    """A worker's long-lived heap is frozen once it is ready, so full collections while serving
    walk only what requests made (without it each one walked the whole app: ~150 ms stalls)."""
    import gc

    gc.unfreeze()
    try:
        before = gc.get_freeze_count()
        async with serving(create_app(make_host("good"))) as client:  # made and dropped
            assert (await client.get("/_host/ready")).status_code == 200
            assert gc.get_freeze_count() == before
        app = create_app(make_host("good"), serving_process=True)  # what `serve` makes
        async with serving(app) as client:
            assert (await client.get("/_host/ready")).status_code == 200
            assert gc.get_freeze_count() > before + 10_000
    finally:
        gc.unfreeze()
