"""The host's CRM contract suite (atom_host_stub.testing.crm_contract) run against HubSpot,
through the same test kit any CRM plugin uses. The in-memory example plugin runs it with the
kit's one option: see test_memory_example.py."""

from __future__ import annotations

from typing import Any

import pytest

from atom_host_stub.contract import Principal
from atom_host_stub.host import Host
from atom_host_stub.testing.crm_contract import CRMContract
from tests.contract.hubspot_provider import connect_hubspot, hubspot_provider_state


class TestHubSpotCRM(CRMContract):
    @pytest.fixture
    def atom_crm_provider(self) -> str:
        return "hubspot"

    @pytest.fixture
    def atom_env(
        self, atom_env: dict[str, str], hubspot_provider_env: dict[str, str]
    ) -> dict[str, str]:
        return {**atom_env, **hubspot_provider_env}

    @pytest.fixture
    def atom_host_state(self) -> dict[str, Any]:
        return hubspot_provider_state()

    @pytest.fixture
    async def atom_host(self, atom_host: Host, atom_principal: Principal) -> Host:
        await connect_hubspot(atom_host.context.state, atom_principal)
        return atom_host
