"""The one shape every list answer has: `{"results", "next_after", "total"}`.

`next_after` is an opaque cursor: pass it back as the `after` query parameter to get the next
page; it is null on the last page. `total` is the number of matches when the source knows it.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from atom_hubspot.errors import InputError

T = TypeVar("T")


class ResultsPage(BaseModel, Generic[T]):
    """One page of a list answer."""

    results: list[T]
    next_after: str | None = Field(
        default=None, description="Pass as `after` to get the next page; null on the last page"
    )
    total: int | None = Field(default=None, description="Matches in all, when known")


def offset_cursor(after: str | None) -> int:
    """An offset-paged source's position from our cursor (the offset as digits)."""
    if not after:
        return 0
    if not after.isdigit() or len(after) > 9:
        raise InputError(
            "after is not a cursor from a previous answer's next_after",
            errors=[{"field": "after", "message": "not a cursor from next_after"}],
        )
    return int(after)
