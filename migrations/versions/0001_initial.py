"""HubSpot connections, encrypted tokens, OAuth states, portal details, sync cursors,
scheduled sends and shared rate windows.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)

TENANT_TABLES = (
    "hubspot_connections",
    "hubspot_tokens",
    "hubspot_oauth_states",
    "hubspot_portal_details",
    "hubspot_sync_cursors",
    "hubspot_scheduled_sends",
)
UPDATED_AT_TABLES = (
    "hubspot_connections",
    "hubspot_tokens",
    "hubspot_portal_details",
    "hubspot_sync_cursors",
    "hubspot_scheduled_sends",
)
# Rows are visible when they belong to the tenant set for the transaction
# (`set_config('app.tenant_id', ..., true)`), or when the transaction explicitly works across
# tenants (`app.all_tenants = 'on'`: background jobs, key rotation, OAuth callbacks).
RLS_RULE = (
    "tenant_id = current_setting('app.tenant_id', true) "
    "OR current_setting('app.all_tenants', true) = 'on'"
)


def _timestamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
    ]


def upgrade() -> None:
    op.create_table(
        "hubspot_connections",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("portal_id", sa.BigInteger, nullable=False),
        sa.Column("hub_domain", sa.String(255)),
        sa.Column("auth_kind", sa.String(16), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="connected"),
        sa.Column("is_default", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("problem", sa.String(64)),
        *_timestamps(),
        sa.UniqueConstraint(
            "tenant_id", "user_id", "portal_id", name="uq_hubspot_connections_owner_portal"
        ),
        sa.CheckConstraint(
            "auth_kind in ('oauth','private_app')", name="ck_hubspot_connections_auth_kind"
        ),
        sa.CheckConstraint(
            "status in ('connected','reauth_required','revoked')",
            name="ck_hubspot_connections_status",
        ),
    )
    op.create_index(
        "ix_hubspot_connections_tenant_user", "hubspot_connections", ["tenant_id", "user_id"]
    )

    op.create_table(
        "hubspot_tokens",
        sa.Column(
            "connection_id",
            sa.String(36),
            sa.ForeignKey("hubspot_connections.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("portal_id", sa.BigInteger, nullable=False),
        sa.Column("access_token", sa.Text, nullable=False),
        sa.Column("refresh_token", sa.Text),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("expires_at", TS),
        sa.Column("refreshed_at", TS),
        sa.Column("failure_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_failure_at", TS),
        sa.Column("last_failure_code", sa.String(64)),
        *_timestamps(),
    )
    op.create_index("ix_hubspot_tokens_key_id", "hubspot_tokens", ["key_id"])
    op.create_index("ix_hubspot_tokens_tenant", "hubspot_tokens", ["tenant_id"])

    op.create_table(
        "hubspot_oauth_states",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("state_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("return_to", sa.Text),
        sa.Column("code_verifier", sa.Text),
        sa.Column("key_id", sa.String(64)),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("consumed_at", TS),
    )
    op.create_index("ix_hubspot_oauth_states_expires_at", "hubspot_oauth_states", ["expires_at"])
    op.create_index(
        "ix_hubspot_oauth_states_tenant_user", "hubspot_oauth_states", ["tenant_id", "user_id"]
    )

    op.create_table(
        "hubspot_portal_details",
        sa.Column(
            "connection_id",
            sa.String(36),
            sa.ForeignKey("hubspot_connections.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("portal_id", sa.BigInteger, nullable=False),
        sa.Column("hub_domain", sa.String(255)),
        sa.Column("hubspot_user", sa.String(320)),
        sa.Column("hubspot_user_id", sa.BigInteger),
        sa.Column("app_id", sa.BigInteger),
        sa.Column("account_type", sa.String(64)),
        sa.Column("time_zone", sa.String(64)),
        sa.Column("company_currency", sa.String(8)),
        sa.Column("ui_domain", sa.String(255)),
        sa.Column("data_hosting_location", sa.String(32)),
        sa.Column("raw", JSON, nullable=False),
        *_timestamps(),
    )
    op.create_index(
        "ix_hubspot_portal_details_tenant_portal",
        "hubspot_portal_details",
        ["tenant_id", "portal_id"],
    )

    op.create_table(
        "hubspot_sync_cursors",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column(
            "connection_id",
            sa.String(36),
            sa.ForeignKey("hubspot_connections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("object_type", sa.String(64), nullable=False),
        sa.Column("cursor", sa.Text),
        sa.Column("state", JSON, nullable=False),
        *_timestamps(),
        sa.UniqueConstraint(
            "connection_id", "object_type", name="uq_hubspot_sync_cursors_conn_type"
        ),
    )
    op.create_index("ix_hubspot_sync_cursors_tenant", "hubspot_sync_cursors", ["tenant_id"])

    op.create_table(
        "hubspot_scheduled_sends",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("portal_id", sa.BigInteger, nullable=False),
        sa.Column("connection_id", sa.String(36), nullable=False),
        sa.Column("email_id", sa.BigInteger, nullable=False),
        sa.Column("recipients", JSON, nullable=False),
        sa.Column("contact_properties", JSON, nullable=False),
        sa.Column("custom_properties", JSON, nullable=False),
        sa.Column("send_at", TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("claimed_at", TS),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("results", JSON),
        sa.Column("error", sa.Text),
        *_timestamps(),
        sa.CheckConstraint(
            "status in ('pending','claimed','sent','partial','failed','cancelled')",
            name="ck_hubspot_scheduled_sends_status",
        ),
    )
    op.create_index(
        "ix_hubspot_scheduled_sends_status_send_at",
        "hubspot_scheduled_sends",
        ["status", "send_at"],
    )
    op.create_index(
        "ix_hubspot_scheduled_sends_tenant_user",
        "hubspot_scheduled_sends",
        ["tenant_id", "user_id"],
    )

    op.create_table(
        "hubspot_rate_windows",
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("window_start", sa.BigInteger, nullable=False),
        sa.Column("count", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("key", "window_start", name="pk_hubspot_rate_windows"),
    )
    op.create_index(
        "ix_hubspot_rate_windows_window_start", "hubspot_rate_windows", ["window_start"]
    )

    if op.get_context().dialect.name == "postgresql":
        _postgresql_upgrade()


def _postgresql_upgrade() -> None:
    # updated_at is the database's job on PostgreSQL: writes that bypass the ORM keep it too.
    op.execute(
        """
        CREATE OR REPLACE FUNCTION hubspot_set_updated_at() RETURNS trigger AS $$
        BEGIN
            NEW.updated_at := now();
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    for table in UPDATED_AT_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_updated_at BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION hubspot_set_updated_at()"
        )
    # Row-level security: FORCE applies it to the table owner too (superusers still bypass).
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY {table}_tenant_isolation ON {table} "
            f"USING ({RLS_RULE}) WITH CHECK ({RLS_RULE})"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in TENANT_TABLES:
            op.execute(f"DROP POLICY IF EXISTS {table}_tenant_isolation ON {table}")
        for table in UPDATED_AT_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_updated_at ON {table}")
        op.execute("DROP FUNCTION IF EXISTS hubspot_set_updated_at()")
    op.drop_table("hubspot_rate_windows")
    op.drop_table("hubspot_scheduled_sends")
    op.drop_table("hubspot_sync_cursors")
    op.drop_table("hubspot_portal_details")
    op.drop_table("hubspot_oauth_states")
    op.drop_table("hubspot_tokens")
    op.drop_table("hubspot_connections")
