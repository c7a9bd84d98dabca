from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from atom_hubspot.oauth import OAuthFlow
from tests.oauth.fakes import FakeHubSpot


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def connect(flow: OAuthFlow, fake: FakeHubSpot, principal, **start_kw):
    start = await flow.start(principal, **start_kw)
    q = query(start.url)
    code = fake.new_code(q["redirect_uri"])
    return await flow.complete(code=code, state=q["state"], error=None, principal=principal)
