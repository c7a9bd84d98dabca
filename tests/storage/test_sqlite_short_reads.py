"""SQLite's short reads run each statement's compiled SQL on the kept connection's own cursor
(`storage/shapes.py`): the rows and value types must be the engine's, for every statement a
request reads that way, and a statement that cannot run so takes the engine's path."""

from __future__ import annotations

import sqlalchemy as sa

from atom_hubspot.storage.db import Database, migrate
from atom_hubspot.storage.models import Connection
from atom_hubspot.storage.repository import _find_with_expiry
from atom_hubspot.storage.shapes import compile_shape
from tests.api.conftest import Stack, migrated_template
from tests.mirror.test_host import synced
from tests.storage.test_pg_short_reads import each_statement_gives_the_engines_rows

__all__ = ["migrated_template", "synced"]  # the fixtures


async def test_each_statement_gives_the_engines_rows(synced: Stack) -> None:
    db = await each_statement_gives_the_engines_rows(synced)
    shapes = db._point_shapes
    assert shapes is not None
    ran = [shape for _, shape in shapes._shapes.values()]
    # The connection lookup, the page of sends, one send and the mirrored record: each compiled
    # once and run on the cursor, none sent to the engine's path for want of a shape.
    assert len(ran) >= 4 and all(shape is not None for shape in ran)
    assert all(shape.positions is not None for shape in ran if shape is not None)


def test_positional_parameters_follow_the_sql(sqlite_url: str) -> None:
    migrate(sqlite_url)
    db = Database(sqlite_url)
    assert db.point_engine is not None
    shape = compile_shape(_find_with_expiry(True), db.point_engine.dialect)
    assert shape is not None and shape.positions is not None
    assert shape.sql.count("?") == len(shape.positions)
    params = {"tenant_id": "t", "user_id": "u", "environment": "production", "portal_id": 7}
    values = shape.parameters(params)
    assert isinstance(values, tuple)
    # Each caller's value sits where its name does; the statement's own (LIMIT) are filled in.
    for name, value in params.items():
        assert values[shape.positions.index(name)] == value
    assert len(values) == len(shape.positions)


def test_what_it_cannot_run_alike_has_no_shape(sqlite_url: str) -> None:
    migrate(sqlite_url)
    db = Database(sqlite_url)
    assert db.point_engine is not None
    dialect = db.point_engine.dialect
    expanding = sa.select(Connection.id).where(
        Connection.id.in_(sa.bindparam("ids", expanding=True))
    )
    assert compile_shape(expanding, dialect) is None
    # SQLite stores datetimes as text: a parameter its type converts first.
    dated = sa.select(Connection.id).where(
        Connection.created_at > sa.bindparam("since", type_=sa.DateTime())
    )
    assert compile_shape(dated, dialect) is None
    clash = sa.select(Connection.id, sa.literal_column("1").label("_private"))
    assert compile_shape(clash, dialect) is None
