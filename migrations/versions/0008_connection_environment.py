"""Each connection and pending OAuth authorization records the HubSpot environment (the app:
production, or QA in a developer test account) it was made in; existing rows were production.

Revision ID: 0008_connection_environment
Revises: 0007_list_sends
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_connection_environment"
down_revision: str | None = "0007_list_sends"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("hubspot_connections", "hubspot_oauth_states")


def _column(table: str) -> sa.Column[str]:
    # A column-level CHECK: SQLite adds it with the column (it cannot add a table constraint).
    return sa.Column(
        "environment",
        sa.String(16),
        sa.CheckConstraint("environment in ('production','qa')", name=f"ck_{table}_environment"),
        nullable=False,
        server_default="production",
    )


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, _column(table))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"ck_{table}_environment", type_="check")
            batch.drop_column("environment")
