"""The MCP server's ledger of used confirmation tokens, shared by every worker process.

Revision ID: host_0001_mcp_confirmations
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "host_0001_mcp_confirmations"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "atom_host_mcp_confirmations",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("tool", sa.String(100), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_atom_host_mcp_confirmations_expires_at",
        "atom_host_mcp_confirmations",
        ["expires_at"],
    )


def downgrade() -> None:
    op.drop_table("atom_host_mcp_confirmations")
