"""PostgreSQL row-level security: a non-owner role sees and writes only the rows of the tenant
its transaction is bound to, and nothing it can set, call or become widens that; work across
tenants needs a role that bypasses row-level security, named in configuration."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from atom_hubspot.storage.db import Database, migrate
from atom_hubspot.storage.models import Connection, ScheduledSend, Token, utcnow
from tests.conftest import non_owner_role


@pytest.fixture
def app_role_url(postgres_url, postgres_admin_url):
    """The test database reached as a fresh LOGIN role that owns nothing and is no superuser."""
    migrate(postgres_url)
    with non_owner_role(postgres_url, postgres_admin_url) as url:
        role = url.split("://", 1)[1].split("@", 1)[0]
        with psycopg.connect(postgres_url, autocommit=True) as c:
            # More than an application role needs on the binding table, TRUNCATE included: the
            # binding must hold even against an operator's over-generous grant.
            if c.execute("select to_regclass('hubspot_tenant_bindings')").fetchone()[0]:
                c.execute(
                    "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES ON "
                    f'hubspot_tenant_bindings TO "{role}"'
                )
            # Two tenants' data, written by the owner (a superuser here).
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


async def test_non_owner_sees_only_its_tenant(app_role_url, postgres_url):
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
        # The application role cannot work across tenants: unbound, it sees no one's rows.
        async with db.session(None) as s:
            assert list(await s.scalars(sa.select(Connection.id))) == []
        assert "BYPASSRLS" in (await db.cross_tenant_role_problem() or "")
    finally:
        await db.dispose()
    # Work across tenants runs as the role named for it (here the superuser).
    db = Database(app_role_url, cross_tenant_url=postgres_url)
    try:
        assert await db.cross_tenant_role_problem() is None
        async with db.session(None) as s:
            assert len(list(await s.scalars(sa.select(Connection.id)))) == 4
        async with db.session("t2") as s:  # tenant work still goes through the app role
            assert sorted(await s.scalars(sa.select(Connection.id))) == ["t2-c0", "t2-c1"]
    finally:
        await db.dispose()


def test_an_unbound_transaction_sees_nothing_whatever_it_sets(app_role_url):
    with psycopg.connect(app_role_url) as c:
        for setting in (
            "select set_config('app.tenant_id', 't2', true)",
            "select set_config('app.all_tenants', 'on', true)",
        ):
            c.execute(setting)
            assert c.execute("select count(*) from hubspot_connections").fetchone()[0] == 0
            assert c.execute("select count(*) from hubspot_tokens").fetchone()[0] == 0
        c.rollback()
        c.execute("select hubspot_bind_tenant('t2')")
        assert c.execute("select count(*) from hubspot_connections").fetchone()[0] == 2
        c.rollback()
        # The binding is per transaction: gone after it ends (pooled connections stay clean).
        assert c.execute("select count(*) from hubspot_connections").fetchone()[0] == 0


# Everything a statement running as the application role might try, once its transaction works
# for tenant t1: settings, switching role, turning row security off, binding again, writing the
# binding itself, shadowing it with a temporary table, and all the settings at once.
ATTEMPTS = [
    "select set_config('app.all_tenants', 'on', true)",
    "select set_config('app.all_tenants', 'on', false)",
    "select set_config('app.tenant_id', 't2', true)",
    "select set_config('app.tenant_id', 't2', false)",
    "select set_config('app.tenant_id', '', true)",
    "select set_config('app.tenant_id', 't1'' or ''1''=''1', true)",
    "set local row_security = off",
    "set role postgres",
    "set session authorization postgres",
    "reset all",
    "select hubspot_bind_tenant('t2')",
    "insert into hubspot_tenant_bindings values (pg_backend_pid(), pg_current_xact_id(), 't2')",
    "update hubspot_tenant_bindings set tenant_id = 't2'",
    "delete from hubspot_tenant_bindings",
    "truncate hubspot_tenant_bindings",
    "truncate hubspot_tenant_bindings; select hubspot_bind_tenant('t2')",
    "create temporary table hubspot_tenant_bindings"
    " (backend_pid integer, xact_id xid8, tenant_id text);"
    " insert into pg_temp.hubspot_tenant_bindings"
    " values (pg_backend_pid(), pg_current_xact_id(), 't2')",
    "select set_config('app.all_tenants', 'on', true), set_config('app.tenant_id', 't2', true),"
    " set_config('row_security', 'off', true)",
]


async def _tenants_visible(s) -> set[str]:
    seen: set[str] = set()
    for table in ("hubspot_connections", "hubspot_tokens"):
        rows = await s.execute(sa.text(f"select distinct tenant_id from {table}"))  # noqa: S608
        seen |= {r[0] for r in rows}
    return seen


async def test_no_setting_the_application_role_can_make_reads_another_tenant(app_role_url):
    db = Database(app_role_url)
    try:
        async with db.session("t1") as s:
            assert await _tenants_visible(s) == {"t1"}
            for attempt in ATTEMPTS:
                try:
                    async with s.begin_nested():
                        for statement in attempt.split(";"):
                            await s.execute(sa.text(statement))
                        assert await _tenants_visible(s) <= {"t1"}, attempt
                except DBAPIError:
                    pass  # refused outright: just as good
                assert await _tenants_visible(s) <= {"t1"}, attempt
            # Everything at once, kept: still t1 only, and t1 still works.
            for attempt in ATTEMPTS[:6]:
                await s.execute(sa.text(attempt))
            assert await _tenants_visible(s) == {"t1"}
    finally:
        await db.dispose()


def test_a_second_binding_in_one_transaction_is_refused(app_role_url):
    with psycopg.connect(app_role_url) as c:
        c.execute("select hubspot_bind_tenant('t1')")
        c.execute("select hubspot_bind_tenant('t1')")  # the same tenant again is fine
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="another tenant"):
            c.execute("select hubspot_bind_tenant('t2')")
