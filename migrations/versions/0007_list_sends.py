"""Sends of a marketing email to lead lists: the job, and one row per recipient of a fan-out.

Revision ID: 0007_list_sends
Revises: 0006_mirror_contact_createdate
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_list_sends"
down_revision: str | None = "0006_mirror_contact_createdate"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)
TENANT_TABLES = ("hubspot_list_sends", "hubspot_list_send_recipients")
# The tenant bound to the transaction (0005_tenant_bound_row_security); the scheduler's
# cross-tenant work connects as a role that bypasses row-level security.
RLS_RULE = "tenant_id = (SELECT hubspot_bound_tenant())"


def upgrade() -> None:
    op.create_table(
        "hubspot_list_sends",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("portal_id", sa.BigInteger, nullable=False),
        sa.Column("connection_id", sa.String(36), nullable=False),
        sa.Column("email_id", sa.BigInteger, nullable=False),
        sa.Column("list_ids", JSON, nullable=False),
        sa.Column("way", sa.String(16), nullable=False),
        sa.Column("send_mode", sa.String(16)),
        sa.Column("send_at", TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("expanded", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("claimed_at", TS),
        sa.Column("error", sa.Text),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("way in ('publish','fan_out')", name="ck_hubspot_list_sends_way"),
        sa.CheckConstraint(
            "status in ('pending','running','scheduled','sent','partial','failed','cancelled')",
            name="ck_hubspot_list_sends_status",
        ),
    )
    op.create_index(
        "ix_hubspot_list_sends_status_send_at", "hubspot_list_sends", ["status", "send_at"]
    )
    op.create_index(
        "ix_hubspot_list_sends_tenant_user", "hubspot_list_sends", ["tenant_id", "user_id"]
    )
    op.create_table(
        "hubspot_list_send_recipients",
        sa.Column(
            "list_send_id",
            sa.String(36),
            sa.ForeignKey("hubspot_list_sends.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("contact_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("error", JSON),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(
            "status in ('pending','sending','sent','failed','skipped','unknown','cancelled')",
            name="ck_hubspot_list_send_recipients_status",
        ),
    )
    op.create_index(
        "ix_hubspot_list_send_recipients_status",
        "hubspot_list_send_recipients",
        ["list_send_id", "status"],
    )
    if op.get_context().dialect.name == "postgresql":
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
    op.drop_table("hubspot_list_send_recipients")
    op.drop_table("hubspot_list_sends")
