"""End to end against the offline sandbox (in-process, httpx.ASGITransport), in both API
version styles: OAuth, CRM, associations, pipelines, lists, marketing, and the rate limit."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import pytest

from atom_hubspot.client import (
    Filter,
    HubSpotClient,
    HubSpotHTTP,
    OAuthAPI,
    RateLimitGovernor,
    SearchRequest,
    StaticToken,
    inline_association,
)
from atom_hubspot.client.wire import HttpxWire
from atom_hubspot.errors import NotFound, ReconnectRequired, TierRequired
from atom_hubspot.sandbox import SandboxConfig
from atom_hubspot.sandbox.config import DEMO_PORTAL_ID, PortalConfig
from atom_hubspot.sandbox.testing import SANDBOX_BASE_URL, approve, query_of, sandbox_transport
from tests.client.fakes import VirtualClock, settings

PAT = "pat-sandbox-e2e-token-0001"
CLIENT_ID, CLIENT_SECRET = "sandbox-client-id", "sandbox-client-secret"
VERSIONS = ["2026-03", "v3"]


class SandboxClock:
    """The sandbox reads the same virtual time the governor waits on."""

    def __init__(self, vc: VirtualClock) -> None:
        self.vc = vc

    def now(self) -> float:
        return self.vc.time()

    async def sleep(self, seconds: float) -> None:
        await self.vc.sleep(seconds)


def stack(version: str, *, clock: VirtualClock | None = None, **config):
    clock = clock or VirtualClock()
    config.setdefault("private_app_tokens", {PAT: DEMO_PORTAL_ID})
    config.setdefault(
        "search_lag_s", 0
    )  # search sees writes at once: these tests are not about index lag
    transport = sandbox_transport(SandboxConfig(clock=SandboxClock(clock), **config))
    s = settings(HUBSPOT_API_VERSION=version, HUBSPOT_API_BASE_URL=SANDBOX_BASE_URL)
    gov = RateLimitGovernor(
        requests_per_10s=s.requests_per_10s, clock=clock.time, sleep=clock.sleep
    )
    http = HubSpotHTTP(s, transport=transport, governor=gov)
    client = HubSpotClient(http, StaticToken(PAT), portal_id=DEMO_PORTAL_ID)
    return client, http, transport.app.state.sandbox, clock


@pytest.mark.parametrize("version", VERSIONS)
async def test_oauth_code_refresh_introspect_revoke(version: str) -> None:
    _client, http, _sb, _ = stack(version)
    assert isinstance(http.wire, HttpxWire)
    redirect = "http://host.local/auth/hubspot/callback"
    url = f"{SANDBOX_BASE_URL}/oauth/authorize?" + urlencode(
        {
            "client_id": CLIENT_ID,
            "redirect_uri": redirect,
            "state": "st-1",
            "scope": "oauth crm.objects.contacts.read crm.objects.contacts.write",
        }
    )
    back = query_of(await approve(url, http.wire.client._transport))
    assert back["state"] == "st-1"
    oauth = OAuthAPI(http, CLIENT_ID, CLIENT_SECRET)
    tokens = await oauth.exchange_code(back["code"], redirect)
    assert tokens.expires_in > 0 and tokens.refresh_token is not None
    assert "crm.objects.contacts.read" in (tokens.scopes or ["crm.objects.contacts.read"])
    info = await oauth.introspect(tokens.access_token.get_secret_value())
    assert info.active and info.hub_id == DEMO_PORTAL_ID
    refreshed = await oauth.refresh(tokens.refresh_token.get_secret_value())
    assert refreshed.access_token.get_secret_value() != tokens.access_token.get_secret_value()
    # The refreshed token works for API calls.
    user = HubSpotClient(
        http, StaticToken(refreshed.access_token.get_secret_value()), portal_id=DEMO_PORTAL_ID
    )
    assert (await user.account.details()).portal_id == DEMO_PORTAL_ID
    await oauth.revoke(tokens.refresh_token.get_secret_value())
    with pytest.raises(ReconnectRequired):
        await oauth.refresh(tokens.refresh_token.get_secret_value())
    await http.aclose()


@pytest.mark.parametrize("version", VERSIONS)
async def test_crm_flow(version: str) -> None:
    client, http, _sb, _ = stack(version)
    email = f"e2e-{version}@example.com"
    contact = await client.contacts.create({"email": email, "firstname": "Ann"})
    same = await client.contacts.get(email, id_property="email", properties=["firstname"])
    assert same.id == contact.id and same.properties["firstname"] == "Ann"
    await client.contacts.update(contact.id, {"lastname": "Lee"})
    company = await client.companies.create(
        {"name": "Acme", "domain": f"acme-{version}.example"},
        associations=[inline_association("companies", "contacts", contact.id)],
    )
    linked = await client.associations.list("companies", company.id, "contacts")
    assert [r.id for r in linked.results] == [contact.id]
    deal = await client.deals.create(
        {
            "dealname": "Big",
            "amount": "1000.50",
            "pipeline": "default",
            "dealstage": "appointmentscheduled",
        }
    )
    await client.associations.link_default("deals", deal.id, "contacts", contact.id)
    by_deal = await client.associations.batch_read("deals", "contacts", [deal.id])
    assert [r.id for r in by_deal[deal.id]] == [contact.id]

    found = await client.contacts.search(SearchRequest().where(Filter.eq("email", email)))
    assert found.total == 1 and found.results[0].id == contact.id
    assert await client.contacts.count([]) >= 1

    pipelines = await client.pipelines.list("deals")
    default = next(p for p in pipelines if p.id == "default")
    stages = await client.pipelines.stages("default")
    assert "closedwon" in {s.id for s in stages} and default.stages

    upserted = await client.contacts.batch_upsert(
        [
            {"id": f"bulk{i}-{version}@example.com", "properties": {"firstname": f"B{i}"}}
            for i in range(150)
        ]
    )
    assert upserted.ok and len(upserted.results) == 150
    read = await client.contacts.batch_read([contact.id, "999999999"])
    assert [o.id for o in read.results] == [contact.id]
    assert read.status == "PARTIAL" and read.errors  # the missing id is reported, not dropped

    seen = [o.id async for o in client.contacts.iter_all(max_items=150)]
    assert len(seen) == 150 and len(set(seen)) == 150
    await client.contacts.archive(contact.id)
    with pytest.raises(NotFound):
        await client.contacts.get(contact.id)
    await http.aclose()


@pytest.mark.parametrize("version", VERSIONS)
async def test_properties_list_marks_custom_ones(version: str) -> None:
    client, http, sb, _ = stack(version, extra_properties={"deals": ["renewal_term"]})
    try:
        contacts = {p.name: p for p in await client.properties.list("contacts")}
        assert contacts["email"].hubspot_defined is True and not contacts["email"].is_custom
        deals = {p.name: p for p in await client.properties.list("deals")}
        assert deals["renewal_term"].is_custom and deals["dealname"].hubspot_defined
        assert sb.calls["crm.properties.list"] == 2
    finally:
        await http.aclose()


@pytest.mark.parametrize("version", VERSIONS)
async def test_lists_flow(version: str) -> None:
    client, http, _sb, _ = stack(version)
    created = await client.contacts.batch_upsert(
        [(f"l{i}@example.com", {"firstname": "L"}) for i in range(5)]
    )
    ids = [o.id for o in created.results]
    lst = await client.lists.create(f"VIP {version}")
    assert lst.processing_type == "MANUAL"
    change = await client.lists.add_members(lst.list_id, [*ids, "987654321"])
    assert sorted(change.added) == sorted(ids) and change.missing == ["987654321"]
    members = [m.record_id async for m in client.lists.iter_members(lst.list_id, page_size=2)]
    assert sorted(members) == sorted(ids)
    removed = await client.lists.remove_members(lst.list_id, ids[:2])
    assert sorted(removed.removed) == sorted(ids[:2])
    page = await client.lists.search(query=f"VIP {version}")
    assert any(x.list_id == lst.list_id for x in page.lists)
    assert (await client.lists.get(lst.list_id)).name == f"VIP {version}"
    await http.aclose()


@pytest.mark.parametrize("version", VERSIONS)
async def test_marketing_flow(version: str) -> None:
    client, http, _sb, _ = stack(version)
    details = await client.account.details()
    assert details.portal_id == DEMO_PORTAL_ID and details.time_zone
    emails = await client.emails.list(limit=5)
    assert emails.results
    email = await client.emails.get(emails.results[0].id)
    stats = await client.emails.statistics("2026-01-01", "2026-12-31", [email.id])
    assert isinstance(stats.aggregate, dict)
    campaign = await client.campaigns.create(
        "Spring", start_date="2026-03-01", end_date="2026-03-31"
    )
    assert (await client.campaigns.get(campaign.id)).name == "Spring"
    listed = await client.campaigns.list(limit=50)
    assert any(c.id == campaign.id for c in listed.results)
    metrics = await client.campaigns.metrics(campaign.id, "2026-03-01", "2026-03-31")
    assert metrics.sessions is not None
    sent = await client.sends.single_send(
        int(email.id), "someone@example.com", contact_properties={"firstname": "Sam"}
    )
    assert sent.status
    tx = await client.sends.transactional(int(email.id), "someone@example.com")
    assert tx.status
    await http.aclose()


async def test_tier_gates_become_tier_required() -> None:
    pc = PortalConfig(portal_id=555, seed=True, marketing_tier="starter", transactional_addon=False)
    client, http, _sb, _ = stack("2026-03", portals=[pc], private_app_tokens={PAT: 555})
    client.portal_id = 555
    with pytest.raises(TierRequired) as info:
        await client.campaigns.list()
    assert info.value.required_tier == "Marketing Hub Professional"
    with pytest.raises(TierRequired) as info:
        await client.sends.single_send(1, "a@b.c")
    assert info.value.required_tier == "Marketing Hub Enterprise"
    with pytest.raises(TierRequired) as info:
        await client.sends.transactional(1, "a@b.c")
    assert "transactional" in info.value.required_tier
    await http.aclose()


# --------------------------------------------------------------------------- rate limit


async def test_5000_upserts_at_110_per_10s_reach_no_rate_limit() -> None:
    client, http, sb, clock = stack("2026-03", seed=False)
    start = clock.time()
    inputs = [(f"u{i}@example.com", {"firstname": f"U{i}"}) for i in range(5000)]
    result = await client.contacts.batch_upsert(inputs)
    assert result.ok and len(result.results) == 5000
    assert sum(sb.limits.rejected.values()) == 0
    assert clock.time() - start < 10  # 50 calls fit in one window
    await http.aclose()


async def test_thousands_of_single_calls_stay_under_the_limit_and_near_it() -> None:
    """1,000 single-record updates from 40 concurrent tasks through one governor: the
    sandbox (enforcing 110 per rolling 10 s) refuses none, and the run takes about the
    limit's bound ((1,000 - 110) / 110 * 10 s = 81 s of virtual time)."""
    client, http, sb, clock = stack("v3", seed=False)
    created = await client.contacts.batch_upsert([(f"s{i}@example.com", {}) for i in range(100)])
    ids = [o.id for o in created.results]
    start = clock.time()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(1000):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            await client.contacts.update(ids[i % 100], {"firstname": f"N{i}"})

    await asyncio.gather(*(worker() for _ in range(40)))
    elapsed = clock.time() - start
    assert sum(sb.limits.rejected.values()) == 0
    bound = (1000 - 110) / 110 * 10  # the first 110 may go at once
    assert bound <= elapsed <= bound * 1.15, elapsed
    await http.aclose()


