"""Statements compiled once, run on the driver's own cursor, decoded as SQLAlchemy decodes them.

The lookups on every request (the caller's connection, a mirrored record, a page of scheduled
sends) are a handful of constant statements. Through SQLAlchemy's `Connection.execute` each run
pays for the statement cache lookup, the execution context and the result object around a
driver call that takes a fraction of that. `compile_shape` does that work once per statement
object: the SQL in the driver's parameter style, the parameters the statement carries itself
(a literal LIMIT), a row class and each column's result processor. A row comes back as a named
tuple that also offers `_mapping`, which is all the callers of `Database.rows` use, with the
values the engine's path gives (the same result processors).

A statement that cannot run the same way (expanding or literal-rendered parameters, parameters
with bind processors, column names that are no attribute names) has no shape, and the caller
takes the engine's path.
"""

from __future__ import annotations

import collections
import keyword
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

# Statement shapes kept per cache: a handful exist (the every-request lookups).
MAX_SHAPES = 64


class Shape(NamedTuple):
    sql: str
    defaults: dict[str, Any]
    # The parameters' order for a positional driver (sqlite3's `?`); None for a named one.
    positions: tuple[str, ...] | None
    row: type[tuple[Any, ...]]
    processors: tuple[Callable[[Any], Any] | None, ...]

    def parameters(self, params: Mapping[str, Any]) -> dict[str, Any] | tuple[Any, ...]:
        """The caller's parameters, with the statement's own, as the driver takes them."""
        values = {**self.defaults, **params}
        if self.positions is None:
            return values
        return tuple(values[name] for name in self.positions)

    def decode(self, raw: Iterable[Sequence[Any]]) -> list[Any]:
        """Driver rows as rows of this statement, each column through its result processor."""
        make: Any = self.row
        procs = self.processors
        if not any(procs):
            return [make._make(r) for r in raw]
        return [
            make._make(v if p is None else p(v) for p, v in zip(procs, r, strict=True)) for r in raw
        ]


def _row_class(names: Sequence[str]) -> type[tuple[Any, ...]]:
    base = collections.namedtuple("Row", names, rename=True)  # type: ignore[misc]

    class Row(base):
        """A result row: attributes by column name, and `_mapping` as SQLAlchemy's rows."""

        __slots__ = ()

        @property
        def _mapping(self) -> dict[str, Any]:
            return dict(zip(names, self, strict=True))

    return Row


def compile_shape(stmt: sa.Select[Any], dialect: Dialect) -> Shape | None:
    """The SQL, parameter defaults and order, row class and column decoders of `stmt`, or None
    when it must run on the engine's path."""
    compiled = stmt.compile(dialect=dialect)
    for bind in compiled.binds.values():
        if bind.expanding or bind.literal_execute or bind.type._cached_bind_processor(dialect):
            return None
    names = list(stmt.selected_columns.keys())
    if len(set(names)) != len(names) or not all(
        n.isidentifier() and not n.startswith("_") and not keyword.iskeyword(n) for n in names
    ):
        return None  # not each a plain attribute name of a named tuple
    processors = tuple(
        col.type._cached_result_processor(dialect, None) for col in stmt.selected_columns
    )
    # Values the statement carries itself (a literal LIMIT); the caller's parameters for the rest.
    defaults = {
        compiled.bind_names[b]: b.effective_value for b in compiled.binds.values() if not b.required
    }
    positions = tuple(compiled.positiontup or ()) if compiled.positional else None
    return Shape(str(compiled), defaults, positions, _row_class(names), processors)


class ShapeCache:
    """Each statement object's shape for one dialect, compiled on first use."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._shapes: dict[int, tuple[sa.Select[Any], Shape | None]] = {}

    def get(self, stmt: sa.Select[Any]) -> Shape | None:
        cached = self._shapes.get(id(stmt))
        if cached is not None and cached[0] is stmt:
            return cached[1]
        shape = compile_shape(stmt, self.dialect)
        if len(self._shapes) < MAX_SHAPES:
            self._shapes[id(stmt)] = (stmt, shape)  # keeps stmt alive: its id stays its own
        return shape
