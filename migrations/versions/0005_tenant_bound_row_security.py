"""Row-level security with no switch the application role can turn: each transaction is bound
to one tenant by a SECURITY DEFINER function, and policies read that binding only.

Before, policies also let through any transaction that set `app.all_tenants = 'on'` and read
the tenant from `app.tenant_id`: settings any role can change, so one injected or mistaken
statement could read every tenant. Now:
- `hubspot_bind_tenant(t)` records (backend pid, transaction id, tenant) in an unlogged table
  only the migration owner can touch (row-level security with no policy, TRUNCATE refused),
  even when the application role was granted every table; a second call in the same
  transaction for another tenant fails. `hubspot_bound_tenant()` reads that record for the
  current transaction.
- Policies compare `tenant_id` with `hubspot_bound_tenant()`. No setting, SET ROLE (to a role
  the application is not a member of) or re-binding changes what a bound transaction sees; an
  unbound one sees no tenant's rows.
- Work across tenants (scheduled sends, mirror sync, key rotation, health counts) connects as
  a separate role that bypasses row-level security (BYPASSRLS, or a superuser), named by
  ATOM_HUBSPOT_CROSS_TENANT_DATABASE_URL; the application role never can.

Revision ID: 0005_tenant_bound_row_security
Revises: 0004_portal_mirror
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_tenant_bound_row_security"
down_revision: str | None = "0004_portal_mirror"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = (
    "hubspot_connections",
    "hubspot_tokens",
    "hubspot_oauth_states",
    "hubspot_portal_details",
    "hubspot_sync_cursors",
    "hubspot_scheduled_sends",
)
MIRROR_TABLES = (
    "hubspot_mirror_records",
    "hubspot_mirror_associations",
    "hubspot_mirror_pipelines",
    "hubspot_mirror_stages",
    "hubspot_mirror_lists",
    "hubspot_mirror_list_members",
    "hubspot_mirror_campaigns",
    "hubspot_mirror_sync_state",
)
# `(SELECT …)`: evaluated once per statement, not once per row.
BOUND = "(SELECT hubspot_bound_tenant())"
TENANT_RULE = f"tenant_id = {BOUND}"
# A portal's mirror is visible to the tenant bound to the transaction when that tenant has a
# connection to the portal (the connections table's own policy applies inside the subquery).
MIRROR_RULE = (
    "EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = {table}.portal_id "  # noqa: S608 - constants
    f"AND c.tenant_id = {BOUND})"
)
# The rules of 0001 and 0004, restored by the downgrade.
OLD_TENANT_RULE = (
    "tenant_id = current_setting('app.tenant_id', true) "
    "OR current_setting('app.all_tenants', true) = 'on'"
)
OLD_MIRROR_RULE = (
    "current_setting('app.all_tenants', true) = 'on' OR EXISTS ("
    "SELECT 1 FROM hubspot_connections c WHERE c.portal_id = {table}.portal_id "
    "AND c.tenant_id = current_setting('app.tenant_id', true))"
)


def _schema() -> str:
    """The schema the tables live in, named inside the SECURITY DEFINER functions so that no
    object another role creates (a temporary table first of all) can stand in for them."""
    context = op.get_context()
    if context.as_sql:
        return "public"
    name = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar()
    return str(name or "public")


def _policy(table: str, name: str, rule: str) -> None:
    op.execute(f"CREATE POLICY {name} ON {table} USING ({rule}) WITH CHECK ({rule})")


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return  # SQLite has no row-level security; the code paths are the same there
    # Quoted as an identifier; it comes from the database itself (current_schema()).
    q = '"' + _schema().replace('"', '""') + '"'
    # Unlogged: a binding means nothing once its transaction ends, so it needs no WAL (and a
    # read-only request's commit stays asynchronous). One row per backend, overwritten.
    op.execute(
        f"CREATE UNLOGGED TABLE {q}.hubspot_tenant_bindings ("
        "backend_pid integer PRIMARY KEY, xact_id xid8 NOT NULL, tenant_id text NOT NULL)"
    )
    op.execute(f"REVOKE ALL ON {q}.hubspot_tenant_bindings FROM PUBLIC")
    # Row-level security with no policy: even a role granted every table in the schema reads
    # and writes none of it; only the owner (the functions below) and superusers do. TRUNCATE
    # ignores row security, so a trigger refuses it.
    op.execute(f"ALTER TABLE {q}.hubspot_tenant_bindings ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"""
        CREATE FUNCTION {q}.hubspot_refuse_truncate() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
        AS $$
        BEGIN
            RAISE EXCEPTION 'tenant bindings cannot be truncated'
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        f"CREATE TRIGGER hubspot_tenant_bindings_no_truncate BEFORE TRUNCATE ON "
        f"{q}.hubspot_tenant_bindings FOR EACH STATEMENT "
        f"EXECUTE FUNCTION {q}.hubspot_refuse_truncate()"
    )
    op.execute(
        f"""
        CREATE FUNCTION {q}.hubspot_bind_tenant(tenant text) RETURNS text
        LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        AS $$
        DECLARE
            bound text;
        BEGIN
            IF tenant IS NULL OR tenant = '' THEN
                RAISE EXCEPTION 'a tenant is required' USING ERRCODE = 'invalid_parameter_value';
            END IF;
            INSERT INTO {q}.hubspot_tenant_bindings AS b (backend_pid, xact_id, tenant_id)
            VALUES (pg_backend_pid(), pg_current_xact_id(), tenant)
            ON CONFLICT (backend_pid) DO UPDATE
                SET xact_id = EXCLUDED.xact_id, tenant_id = EXCLUDED.tenant_id
                WHERE b.xact_id <> EXCLUDED.xact_id OR b.tenant_id = EXCLUDED.tenant_id
            RETURNING b.tenant_id INTO bound;
            IF bound IS NULL THEN
                RAISE EXCEPTION 'this transaction already works for another tenant'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN bound;
        END
        $$
        """  # noqa: S608 - the schema is an identifier the database named
    )
    op.execute(
        f"""
        CREATE FUNCTION {q}.hubspot_bound_tenant() RETURNS text
        LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        AS $$
            SELECT tenant_id FROM {q}.hubspot_tenant_bindings
            WHERE backend_pid = pg_backend_pid() AND xact_id = pg_current_xact_id_if_assigned()
        $$
        """  # noqa: S608 - the schema is an identifier the database named
    )
    for table in TENANT_TABLES:
        op.execute(f"DROP POLICY IF EXISTS {table}_tenant_isolation ON {table}")
        _policy(table, f"{table}_bound_tenant", TENANT_RULE)
    for table in MIRROR_TABLES:
        op.execute(f"DROP POLICY IF EXISTS {table}_portal_tenants ON {table}")
        _policy(table, f"{table}_bound_tenant", MIRROR_RULE.format(table=table))


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table in MIRROR_TABLES:
        op.execute(f"DROP POLICY IF EXISTS {table}_bound_tenant ON {table}")
        _policy(table, f"{table}_portal_tenants", OLD_MIRROR_RULE.format(table=table))
    for table in TENANT_TABLES:
        op.execute(f"DROP POLICY IF EXISTS {table}_bound_tenant ON {table}")
        _policy(table, f"{table}_tenant_isolation", OLD_TENANT_RULE)
    op.execute("DROP FUNCTION IF EXISTS hubspot_bound_tenant()")
    op.execute("DROP FUNCTION IF EXISTS hubspot_bind_tenant(text)")
    op.execute("DROP TABLE IF EXISTS hubspot_tenant_bindings")
    op.execute("DROP FUNCTION IF EXISTS hubspot_refuse_truncate()")
