"""OAuth for the MCP server: registered clients, authorization codes and tokens (digests only).

Revision ID: host_0002_mcp_oauth
Revises: host_0001_mcp_confirmations
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "host_0002_mcp_oauth"
down_revision: str | None = "host_0001_mcp_confirmations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "atom_host_oauth_clients",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("info", sa.Text, nullable=False),
        sa.Column("secret_sealed", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "atom_host_oauth_codes",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(200), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "atom_host_oauth_tokens",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("grant_id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(200), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("scopes", sa.String(500), nullable=False),
        sa.Column("resource", sa.String(2000), nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_atom_host_oauth_tokens_grant_id", "atom_host_oauth_tokens", ["grant_id"])
    op.create_index(
        "ix_atom_host_oauth_tokens_expires_at", "atom_host_oauth_tokens", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_table("atom_host_oauth_tokens")
    op.drop_table("atom_host_oauth_codes")
    op.drop_table("atom_host_oauth_clients")
