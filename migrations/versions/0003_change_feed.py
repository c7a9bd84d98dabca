"""The change feed: an inbox of HubSpot events, recent delivery signatures, feed health.

Revision ID: 0003_change_feed
Revises: 0002_leader_leases
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_change_feed"
down_revision: str | None = "0002_leader_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hubspot_feed_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("portal_id", sa.BigInteger, nullable=False),
        sa.Column("event_id", sa.BigInteger, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("subscription_type", sa.String(128), nullable=False),
        sa.Column("object_type", sa.String(32)),
        sa.Column("object_id", sa.BigInteger),
        sa.Column("occurred_at", sa.BigInteger, nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.String(500)),
        sa.Column("received_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("applied_at", TS),
        sa.UniqueConstraint("portal_id", "event_id", name="uq_hubspot_feed_events_portal_event"),
        sa.CheckConstraint(
            "status in ('pending','applied','parked','skipped')",
            name="ck_hubspot_feed_events_status",
        ),
    )
    op.create_index(
        "ix_hubspot_feed_events_status_occurred",
        "hubspot_feed_events",
        ["status", "occurred_at"],
    )
    op.create_index(
        "ix_hubspot_feed_events_portal_object",
        "hubspot_feed_events",
        ["portal_id", "object_type", "object_id"],
    )
    op.create_table(
        "hubspot_feed_deliveries",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("received_at", TS, nullable=False, server_default=sa.func.now()),
    )
    op.create_index(
        "ix_hubspot_feed_deliveries_received_at", "hubspot_feed_deliveries", ["received_at"]
    )
    op.create_table(
        "hubspot_feed_health",
        sa.Column("portal_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("events_received", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("events_unknown_portal", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_event_at", TS),
        sa.Column("signature_failures", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_signature_failure_at", TS),
        sa.Column("last_signature_failure", sa.String(64)),
        sa.Column("journal_offset", sa.String(128)),
        sa.Column("journal_polled_at", TS),
    )


def downgrade() -> None:
    op.drop_table("hubspot_feed_health")
    op.drop_table("hubspot_feed_deliveries")
    op.drop_table("hubspot_feed_events")
