"""The dashboard in headless Chromium, served by uvicorn from a production host whose database
holds a portal connected in QA: a signed-in browser sees the environment in force and the QA
account marked as out of use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.environments.conftest import KEYS, QA_PORTAL, World
from tests.host.conftest import served
from tests.host.test_dashboard_browser import ARTIFACTS, card, chromium  # noqa: F401 - fixture

pytestmark = pytest.mark.browser


@contextmanager
def serving(world: World, environment: str) -> Iterator[str]:
    """A host of `environment` on the world's database and sandbox, served by uvicorn."""
    from atom_host_stub.app import create_app
    from atom_host_stub.host import Host

    host = Host.from_env({**world.base_env, "HUBSPOT_ENVIRONMENT": environment})
    host.context.state["hubspot.transport"] = world.qa if environment == "qa" else world.production
    with served(create_app(host)) as base:
        yield base


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_signed_in_browser_sees_the_environment_and_each_accounts(
    world: World,
    chromium: Any,  # noqa: F811 - the fixture imported above
) -> None:
    from selenium.webdriver.common.by import By

    async with world.host("qa") as qa:
        assert (await qa.connect("alice", QA_PORTAL)).status_code == 200

    with serving(world, "production") as base:
        chromium.get(base + "/sign-in")
        chromium.find_element(By.ID, "api_key").send_keys(KEYS["alice"])
        chromium.find_element(By.CSS_SELECTOR, "form[action='/sign-in'] button").click()
        chromium.get(base + "/")
        hubspot = card(chromium, "hubspot")
        assert hubspot.get_attribute("data-status") == "not_connected"
        row = hubspot.find_element(By.CSS_SELECTOR, "table.accounts tr")
        cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
        assert cells == [str(QA_PORTAL), "acme-test.hubspot.sandbox", "qa", "other environment"]
        hubspot.find_element(By.CSS_SELECTOR, "details.in-effect summary").click()
        settings = {
            tr.find_elements(By.TAG_NAME, "td")[0].text: tr.find_elements(By.TAG_NAME, "td")[1].text
            for tr in hubspot.find_elements(By.CSS_SELECTOR, "details.in-effect tr")
        }
        assert settings["HubSpot environment"] == "production"
        assert settings["HubSpot API"] == "http://sandbox.local"
        ARTIFACTS.mkdir(exist_ok=True)
        assert chromium.save_screenshot(str(ARTIFACTS / "dashboard-environments.png"))
