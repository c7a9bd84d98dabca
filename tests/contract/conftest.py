"""The `crm_provider` fixture: the `crm` service of each provider, obtained the way any caller
gets it — `host.services.get_service("crm", principal)` with the provider chosen by
ATOM_CRM_PROVIDER — so the one contract suite runs unchanged against both."""

from __future__ import annotations

import importlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from atom_host_stub.config import HostSettings
from atom_host_stub.contract import CRMService, Principal
from atom_host_stub.host import Host

MEMORY_PLUGIN = "tests.contract.memory_crm"
PRINCIPAL = Principal(tenant_id="tenant-contract", user_id="contract-user")
API_KEY = "contract-key-0123456789"
# Custom fields both providers accept (the sandbox is told about them as portal properties;
# the memory store through MEMORY_CRM_CUSTOM_FIELDS below).
CUSTOM_FIELDS = {"contacts": ["favourite_language"], "deals": ["renewal_term"]}
PRIVATE_APP_TOKEN = "pat-na1-contract-suite-token"  # noqa: S105 - known to the sandbox only
PORTAL_ID = 3456789

# The HubSpot provider needs these; while any is not written yet its half of the suite skips.
HUBSPOT_MODULES = (
    "atom_hubspot.sandbox",
    "atom_hubspot.sandbox.testing",
    "atom_hubspot.runtime",
    "atom_hubspot.service.crm",
)


def _missing_hubspot_module() -> str | None:
    for name in HUBSPOT_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # Only the module itself missing is "not written yet"; a broken import inside it
            # is a real failure and must show.
            if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
                return name
            raise
    return None


def _host(tmp_path: Path, **env: str) -> Host:
    base = {
        "ATOM_DATA_DIR": str(tmp_path / "data"),
        "ATOM_API_KEYS": f"{API_KEY}:{PRINCIPAL.tenant_id}:{PRINCIPAL.user_id}",
        "ATOM_EXTRA_PLUGINS": MEMORY_PLUGIN,
        "MEMORY_CRM_CUSTOM_FIELDS": "contact:favourite_language,deal:renewal_term",
    }
    return Host(HostSettings.from_env({**base, **env}))


async def _started(host: Host, provider: str) -> None:
    await host.start()
    record = host.plugins.records[provider]
    if not record.started:
        pytest.fail(
            f"the {provider} plugin did not start: {record.failure or record.config_issues}"
        )


@pytest.fixture
async def memory_crm(tmp_path: Path) -> AsyncIterator[Any]:
    host = _host(tmp_path, ATOM_DISABLE_PLUGIN_AUTOLOAD="1", ATOM_CRM_PROVIDER="memory")
    await _started(host, "memory")
    try:
        yield await host.services.get_service("crm", PRINCIPAL)
    finally:
        await host.stop()


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated once per session; each test works on a copy (a migration
    takes about a second, a copy a millisecond)."""
    missing = _missing_hubspot_module()
    if missing:
        pytest.skip(
            f"{missing} does not exist yet: the HubSpot provider of the CRM contract "
            "suite runs once the sandbox, runtime and CRM service are in place"
        )
    from atom_hubspot.storage.db import migrate

    path = tmp_path_factory.mktemp("contract-db") / "migrated.sqlite3"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
async def hubspot_crm(
    tmp_path: Path, hubspot_env: dict[str, str], migrated_sqlite_file: Path
) -> AsyncIterator[Any]:
    from atom_hubspot.client import RateLimitGovernor
    from atom_hubspot.sandbox import PortalConfig, SandboxConfig
    from atom_hubspot.sandbox.testing import sandbox_transport

    database = tmp_path / "hubspot.sqlite3"
    shutil.copyfile(migrated_sqlite_file, database)
    sqlite_url = f"sqlite:///{database}"
    # Both plugins run; ATOM_CRM_PROVIDER alone decides which one callers get.
    host = _host(
        tmp_path,
        **hubspot_env,
        ATOM_DATABASE_URL=sqlite_url,
        ATOM_PLUGINS="hubspot",
        ATOM_CRM_PROVIDER="hubspot",
    )
    host.context.state["hubspot.transport"] = sandbox_transport(
        SandboxConfig(
            portals=[PortalConfig(portal_id=PORTAL_ID, seed=False, company_currency="USD")],
            requests_per_10s=None,
            search_per_s=None,
            private_app_tokens={PRIVATE_APP_TOKEN: PORTAL_ID},
            extra_properties=CUSTOM_FIELDS,
        )
    )
    # The client's own budget would only add waiting here: the sandbox's limits are off.
    host.context.state["hubspot.governor"] = RateLimitGovernor(
        requests_per_10s=1_000_000, search_per_s=1_000_000
    )
    await _started(host, "hubspot")
    try:
        runtime = host.context.state["hubspot"]
        await runtime.connections.save_private_app_token(PRINCIPAL, PRIVATE_APP_TOKEN)
        yield await host.services.get_service("crm", PRINCIPAL)
    finally:
        await host.stop()


@pytest.fixture(params=["memory", "hubspot"])
def crm_provider(request: pytest.FixtureRequest) -> CRMService:
    """The `crm` service of one provider, for the shared contract suite."""
    service: CRMService = request.getfixturevalue(f"{request.param}_crm")
    assert isinstance(service, CRMService)
    assert service.provider == request.param
    return service
