"""The pytest plugin of the ATOM host's test kit: fixtures for a host, a test client and
principals, and the `--atom-crm-contract=PLUGIN` option that runs the CRM capability contract
suite against a plugin.

pytest loads this module in every run where the host is installed, so it imports only pytest
and the standard library at collection; the host, FastAPI and httpx are imported inside the
fixtures that need them. Every fixture name starts with `atom_`, so none shadows a project's own.

Override any fixture in a conftest.py or a test class to adapt it, e.g. `atom_env` to add your
plugin's settings, `atom_host_state` to hand it a fake transport, or `atom_host` (requesting the
original by the same name) to act on the started host before tests use it.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import httpx

    from atom_host_stub.contract import Principal
    from atom_host_stub.host import Host

try:  # async fixtures need pytest-asyncio; without it they skip, and nothing else breaks
    import pytest_asyncio

    HAS_PYTEST_ASYNCIO = True
except ImportError:  # pragma: no cover - exercised only where pytest-asyncio is absent
    HAS_PYTEST_ASYNCIO = False

CONTRACT_OPTION = "atom_crm_contract"
PLUGINS_OPTION = "atom_plugins"

pytest.register_assert_rewrite("atom_host_stub.testing.crm_contract")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("atom", "ATOM host plugins")
    group.addoption(
        "--atom-crm-contract",
        dest=CONTRACT_OPTION,
        metavar="PLUGIN",
        default=None,
        help="Run the CRM capability contract suite against the installed plugin PLUGIN "
        "(its entry-point name), with ATOM_CRM_PROVIDER=PLUGIN.",
    )
    group.addoption(
        "--atom-plugins",
        dest=PLUGINS_OPTION,
        metavar="NAMES",
        default=None,
        help="Comma-separated plugin names the atom_host fixtures load (ATOM_PLUGINS); "
        "default: the contract's plugin, else every installed plugin.",
    )
    parser.addini(CONTRACT_OPTION, "Like --atom-crm-contract, from the ini file.", default="")
    parser.addini(PLUGINS_OPTION, "Like --atom-plugins, from the ini file.", default="")


def contract_plugin(config: pytest.Config) -> str | None:
    """The plugin the CRM contract suite runs against in this session, if any."""
    value = config.getoption(CONTRACT_OPTION) or config.getini(CONTRACT_OPTION)
    return str(value).strip() or None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "atom_crm_contract: a test of the CRM capability contract suite"
    )
    if contract_plugin(config) is None:
        return
    # Collect the suite beside whatever the run was asked to collect.
    import atom_host_stub.testing.crm_contract as suite

    target = suite.__name__ if config.option.pyargs else str(Path(suite.__file__))
    if target not in config.args:
        config.args.append(target)


def pytest_report_header(config: pytest.Config) -> str | None:
    plugin = contract_plugin(config)
    return f"atom: CRM contract suite against plugin {plugin!r}" if plugin else None


# --------------------------------------------------------------------------- principals


@pytest.fixture
def atom_principal() -> Principal:
    """The caller most tests act as (tenant `tenant-a`, user `user-a`)."""
    from atom_host_stub.contract import Principal

    return Principal(tenant_id="tenant-a", user_id="user-a")


@pytest.fixture
def atom_other_principal() -> Principal:
    """A caller in another tenant, to show that one tenant never sees another's data."""
    from atom_host_stub.contract import Principal

    return Principal(tenant_id="tenant-b", user_id="user-b")


@pytest.fixture
def atom_api_keys(atom_principal: Principal, atom_other_principal: Principal) -> dict[str, Any]:
    """{API key: Principal} the host accepts: one random key per principal."""
    return {f"test-{secrets.token_urlsafe(16)}": p for p in (atom_principal, atom_other_principal)}


@pytest.fixture
def atom_headers_for(atom_api_keys: dict[str, Any]) -> Callable[[Principal], dict[str, str]]:
    """`atom_headers_for(principal)`: the Authorization header that authenticates `principal`."""

    def headers(principal: Principal) -> dict[str, str]:
        key = next(k for k, p in atom_api_keys.items() if p == principal)
        return {"Authorization": f"Bearer {key}"}

    return headers


@pytest.fixture
def atom_auth_headers(
    atom_headers_for: Callable[[Principal], dict[str, str]], atom_principal: Principal
) -> dict[str, str]:
    """The Authorization header of `atom_principal`."""
    return atom_headers_for(atom_principal)


# --------------------------------------------------------------------------- the host


def _plugin_under_test(request: pytest.FixtureRequest) -> str | None:
    """The CRM plugin a test is about: its `atom_crm_provider`, else --atom-crm-contract."""
    if "atom_crm_provider" in request.fixturenames:
        return str(request.getfixturevalue("atom_crm_provider"))
    return contract_plugin(request.config)


