"""The mirror of each connected portal: records with all their properties, associations,
pipelines and stages, lists and memberships, campaigns, and the sync's state per object type.

Revision ID: 0004_portal_mirror
Revises: 0003_change_feed
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_portal_mirror"
down_revision: str | None = "0003_change_feed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)

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
# A portal's mirror is visible to the tenants that have a connection to that portal (the
# connections table's own policy limits the subquery to the current tenant), or to work that
# spans tenants on purpose (the sync, purges).
MIRROR_RULE = (
    "current_setting('app.all_tenants', true) = 'on' OR EXISTS ("
    "SELECT 1 FROM hubspot_connections c WHERE c.portal_id = {table}.portal_id "
    "AND c.tenant_id = current_setting('app.tenant_id', true))"
)
# The properties the routes filter and the analytics group by, indexed inside the JSON.
PROPERTY_INDEXES = (
    ("contacts", "lifecyclestage"),
    ("contacts", "email"),
    ("companies", "domain"),
    ("deals", "dealstage"),
    ("deals", "pipeline"),
)


def _synced_at() -> sa.Column[Any]:
    return sa.Column("synced_at", TS, nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_index(
        "ix_hubspot_connections_portal_tenant", "hubspot_connections", ["portal_id", "tenant_id"]
    )
    op.create_table(
        "hubspot_mirror_records",
        sa.Column("portal_id", sa.BigInteger, nullable=False),
        sa.Column("object_type", sa.String(16), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.Column("properties", JSON, nullable=False),
        sa.Column("created_at", TS),
        sa.Column("updated_at", TS),
        sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("archived_at", TS),
        sa.Column("merged_into", sa.BigInteger),
        _synced_at(),
        sa.PrimaryKeyConstraint("portal_id", "object_type", "record_id"),
    )
    for name, cols in (
        ("live", ["portal_id", "object_type", "archived", "record_id"]),
        ("created", ["portal_id", "object_type", "created_at"]),
        ("updated", ["portal_id", "object_type", "updated_at"]),
        ("merged", ["portal_id", "object_type", "merged_into"]),
    ):
        op.create_index(f"ix_hubspot_mirror_records_{name}", "hubspot_mirror_records", cols)

    op.create_table(
        "hubspot_mirror_associations",
        sa.Column("portal_id", sa.BigInteger, nullable=False),
        sa.Column("from_type", sa.String(16), nullable=False),
        sa.Column("from_id", sa.BigInteger, nullable=False),
        sa.Column("to_type", sa.String(16), nullable=False),
        sa.Column("to_id", sa.BigInteger, nullable=False),
        sa.Column("type_id", sa.Integer, nullable=False),
        _synced_at(),
        sa.PrimaryKeyConstraint("portal_id", "from_type", "from_id", "to_type", "to_id", "type_id"),
    )
    op.create_index(
        "ix_hubspot_mirror_associations_to",
        "hubspot_mirror_associations",
        ["portal_id", "to_type", "to_id", "from_type"],
    )

    op.create_table(
        "hubspot_mirror_pipelines",
        sa.Column("portal_id", sa.BigInteger, nullable=False),
        sa.Column("object_type", sa.String(16), nullable=False),
        sa.Column("pipeline_id", sa.String(64), nullable=False),
        sa.Column("label", sa.Text),
        sa.Column("display_order", sa.Integer, nullable=False, server_default="0"),
        sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("data", JSON, nullable=False),
        _synced_at(),
        sa.PrimaryKeyConstraint("portal_id", "object_type", "pipeline_id"),
    )
    op.create_table(
        "hubspot_mirror_stages",
        sa.Column("portal_id", sa.BigInteger, nullable=False),
        sa.Column("object_type", sa.String(16), nullable=False),
        sa.Column("pipeline_id", sa.String(64), nullable=False),
        sa.Column("stage_id", sa.String(64), nullable=False),
        sa.Column("label", sa.Text),
        sa.Column("display_order", sa.Integer, nullable=False, server_default="0"),
        sa.Column("probability", sa.Float),
        sa.Column("is_closed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("data", JSON, nullable=False),
        sa.PrimaryKeyConstraint("portal_id", "object_type", "pipeline_id", "stage_id"),
    )
    op.create_table(
        "hubspot_mirror_lists",
        sa.Column("portal_id", sa.BigInteger, nullable=False),
        sa.Column("list_id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("processing_type", sa.String(16)),
        sa.Column("object_type_id", sa.String(16)),
        sa.Column("size", sa.BigInteger),
        sa.Column("data", JSON, nullable=False),
        sa.Column("updated_at", TS),
        _synced_at(),
        sa.PrimaryKeyConstraint("portal_id", "list_id"),
    )
    op.create_table(
        "hubspot_mirror_list_members",
        sa.Column("portal_id", sa.BigInteger, nullable=False),
        sa.Column("list_id", sa.String(64), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("portal_id", "list_id", "record_id"),
    )
    op.create_index(
        "ix_hubspot_mirror_list_members_record",
        "hubspot_mirror_list_members",
        ["portal_id", "record_id"],
    )
    op.create_table(
        "hubspot_mirror_campaigns",
        sa.Column("portal_id", sa.BigInteger, nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("properties", JSON, nullable=False),
        sa.Column("created_at", TS),
        sa.Column("updated_at", TS),
        _synced_at(),
        sa.PrimaryKeyConstraint("portal_id", "campaign_id"),
    )
    op.create_table(
        "hubspot_mirror_sync_state",
        sa.Column("portal_id", sa.BigInteger, nullable=False),
        sa.Column("object_type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="idle"),
        sa.Column("mode", sa.String(16)),
        sa.Column("cursor", JSON, nullable=False),
        sa.Column("synced_through", TS),
        sa.Column("run_started_at", TS),
        sa.Column("last_success_at", TS),
        sa.Column("reconciled_at", TS),
        sa.Column("processed", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("expected", sa.BigInteger),
        sa.Column("last_error", sa.Text),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("portal_id", "object_type"),
        sa.CheckConstraint(
            "status in ('idle','running','current','failed')",
            name="ck_hubspot_mirror_sync_state_status",
        ),
    )

    dialect = op.get_context().dialect.name
    for object_type, prop in PROPERTY_INDEXES:
        # Partial expression indexes: each serves one object type's filter or grouping.
        value = (
            f"(properties ->> '{prop}')"
            if dialect == "postgresql"
            else f"json_extract(properties, '$.{prop}')"
        )
        op.execute(
            f"CREATE INDEX ix_hubspot_mirror_{object_type}_{prop} ON hubspot_mirror_records "
            f"(portal_id, {value}) WHERE object_type = '{object_type}' AND NOT archived"
        )
    if dialect == "postgresql":
        for table in MIRROR_TABLES:
            rule = MIRROR_RULE.format(table=table)
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY {table}_portal_tenants ON {table} USING ({rule}) "
                f"WITH CHECK ({rule})"
            )


def downgrade() -> None:
    for object_type, prop in PROPERTY_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS ix_hubspot_mirror_{object_type}_{prop}")
    if op.get_context().dialect.name == "postgresql":
        for table in MIRROR_TABLES:
            op.execute(f"DROP POLICY IF EXISTS {table}_portal_tenants ON {table}")
    for table in reversed(MIRROR_TABLES):
        op.drop_table(table)
    op.drop_index("ix_hubspot_connections_portal_tenant", table_name="hubspot_connections")
