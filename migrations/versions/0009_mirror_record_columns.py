"""The properties the mirror's analytics group by and count ranges of, in real columns: a
contact's lifecycle stage and create date, a deal's pipeline, stage, close date and amount.

Each is written with the record's JSON from now on (storage/mirror/records.py,
`record_columns`) and indexed per object type over live records, so the figures are GROUP BYs
on an index instead of a pass over every row's JSON. The expression indexes on those
properties go; the rows mirrored before are filled from their JSON here (online migrations;
the offline SQL is for new databases, which have no rows yet).

Revision ID: 0009_mirror_record_columns
Revises: 0008_connection_environment
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision: str = "0009_mirror_record_columns"
down_revision: str | None = "0008_connection_environment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "hubspot_mirror_records"
COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("lifecyclestage", sa.Text()),
    ("pipeline", sa.Text()),
    ("dealstage", sa.Text()),
    ("createdate", sa.String(24)),
    ("closedate", sa.String(24)),
    ("amount_scale", sa.Integer()),
    ("amount_hi", sa.BigInteger()),
    ("amount_lo", sa.BigInteger()),
)
INDEXES = (
    ("contacts", "stage", ("lifecyclestage",)),
    (
        "deals",
        "figures",
        ("pipeline", "dealstage", "amount_scale", "closedate", "amount_hi", "amount_lo"),
    ),
)
# The expression indexes (0004, 0006) these columns replace.
REPLACED = (
    ("contacts", "lifecyclestage"),
    ("deals", "dealstage"),
    ("deals", "pipeline"),
    ("contacts", "createdate"),
)
CREATED_DAY = "ix_hubspot_mirror_contacts_created_day"
BATCH = 2000


def _live(object_type: str) -> sa.TextClause:
    return sa.text(f"object_type = '{object_type}' AND NOT archived")


def upgrade() -> None:
    for name, type_ in COLUMNS:
        op.add_column(TABLE, sa.Column(name, type_, nullable=True))
    for object_type, prop in REPLACED:
        op.execute(f"DROP INDEX IF EXISTS ix_hubspot_mirror_{object_type}_{prop}")
    for object_type, name, columns in INDEXES:
        op.create_index(
            f"ix_hubspot_mirror_{object_type}_{name}",
            TABLE,
            ["portal_id", *columns],
            sqlite_where=_live(object_type),
            postgresql_where=_live(object_type),
        )
    # New contacts per UTC day group by the day itself: read in index order, never sorted.
    op.execute(
        f"CREATE INDEX {CREATED_DAY} ON {TABLE} (portal_id, substr(createdate, 1, 10)) "
        "WHERE object_type = 'contacts' AND NOT archived"
    )
    if not context.is_offline_mode():
        _backfill()


def _backfill() -> None:
    """Fill the columns of the rows already mirrored, from their JSON, the way a write does."""
    from atom_hubspot.storage.mirror.records import record_columns

    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        # Row-level security is forced on the owner too; the owner lifts it for this
        # transaction's backfill (every portal's rows) and puts it back before commit.
        op.execute(f"ALTER TABLE {TABLE} NO FORCE ROW LEVEL SECURITY")
    records = sa.table(
        TABLE,
        sa.column("portal_id"),
        sa.column("object_type"),
        sa.column("record_id"),
        sa.column("properties", sa.JSON()),
        *[sa.column(name) for name, _ in COLUMNS],
    )
    key = (records.c.portal_id, records.c.object_type, records.c.record_id)
    update = (
        records.update()
        .where(
            records.c.portal_id == sa.bindparam("k_portal"),
            records.c.object_type == sa.bindparam("k_type"),
            records.c.record_id == sa.bindparam("k_id"),
        )
        .values({name: sa.bindparam(name) for name, _ in COLUMNS})
    )
    after: tuple[object, ...] | None = None
    while True:
        query = sa.select(*key, records.c.properties).order_by(*key).limit(BATCH)
        if after is not None:
            query = query.where(sa.tuple_(*key) > sa.tuple_(*[sa.literal(v) for v in after]))
        rows = bind.execute(query).all()
        if not rows:
            break
        bind.execute(
            update,
            [
                {"k_portal": p, "k_type": t, "k_id": i, **record_columns(props or {})}
                for p, t, i, props in rows
            ],
        )
        after = tuple(rows[-1][:3])
    if postgres:
        op.execute(f"ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {CREATED_DAY}")
    for object_type, name, _ in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS ix_hubspot_mirror_{object_type}_{name}")
    for name, _ in reversed(COLUMNS):
        op.execute(f"ALTER TABLE {TABLE} DROP COLUMN {name}")
    dialect = op.get_context().dialect.name
    for object_type, prop in REPLACED:
        value = (
            f"(properties ->> '{prop}')"
            if dialect == "postgresql"
            else f"json_extract(properties, '$.{prop}')"
        )
        op.execute(
            f"CREATE INDEX ix_hubspot_mirror_{object_type}_{prop} ON {TABLE} "
            f"(portal_id, {value}) WHERE object_type = '{object_type}' AND NOT archived"
        )
