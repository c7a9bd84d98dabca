"""Token sessions: refresh ahead of expiry, single flight, dead and flaky refresh tokens."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from atom_hubspot.errors import ReconnectRequired, Unavailable
from atom_hubspot.storage.models import Connection, Token
from tests.oauth.conftest import ALICE
from tests.oauth.helpers import connect


async def _token_row(db) -> Token:
    async with db.session(None) as s:
        return (await s.scalars(sa.select(Token))).one()


async def test_valid_token_is_not_refreshed(flow, fake, manager):
    await connect(flow, fake, ALICE)
    client, _ = await manager.client_for(ALICE)
    assert await client.token.access_token() == fake.issued[0]
    assert fake.refresh_calls == 0


async def test_refresh_ahead_of_expiry_persists_new_tokens(flow, fake, manager, db, clock):
    await connect(flow, fake, ALICE)
    first_access, first_refresh = fake.issued[0], fake.issued[1]
    before = await _token_row(db)
    clock.advance(1800 - 299)  # inside the 5-minute margin
    client, _ = await manager.client_for(ALICE)
    token = await client.token.access_token()
    assert fake.refresh_calls == 1
    assert token == fake.issued[2] != first_access
    after = await _token_row(db)
    assert after.access_token != before.access_token
    assert after.refresh_token != before.refresh_token  # the returned refresh token is kept
    assert after.expires_at == clock.now + __import__("datetime").timedelta(seconds=1800)
    # The old refresh token is dead at the fake; the stored one works for the next refresh.
    assert first_refresh not in fake.refresh_tokens
    clock.advance(1800)
    assert await client.token.access_token() == fake.issued[4]
    assert fake.refresh_calls == 2


async def test_two_hundred_concurrent_callers_one_refresh(flow, fake, manager, clock):
    await connect(flow, fake, ALICE)
    clock.advance(3600)  # expired
    fake.refresh_delay_s = 0.05
    client, _ = await manager.client_for(ALICE)
    tokens = await asyncio.gather(*(client.token.access_token() for _ in range(200)))
    assert fake.refresh_calls == 1
    assert set(tokens) == {fake.issued[2]}


async def test_fresh_manager_rereads_after_lock(flow, fake, manager, settings, db, clock):
    """A second process (another manager, cold cache) uses the token the first one stored."""
    from atom_hubspot.oauth import ConnectionManager

    await connect(flow, fake, ALICE)
    clock.advance(3600)
    client, _ = await manager.client_for(ALICE)
    t1 = await client.token.access_token()
    other = ConnectionManager(
        settings, db, oauth_api=fake, client_factory=fake.client_factory, clock=clock
    )
    client2, _ = await other.client_for(ALICE)
    assert await client2.token.access_token() == t1
    assert fake.refresh_calls == 1


async def test_invalid_grant_marks_reauth_and_stops_calling(flow, fake, manager, db, clock):
    await connect(flow, fake, ALICE)
    fake.refresh_tokens.clear()  # the user uninstalled the app: refresh token dead
    clock.advance(3600)
    client, _ = await manager.client_for(ALICE)
    with pytest.raises(ReconnectRequired) as ei:
        await client.token.access_token()
    assert "reconnect" in ei.value.message.lower()
    async with db.session(None) as s:
        conn = (await s.scalars(sa.select(Connection))).one()
    assert conn.status == "reauth_required"
    # No retry storm: further callers fail fast without asking HubSpot.
    for _ in range(20):
        with pytest.raises(ReconnectRequired):
            await client.token.access_token()
    assert fake.refresh_calls == 1
    with pytest.raises(ReconnectRequired):
        await manager.client_for(ALICE)
    status = await manager.list(ALICE)
    assert status[0].status == "reauth_required"
    # Reconnecting heals it.
    info = await connect(flow, fake, ALICE)
    assert info.status == "connected"
    client, _ = await manager.client_for(ALICE)
    assert await client.token.access_token() == fake.issued[-2]


async def test_transient_failure_counted_and_paused(flow, fake, manager, db, clock):
    await connect(flow, fake, ALICE)
    fake.fail_refresh_with = Unavailable("HubSpot 503", status=503)
    clock.advance(1800 - 120)  # in the margin, still valid
    client, _ = await manager.client_for(ALICE)
    # Still valid: the caller gets the current token, the failure is counted.
    assert await client.token.access_token() == fake.issued[0]
    row = await _token_row(db)
    assert row.failure_count == 1 and row.last_failure_code == "hubspot_unavailable"
    # Within the pause, HubSpot is not asked again.
    assert await client.token.access_token() == fake.issued[0]
    assert fake.refresh_calls == 1
    clock.advance(300)  # now expired, and past the pause
    with pytest.raises(Unavailable):
        await client.token.access_token()
    assert fake.refresh_calls == 2
    assert (await _token_row(db)).failure_count == 2
    with pytest.raises(Unavailable):  # paused: fails fast
        await client.token.access_token()
    assert fake.refresh_calls == 2
    fake.fail_refresh_with = None
    clock.advance(5)
    assert await client.token.access_token() == fake.issued[2]
    row = await _token_row(db)
    assert row.failure_count == 0 and row.last_failure_code is None
    conn = (await manager.list(ALICE))[0]
    assert conn.status == "connected"


async def test_manual_refresh(flow, fake, manager):
    await connect(flow, fake, ALICE)
    info = await manager.refresh(ALICE)
    assert fake.refresh_calls == 1
    assert info.access_expires_at is not None
    client, _ = await manager.client_for(ALICE)
    assert await client.token.access_token() == fake.issued[2]


async def test_cache_does_not_outlive_token(flow, fake, manager, clock):
    await connect(flow, fake, ALICE)
    client, _ = await manager.client_for(ALICE)
    await client.token.access_token()
    assert manager.tokens._cached(client.token.connection_id) == fake.issued[0]
    clock.advance(1800 - 300)
    assert manager.tokens._cached(client.token.connection_id) is None


async def test_undecryptable_token_marks_connection_and_overwrites_nothing(
    flow, fake, manager, settings, db, clock
):
    from atom_hubspot.errors import DecryptionFailed
    from atom_hubspot.oauth import ConnectionManager
    from atom_hubspot.storage.crypto import TokenCipher, new_key_spec

    await connect(flow, fake, ALICE)
    before = await _token_row(db)
    wrong = ConnectionManager(
        settings,
        db,
        oauth_api=fake,
        client_factory=fake.client_factory,
        clock=clock,
        cipher=TokenCipher.from_spec(new_key_spec("k9")),
    )
    client, _ = await wrong.client_for(ALICE)
    with pytest.raises(DecryptionFailed) as ei:
        await client.token.access_token()
    assert ei.value.http_status == 503 and "k1" in ei.value.message
    after = await _token_row(db)
    assert (after.access_token, after.refresh_token) == (before.access_token, before.refresh_token)
    assert (await wrong.list(ALICE))[0].problem == "token_undecryptable"
    assert fake.refresh_calls == 0
    # With the right key back, the connection works and the mark is cleared.
    client, _ = await manager.client_for(ALICE)
    clock.advance(1800)
    assert await client.token.access_token() == fake.issued[2]
    assert (await manager.list(ALICE))[0].problem is None


async def test_hanging_refresh_is_bounded(flow, fake, manager, db, clock, monkeypatch):
    import atom_hubspot.oauth.session as session_mod

    await connect(flow, fake, ALICE)
    monkeypatch.setattr(session_mod, "REFRESH_TIMEOUT_S", 0.05)
    fake.refresh_delay_s = 5.0  # HubSpot hangs
    clock.advance(3600)
    client, _ = await manager.client_for(ALICE)
    with pytest.raises(Unavailable):
        await client.token.access_token()
    row = await _token_row(db)
    assert row.failure_count == 1 and row.last_failure_code == "refresh_timeout"
