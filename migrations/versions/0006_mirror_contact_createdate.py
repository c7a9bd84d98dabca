"""An index on the mirror's contacts by `createdate`: new-contact analytics count ranges of it.

Revision ID: 0006_mirror_contact_createdate
Revises: 0005_tenant_bound_row_security
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006_mirror_contact_createdate"
down_revision: str | None = "0005_tenant_bound_row_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_hubspot_mirror_contacts_createdate"


def upgrade() -> None:
    value = (
        "(properties ->> 'createdate')"
        if op.get_context().dialect.name == "postgresql"
        else "json_extract(properties, '$.createdate')"
    )
    op.execute(
        f"CREATE INDEX {NAME} ON hubspot_mirror_records (portal_id, {value}) "
        "WHERE object_type = 'contacts' AND NOT archived"
    )


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {NAME}")
