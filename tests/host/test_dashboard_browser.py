"""The status dashboard in real headless Chromium, served by uvicorn on a loopback port.

Screenshots land in test-artifacts/ (desktop and phone widths) for people to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.host.conftest import HostFactory, plugin_modules, served

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture
def dashboard_url(make_host: HostFactory) -> Iterator[str]:
    """The real hubspot plugin (unconfigured) beside test plugins that work and that fail."""
    from atom_host_stub.app import create_app

    host = make_host(
        autoload=True,
        ATOM_PLUGINS="hubspot",
        ATOM_EXTRA_PLUGINS=plugin_modules("good", "broken_import", "raising_startup"),
    )
    with served(create_app(host)) as base:
        yield base + "/"


@pytest.fixture
def chromium(browser_binary: str, tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser_binary
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1280,1000",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def card(driver: Any, name: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, f"integration-{name}")


def test_dashboard_shows_each_plugin_with_its_status(chromium: Any, dashboard_url: str) -> None:
    chromium.get(dashboard_url)
    assert chromium.title == "ATOM integrations"

    good = card(chromium, "good")
    assert good.get_attribute("data-status") == "ok"
    assert "Good Example" in good.text and "OK" in good.text  # the pill is upper-cased by CSS
    assert "good-ok" in good.text and " ms" in good.text  # health result with its duration

    hubspot = card(chromium, "hubspot")
    assert hubspot.get_attribute("data-status") == "misconfigured"
    assert "HUBSPOT_CLIENT_ID" in hubspot.text

    broken = card(chromium, "broken_import")
    assert broken.get_attribute("data-status") == "failed"
    assert "cannot import: a required library is missing" in broken.text
    assert card(chromium, "raising_startup").get_attribute("data-status") == "failed"

    refresh = chromium.execute_script(
        "return document.querySelector('meta[http-equiv=refresh]').content"
    )
    assert int(refresh) > 0
    ARTIFACTS.mkdir(exist_ok=True)
    assert chromium.save_screenshot(str(ARTIFACTS / "dashboard.png"))


def test_dashboard_is_readable_on_a_phone(chromium: Any, dashboard_url: str) -> None:
    chromium.set_window_size(390, 844)
    chromium.get(dashboard_url)
    width = chromium.execute_script("return window.innerWidth")
    assert width <= 420
    # Nothing wider than the screen: no sideways scrolling.
    assert chromium.execute_script("return document.documentElement.scrollWidth") <= width
    good = card(chromium, "good")
    assert good.size["width"] <= width and good.location["x"] >= 0
    font = chromium.execute_script("return parseFloat(getComputedStyle(document.body).fontSize)")
    assert font >= 14
    ARTIFACTS.mkdir(exist_ok=True)
    assert chromium.save_screenshot(str(ARTIFACTS / "dashboard-phone.png"))
