"""Webhook deliveries are checked against the client secret of the app in force: under QA the
QA app's signature is taken and the production app's refused, and the other way round."""

from __future__ import annotations

import pytest

from tests.conftest import SANDBOX_CLIENT_SECRET
from tests.environments.conftest import QA_CLIENT_SECRET, QA_PORTAL, World
from tests.feed.test_receiver import deliver, event


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_deliveries_are_signed_by_the_app_in_force(world: World) -> None:
    secrets = {"production": SANDBOX_CLIENT_SECRET, "qa": QA_CLIENT_SECRET}
    for environment, other in (("qa", "production"), ("production", "qa")):
        async with world.host(environment) as host:
            refused = await deliver(host, [event(1, portal_id=QA_PORTAL)], secret=secrets[other])
            assert refused.status_code == 401, (environment, refused.text)
            taken = await deliver(
                host, [event(2, portal_id=QA_PORTAL)], secret=secrets[environment]
            )
            assert taken.status_code == 204, (environment, taken.text)
