"""/docs and /redoc load every script and stylesheet from the host itself, so the API docs
work without internet access."""

from __future__ import annotations

import re

import pytest

from atom_host_stub.app import create_app
from tests.host.conftest import HostFactory, serving

_ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_use_only_assets_the_host_serves(
    make_host: HostFactory, page: str
) -> None:
    app = create_app(make_host("good"))
    async with serving(app) as client:
        html = await client.get(page)
        assert html.status_code == 200
        # Every URL in the page (scripts, styles, icon, fonts) is on this host.
        urls = _ASSET.findall(html.text) + re.findall(r"https?://[^\s\"'<>)]+", html.text)
        assert urls
        assert not [u for u in urls if u.startswith(("http:", "https:", "//"))], urls
        scripts = [u for u in _ASSET.findall(html.text) if u.endswith(".js")]
        assert scripts
        for url in scripts + [u for u in _ASSET.findall(html.text) if u.endswith(".css")]:
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 10_000, url  # the real bundle, not a stub