async def test_search_bursts_stay_under_5_per_second() -> None:
    client, http, sb, clock = stack("2026-03")
    await asyncio.gather(*(client.contacts.count() for _ in range(30)))
    assert sb.limits.rejected["SECONDLY"] == 0
    assert clock.time() - 1_800_000_000.0 >= 5.0  # 30 searches need 6 one-second windows
    await http.aclose()


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize("version", VERSIONS)
async def test_lost_answer_on_create_is_outcome_unknown_and_done_once(version: str) -> None:
    from atom_hubspot.errors import OutcomeUnknown
    from atom_hubspot.sandbox import FaultConfig

    client, http, _sb, _ = stack(version, faults=FaultConfig(script=["lost_answer"]))
    with pytest.raises(OutcomeUnknown):
        await client.contacts.create({"email": f"lost-{version}@example.com"})
    # HubSpot did it; we did not do it twice. The upsert is the safe way to make sure.
    found = await client.contacts.search(
        SearchRequest().where(Filter.eq("email", f"lost-{version}@example.com"))
    )
    assert found.total == 1
    again = await client.contacts.batch_upsert(
        [(f"lost-{version}@example.com", {"firstname": "Lost"})]
    )
    assert [o.id for o in again.results] == [found.results[0].id]
    await http.aclose()


