"""The authorization-code flow: state handling, what is stored, what is refused."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from atom_hubspot.oauth import (
    OAuthCodeRejected,
    OAuthDenied,
    OAuthSignInRequired,
    OAuthStateForeign,
    OAuthStateInvalid,
)
from atom_hubspot.storage.models import Connection, OAuthState, PortalDetails, Token
from tests.oauth.conftest import ALICE, BOB, MALLORY
from tests.oauth.helpers import connect, query


async def _count(db, model) -> int:
    async with db.session(None) as s:
        return int(await s.scalar(sa.select(sa.func.count()).select_from(model)))


async def _nothing_stored(db) -> None:
    assert await _count(db, Connection) == 0
    assert await _count(db, Token) == 0
    assert await _count(db, PortalDetails) == 0


async def test_authorize_url_carries_scopes_state_and_configured_redirect(flow, settings, db):
    start = await flow.start(ALICE)
    q = query(start.url)
    assert start.url.startswith(settings.authorize_url + "?")
    assert q["client_id"] == settings.client_id
    assert q["redirect_uri"] == settings.redirect_uri
    assert q["scope"].split(" ") == settings.scopes
    assert "crm.objects.contacts.read" in q["scope"]
    assert q["optional_scope"].split(" ") == settings.optional_scope_names
    assert "%20" in start.url and "+" not in start.url.split("scope=")[1].split("&")[0]
    assert len(q["state"]) >= 40
    # Only the hash of the state is kept.
    async with db.session(None) as s:
        rows = list(await s.scalars(sa.select(OAuthState)))
    assert len(rows) == 1 and rows[0].state_hash != q["state"]
    assert q["state"] not in rows[0].state_hash
    assert (rows[0].expires_at - flow.clock()).total_seconds() == 600


async def test_full_flow_stores_connection_encrypted(flow, fake, manager, db):
    info = await connect(flow, fake, ALICE)
    assert info.portal_id == fake.portal_id
    assert info.hub_domain == "demo.hubspot.com"
    assert info.status == "connected" and info.is_default and info.auth_kind == "oauth"
    assert "crm.objects.contacts.read" in info.scopes
    dumped = info.model_dump_json()
    assert not any(t in dumped for t in fake.issued)
    async with db.session(None) as s:
        tok = (await s.scalars(sa.select(Token))).one()
        det = (await s.scalars(sa.select(PortalDetails))).one()
    assert tok.access_token.startswith("v1.k1.") and tok.refresh_token.startswith("v1.k1.")
    assert det.hubspot_user == "owner@example.com" and det.company_currency == "EUR"
    listed = await manager.list(ALICE)
    assert [c.id for c in listed] == [info.id]
    # The client gets the access token HubSpot issued.
    client, _conn = await manager.client_for(ALICE)
    assert await client.token.access_token() == fake.issued[0]


async def test_pkce_verifier_reaches_token_endpoint(flow, fake):
    start = await flow.start(ALICE, use_pkce=True)
    q = query(start.url)
    assert q["code_challenge_method"] == "S256"
    code = fake.new_code(q["redirect_uri"])
    await flow.complete(code=code, state=q["state"], error=None, principal=ALICE)
    import base64
    import hashlib

    verifier = fake.verifiers[-1]
    assert verifier
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode()
    assert digest.rstrip("=") == q["code_challenge"]


async def test_forged_state_refused(flow, fake, db):
    await flow.start(ALICE)
    with pytest.raises(OAuthStateInvalid) as ei:
        await flow.complete(
            code=fake.new_code(flow.redirect_uri), state="forged-state", error=None, principal=ALICE
        )
    assert ei.value.details["reason"] == "unknown" and ei.value.http_status == 400
    await _nothing_stored(db)


async def test_missing_state_refused(flow, fake, db):
    with pytest.raises(OAuthStateInvalid):
        await flow.complete(code="x", state=None, error=None, principal=ALICE)
    await _nothing_stored(db)


async def test_expired_state_refused(flow, fake, db, clock):
    q = query((await flow.start(ALICE)).url)
    clock.advance(601)
    with pytest.raises(OAuthStateInvalid) as ei:
        await flow.complete(
            code=fake.new_code(q["redirect_uri"]), state=q["state"], error=None, principal=ALICE
        )
    assert ei.value.details["reason"] == "expired"
    await _nothing_stored(db)


async def test_replayed_state_refused(flow, fake, db):
    q = query((await flow.start(ALICE)).url)
    await flow.complete(
        code=fake.new_code(q["redirect_uri"]), state=q["state"], error=None, principal=ALICE
    )
    async with db.session(None) as s:
        await s.execute(sa.delete(Token))
        await s.execute(sa.delete(PortalDetails))
        await s.execute(sa.delete(Connection))
    with pytest.raises(OAuthStateInvalid) as ei:
        await flow.complete(
            code=fake.new_code(q["redirect_uri"]), state=q["state"], error=None, principal=ALICE
        )
    assert ei.value.details["reason"] == "used"
    await _nothing_stored(db)


@pytest.mark.parametrize(
    ("other", "refusal", "status"),
    [(BOB, OAuthStateForeign, 403), (MALLORY, OAuthStateInvalid, 400)],
    ids=["same-tenant", "other-tenant"],
)
async def test_cross_principal_state_refused(flow, fake, db, other, refusal, status):
    # Another tenant cannot even see the state (it reads as unknown); a colleague is told whose.
    q = query((await flow.start(ALICE)).url)
    with pytest.raises(refusal) as ei:
        await flow.complete(
            code=fake.new_code(q["redirect_uri"]), state=q["state"], error=None, principal=other
        )
    assert ei.value.http_status == status
    await _nothing_stored(db)
    # The refusal did not burn Alice's state.
    info = await flow.complete(
        code=fake.new_code(q["redirect_uri"]), state=q["state"], error=None, principal=ALICE
    )
    assert info.user_id == "alice"


async def test_access_denied_stores_nothing(flow, fake, db):
    q = query((await flow.start(ALICE)).url)
    with pytest.raises(OAuthDenied) as ei:
        await flow.complete(code=None, state=q["state"], error="access_denied", principal=ALICE)
    assert ei.value.http_status == 400 and "declined" in ei.value.message
    await _nothing_stored(db)
    assert fake.refresh_calls == 0 and not fake.verifiers


async def test_rejected_code_stores_nothing(flow, fake, db):
    q = query((await flow.start(ALICE)).url)
    with pytest.raises(OAuthCodeRejected):
        await flow.complete(code="not-a-code", state=q["state"], error=None, principal=ALICE)
    await _nothing_stored(db)


async def test_callback_without_a_signed_in_principal_connects_nothing(flow, fake, db):
    # A browser nobody signed in to could be anyone's: the link may have been forwarded.
    q = query((await flow.start(MALLORY)).url)
    with pytest.raises(OAuthSignInRequired) as ei:
        await flow.complete(
            code=fake.new_code(q["redirect_uri"]), state=q["state"], error=None, principal=None
        )
    assert ei.value.http_status == 401 and "Sign in" in ei.value.message
    await _nothing_stored(db)
    # The state was not spent: once signed in as the one who started, the link works.
    info = await flow.complete(
        code=fake.new_code(q["redirect_uri"]), state=q["state"], error=None, principal=MALLORY
    )
    assert (info.tenant_id, info.user_id) == ("t2", "mallory")


async def test_pkce_is_on_by_default_and_a_setting_turns_it_off(flow, fake, settings):
    q = query((await flow.start(ALICE)).url)
    assert q["code_challenge_method"] == "S256"
    await flow.complete(
        code=fake.new_code(q["redirect_uri"]), state=q["state"], error=None, principal=ALICE
    )
    assert fake.verifiers[-1]
    flow.settings = settings.model_copy(update={"use_pkce": False})
    q = query((await flow.start(ALICE)).url)
    assert "code_challenge" not in q
    await flow.complete(
        code=fake.new_code(q["redirect_uri"]), state=q["state"], error=None, principal=ALICE
    )
    assert fake.verifiers[-1] is None