@pytest.fixture
def atom_plugins(request: pytest.FixtureRequest) -> list[str] | None:
    """Names of the installed plugins the host loads (ATOM_PLUGINS): --atom-plugins, else the
    CRM plugin under test (--atom-crm-contract); None loads every installed plugin."""
    raw = request.config.getoption(PLUGINS_OPTION) or request.config.getini(PLUGINS_OPTION)
    names = [n.strip() for n in str(raw or "").split(",") if n.strip()]
    if names:
        return names
    plugin = _plugin_under_test(request)
    return [plugin] if plugin else None


@pytest.fixture
def atom_env(
    tmp_path: Path,
    atom_api_keys: dict[str, Any],
    atom_plugins: list[str] | None,
    request: pytest.FixtureRequest,
) -> dict[str, str]:
    """The host's environment: a temporary data folder and database, the test API keys, the
    plugins to load and, when a CRM plugin is under test, ATOM_CRM_PROVIDER. Override it to add
    your plugin's settings."""
    data = tmp_path / "atom-data"
    env = {
        "ATOM_DATA_DIR": str(data),
        "ATOM_DATABASE_URL": f"sqlite:///{data / 'atom.sqlite3'}",
        "ATOM_API_KEYS": ",".join(
            f"{key}:{p.tenant_id}:{p.user_id}" for key, p in atom_api_keys.items()
        ),
    }
    if atom_plugins is not None:
        env["ATOM_PLUGINS"] = ",".join(atom_plugins)
    provider = _plugin_under_test(request)
    if provider:
        env["ATOM_CRM_PROVIDER"] = provider
    return env


@pytest.fixture
def atom_host_state() -> dict[str, Any]:
    """Entries put into `HostContext.state` before plugins start: the seam for fakes a plugin
    looks for (e.g. an HTTP transport). Empty by default."""
    return {}


@pytest.fixture
def atom_unstarted_host(atom_env: dict[str, str], atom_host_state: dict[str, Any]) -> Host:
    """A host built from `atom_env` (the real environment is not read), plugins not started."""
    from atom_host_stub.config import HostSettings
    from atom_host_stub.host import Host

    host = Host(HostSettings.from_env(atom_env))
    host.context.state.update(atom_host_state)
    return host


def _needs_asyncio() -> None:
    pytest.skip("the atom_host fixtures are async: pip install pytest-asyncio")


if HAS_PYTEST_ASYNCIO:

    @pytest_asyncio.fixture
    async def atom_host(
        atom_unstarted_host: Host, request: pytest.FixtureRequest
    ) -> AsyncIterator[Host]:
        """The host with its plugins started (config checked, services and health checks
        registered; no HTTP). Stopped after the test."""
        if "atom_client" in request.fixturenames:
            pytest.fail("use atom_client or atom_host in one test, not both (two lifecycles)")
        host = atom_unstarted_host
        await host.start()
        try:
            yield host
        finally:
            await host.stop()

    @pytest_asyncio.fixture
    async def atom_client(atom_unstarted_host: Host) -> AsyncIterator[httpx.AsyncClient]:
        """An httpx client talking in-process to the host's web app, whose lifespan (plugins
        start, routes mount) runs around the test. `atom_unstarted_host` is that host."""
        import httpx

        from atom_host_stub.app import create_app

        app = create_app(atom_unstarted_host)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://atom.test") as c:
                yield c

    @pytest_asyncio.fixture
    async def atom_crm(atom_host: Host, atom_principal: Principal, atom_crm_provider: str) -> Any:
        """The `crm` service for `atom_principal`, obtained as any caller gets it:
        `host.services.get_service("crm", principal)`."""
        record = atom_host.plugins.records.get(atom_crm_provider)
        if record is None or not record.started:
            reason = "not installed" if record is None else (record.failure or "not started")
            issues = "; ".join(i.message for i in record.config_issues) if record else ""
            pytest.fail(
                f"plugin {atom_crm_provider!r} did not start: {reason}"
                + (f" ({issues})" if issues else "")
            )
        return await atom_host.services.get_service("crm", atom_principal)

else:  # pragma: no cover

    @pytest.fixture
    def atom_host() -> None:
        _needs_asyncio()

    @pytest.fixture
    def atom_client() -> None:
        _needs_asyncio()

    @pytest.fixture
    def atom_crm() -> None:
        _needs_asyncio()


# --------------------------------------------------------------------------- CRM contract


@pytest.fixture
def atom_crm_provider(request: pytest.FixtureRequest) -> str:
    """The plugin the CRM contract runs against: --atom-crm-contract, or override this."""
    plugin = contract_plugin(request.config)
    if plugin is None:
        pytest.fail(
            "name the CRM plugin: --atom-crm-contract=PLUGIN, or override atom_crm_provider"
        )
    return plugin


@pytest.fixture
def atom_crm_custom_fields() -> dict[str, str]:
    """{kind: name} of one custom field per kind that the provider accepts; the suite writes
    and reads them back. Configure your CRM to accept these, or override the fixture."""
    return {"contact": "favourite_language", "deal": "renewal_term"}
