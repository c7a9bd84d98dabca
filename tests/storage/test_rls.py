"""PostgreSQL row-level security: a non-owner role sees and writes only its tenant's rows."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa

from atom_hubspot.storage.db import Database, migrate
from atom_hubspot.storage.models import Connection, ScheduledSend, Token, utcnow
from tests.conftest import non_owner_role


@pytest.fixture
def app_role_url(postgres_url, postgres_admin_url):
    """The test database reached as a fresh LOGIN role that owns nothing and is no superuser."""
    migrate(postgres_url)
    with non_owner_role(postgres_url, postgres_admin_url) as url:
        with psycopg.connect(postgres_url, autocommit=True) as c:
            # Two tenants' data, written by the owner.
            c.execute("select set_config('app.all_tenants', 'on', false)")
            for tenant in ("t1", "t2"):
                for n in range(2):
                    cid = f"{tenant}-c{n}"
                    c.execute(
                        "insert into hubspot_connections (id, tenant_id, user_id, portal_id, "
                        "auth_kind, scopes) values (%s, %s, 'u', %s, 'oauth', '[]')",
                        (cid, tenant, 100 + n),
                    )
                    c.execute(
                        "insert into hubspot_tokens (connection_id, tenant_id, portal_id, "
                        "access_token, key_id) values (%s, %s, %s, 'v1.k.x', 'k')",
                        (cid, tenant, 100 + n),
                    )
        yield url


async def test_non_owner_sees_only_its_tenant(app_role_url):
    db = Database(app_role_url)
    try:
        async with db.session("t1") as s:
            conns = list(await s.scalars(sa.select(Connection.id).order_by(Connection.id)))
            toks = list(await s.scalars(sa.select(Token.connection_id)))
            # Even a query with no tenant filter at all returns only t1's rows.
            assert conns == ["t1-c0", "t1-c1"]
            assert sorted(toks) == ["t1-c0", "t1-c1"]
            # Another tenant's row cannot be changed or deleted.
            res = await s.execute(
                sa.update(Connection).where(Connection.id == "t2-c0").values(hub_domain="pwned")
            )
            assert res.rowcount == 0
        async with db.session("t2") as s:
            assert sorted(await s.scalars(sa.select(Connection.id))) == ["t2-c0", "t2-c1"]
            assert (
                await s.scalar(sa.select(Connection.hub_domain).where(Connection.id == "t2-c0"))
                is None
            )
        # Writing a row for another tenant is refused (WITH CHECK).
        with pytest.raises(Exception, match="row-level security"):
            async with db.session("t1") as s:
                s.add(
                    ScheduledSend(
                        tenant_id="t2",
                        user_id="u",
                        portal_id=1,
                        connection_id="x",
                        email_id=1,
                        send_at=utcnow(),
                    )
                )
        # Work across tenants must say so explicitly.
        async with db.session(None) as s:
            assert len(list(await s.scalars(sa.select(Connection.id)))) == 4
    finally:
        await db.dispose()


def test_no_tenant_setting_sees_nothing(app_role_url):
    with psycopg.connect(app_role_url) as c:
        assert c.execute("select count(*) from hubspot_connections").fetchone()[0] == 0
        assert c.execute("select count(*) from hubspot_tokens").fetchone()[0] == 0
        c.execute("select set_config('app.tenant_id', 't2', true)")
        assert c.execute("select count(*) from hubspot_connections").fetchone()[0] == 2
        c.rollback()
        # The setting is per transaction: gone after it ends (pooled connections stay clean).
        assert c.execute("select count(*) from hubspot_connections").fetchone()[0] == 0
