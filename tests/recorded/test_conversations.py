"""Recorded conversations: our client replayed against vcrpy cassettes, without the sandbox.

Each test drives one conversation HubSpot has with us — OAuth code exchange and refresh,
contacts CRUD and search paging, a deal with associations, list membership, a campaign with
metrics, a single send — through `atom_hubspot.client`. Replayed (the default), every request
must match a recorded one on method, path, query and body, every recorded answer must be used
exactly once, and the transport behind the cassette fails the test if anything gets past it.

Cassettes under tests/cassettes/sandbox/ were recorded against the offline sandbox; re-record
them with `ATOM_RECORD_CASSETTES=sandbox pytest tests/recorded`. Maintainers with a HubSpot
developer test account re-record against HubSpot with
`ATOM_RECORD_CASSETTES=hubspot HUBSPOT_TEST_ACCOUNT_TOKEN=<private app token> pytest
tests/recorded` (see tests/cassettes/README.md); those cassettes then replay here as well.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from atom_hubspot.client import (
    Filter,
    FilterGroup,
    HubSpotClient,
    HubSpotHTTP,
    OAuthAPI,
    RateLimitGovernor,
    SearchRequest,
    StaticToken,
    inline_association,
)
from atom_hubspot.errors import NotFound
from atom_hubspot.settings import HubSpotSettings
from tests.recorded.recorder import CASSETTES, make_vcr, record_target

SANDBOX_URL = "http://sandbox.local"
HUBSPOT_URL = "https://api.hubapi.com"
SANDBOX_TOKEN = "pat-na1-cassette-recording-token-0000"  # noqa: S105 - sandbox-only token
CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105 - the sandbox's fake app secret
REDIRECT_URI = "http://host.local/auth/hubspot/callback"
TARGETS = ("sandbox", "hubspot")


def _no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"request got past the cassette: {request.method} {request.url.path}")


@dataclass
class Conversation:
    target: str
    client: HubSpotClient
    oauth: OAuthAPI
    http: HubSpotHTTP
    sandbox_transport: httpx.AsyncBaseTransport | None
    recording: bool


async def _nosleep(_: float) -> None:
    return None


def _settings(base: str) -> HubSpotSettings:
    return HubSpotSettings(  # type: ignore[call-arg]
        _env_file=None,
        HUBSPOT_API_BASE_URL=base,
        # A cassette holds the paths of the release it was recorded with.
        HUBSPOT_API_VERSION="2026-03",
        HUBSPOT_CLIENT_ID=CLIENT_ID,
        HUBSPOT_CLIENT_SECRET=CLIENT_SECRET,
        HUBSPOT_AUTHORIZE_URL=base + "/oauth/authorize",
    )


@pytest.fixture(params=TARGETS)
async def conversation(request: pytest.FixtureRequest) -> AsyncIterator[Conversation]:
    target: str = request.param
    recording = record_target() == target
    name = request.node.originalname.removeprefix("test_")
    cassette = CASSETTES / target / f"{name}.{target}.yaml"
    sandbox_transport = None
    if target == "hubspot":
        token = os.environ.get("HUBSPOT_TEST_ACCOUNT_TOKEN", "")
        if recording and not token:
            pytest.skip("re-recording against HubSpot needs HUBSPOT_TEST_ACCOUNT_TOKEN")
        if not recording and not cassette.exists():
            pytest.skip("no cassette recorded against HubSpot yet (see tests/cassettes/README.md)")
        base, transport = HUBSPOT_URL, (None if recording else httpx.MockTransport(_no_network))
    else:
        token = SANDBOX_TOKEN
        base = SANDBOX_URL
        if recording:
            from atom_hubspot.sandbox import DEMO_PORTAL_ID, SandboxConfig
            from atom_hubspot.sandbox.testing import sandbox_transport as make_transport

            sandbox_transport = make_transport(
                SandboxConfig(
                    private_app_tokens={SANDBOX_TOKEN: DEMO_PORTAL_ID},
                    requests_per_10s=None,
                    search_per_s=None,
                )
            )
            transport = sandbox_transport
        else:
            assert cassette.exists(), f"missing cassette {cassette}; record it (module doc)"
            transport = httpx.MockTransport(_no_network)
    governor = RateLimitGovernor(requests_per_10s=10_000, search_per_s=1_000, sleep=_nosleep)
    http = HubSpotHTTP(_settings(base), transport=transport, governor=governor, sleep=_nosleep)
    conv = Conversation(
        target,
        HubSpotClient(http, StaticToken(token), portal_id=None),
        OAuthAPI(http, CLIENT_ID, CLIENT_SECRET),
        http,
        sandbox_transport,
        recording,
    )
    try:
        yield conv
    finally:
        await http.aclose()


async def play(
    conv: Conversation, name: str, body: Callable[[Conversation], Awaitable[Any]]
) -> Any:
    """Run `body` inside the cassette `name`; replayed, every recorded answer must be used."""
    if conv.recording:  # a re-recording replaces the cassette (vcrpy would append to it)
        (CASSETTES / conv.target / f"{name}.{conv.target}.yaml").unlink(missing_ok=True)
    with make_vcr(conv.target).use_cassette(name) as cassette:
        out = await body(conv)
        if not conv.recording:
            assert cassette.all_played, (
                f"{len(cassette.data) - cassette.play_count} recorded answer(s) never asked for"
            )
    return out


# --------------------------------------------------------------------------- conversations


async def test_oauth_code_exchange_and_refresh(conversation: Conversation) -> None:
    conv = conversation
    if conv.target == "hubspot":
        pytest.skip("HubSpot's authorize step needs a person in a browser; not re-recorded")
    code = "replayed-code"  # scrubbed in the cassette: any value matches
    if conv.recording:
        from urllib.parse import urlencode

        from atom_hubspot.sandbox.testing import approve, query_of

        assert conv.sandbox_transport is not None
        url = f"{SANDBOX_URL}/oauth/authorize?" + urlencode(
            {
                "client_id": CLIENT_ID,
                "redirect_uri": REDIRECT_URI,
                "state": "s1",
                "scope": "oauth crm.objects.contacts.read crm.objects.contacts.write",
            }
        )
        code = query_of(await approve(url, conv.sandbox_transport))["code"]

    async def body(c: Conversation) -> Any:
        first = await c.oauth.exchange_code(code, REDIRECT_URI)
        second = await c.oauth.refresh(first.refresh_token.get_secret_value())  # type: ignore[union-attr]
        return first, second

    first, second = await play(conv, "oauth_code_exchange_and_refresh", body)
    assert first.token_type.lower() == "bearer"
    assert first.expires_in > 0 and second.expires_in > 0
    assert first.hub_id is not None and second.hub_id == first.hub_id
    assert first.refresh_token is not None
    assert "crm.objects.contacts.read" in (first.scopes or [])
    if not conv.recording:  # what the cassette holds in place of the tokens
        assert first.access_token.get_secret_value() == "SCRUBBED-ACCESS"
        assert first.refresh_token.get_secret_value() == "SCRUBBED-REFRESH"


async def test_contacts_crud_and_search_paging(conversation: Conversation) -> None:
    email = "cassette.crud@atom-hubspot.example"

    async def body(c: Conversation) -> Any:
        contacts = c.client.contacts
        created = await contacts.create({"email": email, "firstname": "Cass", "lastname": "Ette"})
        got = await contacts.get(created.id, properties=["email", "firstname", "lastname"])
        by_email = await contacts.get(email, id_property="email")
        updated = await contacts.update(created.id, {"lastname": "Recorded"})
        req = SearchRequest(
            filter_groups=[
                FilterGroup(filters=[Filter.eq("lifecyclestage", "lead")]),
                FilterGroup(filters=[Filter.eq("email", email)]),
            ],
            properties=["email", "lifecyclestage"],
            limit=3,
        )
        first_page = await contacts.search(req)
        second_page = await contacts.search(req.model_copy(update={"after": first_page.next_after}))
        await contacts.archive(created.id)
        try:
            await contacts.get(created.id)
            gone = False
        except NotFound:
            gone = True
        return created, got, by_email, updated, first_page, second_page, gone

    created, got, by_email, updated, p1, p2, gone = await play(
        conversation, "contacts_crud_and_search_paging", body
    )
    assert created.id and got.id == created.id == by_email.id
    assert got.properties["email"] == email and got.properties["firstname"] == "Cass"
    assert updated.properties["lastname"] == "Recorded"
    assert p1.total is not None and p1.total >= 4
    assert len(p1.results) == 3 and p1.next_after is not None
    assert p2.results and not {r.id for r in p1.results} & {r.id for r in p2.results}
    assert gone


async def test_deal_with_associations(conversation: Conversation) -> None:
    async def body(c: Conversation) -> Any:
        cl = c.client
        contact = await cl.contacts.batch_upsert(
            [("cassette.deal@atom-hubspot.example", {"firstname": "Dee"})]
        )
        company = await cl.companies.create({"name": "Cassette Co", "domain": "cassette.example"})
        contact_id = contact.results[0].id
        deal = await cl.deals.create(
            {
                "dealname": "Recorded deal",
                "amount": "1500.50",
                "pipeline": "default",
                "dealstage": "qualifiedtobuy",
                "closedate": "2026-12-31T00:00:00.000Z",
            },
            associations=[inline_association("deals", "contacts", contact_id)],
        )
        await cl.associations.link_default("deals", deal.id, "companies", company.id)
        to_contacts = await cl.associations.list("deals", deal.id, "contacts")
        to_companies = await cl.associations.list("deals", deal.id, "companies")
        read = await cl.deals.get(deal.id, associations=["contacts", "companies"])
        return contact_id, company.id, deal, to_contacts, to_companies, read

    contact_id, company_id, deal, to_contacts, to_companies, read = await play(
        conversation, "deal_with_associations", body
    )
    assert deal.properties["dealstage"] == "qualifiedtobuy"
    assert [r.id for r in to_contacts.results] == [contact_id]
    assert [r.id for r in to_companies.results] == [company_id]
    assert {r.id for r in read.associations.get("contacts", [])} == {contact_id}


async def test_list_membership(conversation: Conversation) -> None:
    async def body(c: Conversation) -> Any:
        cl = c.client
        page = await cl.contacts.list(limit=3)
        ids = [r.id for r in page.results]
        created = await cl.lists.create("Recorded list (cassette)")
        added = await cl.lists.add_members(created.list_id, [*ids, "999999999"])
        members = [m async for m in cl.lists.iter_members(created.list_id, page_size=2)]
        removed = await cl.lists.remove_members(created.list_id, ids[:1])
        found = await cl.lists.search("Recorded list")
        return ids, created, added, members, removed, found

    ids, created, added, members, removed, found = await play(conversation, "list_membership", body)
    assert created.processing_type == "MANUAL"
    assert sorted(added.added) == sorted(ids) and added.missing == ["999999999"]
    assert sorted(str(m.record_id) for m in members) == sorted(ids)
    assert removed.removed == ids[:1]
    assert created.list_id in {x.list_id for x in found.lists}


async def test_campaign_with_metrics(conversation: Conversation) -> None:
    async def body(c: Conversation) -> Any:
        cl = c.client
        created = await cl.campaigns.create(
            "Recorded campaign",
            start_date="2026-10-01",
            end_date="2026-12-31",
            notes="from a cassette",
        )
        got = await cl.campaigns.get(created.id)
        metrics = await cl.campaigns.metrics(created.id, "2026-10-01", "2026-11-30")
        return created, got, metrics

    created, got, metrics = await play(conversation, "campaign_with_metrics", body)
    assert created.id == got.id and len(created.id) >= 32  # a GUID
    assert got.properties.get("hs_name") == "Recorded campaign"
    assert metrics.sessions is not None and metrics.influenced_contacts is not None


async def test_single_send(conversation: Conversation) -> None:
    async def body(c: Conversation) -> Any:
        cl = c.client
        emails = await cl.emails.list(limit=1)
        email_id = int(emails.results[0].id)
        sent = await cl.sends.single_send(
            email_id,
            "cassette.recipient@atom-hubspot.example",
            contact_properties={"firstname": "Cass"},
            send_id="cassette-send-1",
        )
        return email_id, sent

    email_id, sent = await play(conversation, "single_send", body)
    assert email_id > 0
    assert sent.status and sent.status_id
    assert sent.send_result in ("SENT", "QUEUED", "IDEMPOTENT_IGNORE")