async def test_gateway_faults_on_batch_upsert_are_retried_without_loss() -> None:
    from atom_hubspot.sandbox import FaultConfig

    client, http, sb, _ = stack(
        "2026-03", seed=False, faults=FaultConfig(script=["502", "503", "timeout", "reset", "504"])
    )
    result = await client.contacts.batch_upsert(
        [(f"f{i}@example.com", {"firstname": "F"}) for i in range(500)]
    )
    assert result.ok and len({o.id for o in result.results}) == 500
    assert sum(sb.faults_injected.values()) == 5
    await http.aclose()


async def test_single_send_is_never_sent_twice_after_a_lost_answer() -> None:
    from atom_hubspot.errors import OutcomeUnknown
    from atom_hubspot.sandbox import FaultConfig

    client, http, sb, _ = stack("2026-03")
    email_id = int((await client.emails.list(limit=1)).results[0].id)
    sb.set_faults(FaultConfig(script=["lost_answer"]))
    with pytest.raises(OutcomeUnknown):
        await client.sends.single_send(email_id, "once@example.com")
    assert len([s for s in sb.sends() if "once@example.com" in str(s)]) == 1
    await http.aclose()


async def test_daily_limit_fails_fast() -> None:
    from atom_hubspot.errors import RateLimited

    client, http, sb, _clock = stack("2026-03", daily_limit=3)
    for _ in range(3):
        await client.account.details()
    with pytest.raises(RateLimited) as info:
        await client.account.details()
    assert info.value.policy == "DAILY"
    calls = sum(sb.calls.values())
    with pytest.raises(RateLimited):
        await client.contacts.get(1)
    assert sum(sb.calls.values()) == calls  # the second call never reached the sandbox
    await http.aclose()
