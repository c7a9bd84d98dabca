"""What every part of the mirror shares: its tables, a record as the mirror holds it, the
properties it keeps in real columns, and the conversions of HubSpot's instants and numbers.

A few properties live twice: inside the record's JSON (the record as HubSpot answered it) and
in a real, indexed column written with it (`record_columns`). Those are what the analytics
group by and count ranges of — lifecycle stage, create and close date, pipeline, deal stage,
amount — so a figure over 100,000 records reads an index, never each row's JSON.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa

from atom_hubspot.errors import InputError
from atom_hubspot.numbers import parse_decimal
from atom_hubspot.storage.models import (
    MIRROR_OBJECT_TYPES,
    MirrorAssociation,
    MirrorList,
    MirrorListMember,
    MirrorRecord,
    MirrorSyncState,
)

if TYPE_CHECKING:
    from atom_hubspot.storage.db import Database


def table_of(model: Any) -> sa.Table:
    return cast(sa.Table, model.__table__)


R = table_of(MirrorRecord)
A = table_of(MirrorAssociation)
S = table_of(MirrorSyncState)
MEMBERS = table_of(MirrorListMember)
LISTS = table_of(MirrorList)

TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3"}
MERGED_IDS_PROPERTY = "hs_merged_object_ids"

# Properties kept in real columns too (see the module's doc): text as HubSpot gave it, instants
# in one sortable form, the amount as exact integers (see `amount_columns`).
TEXT_COLUMNS = ("lifecyclestage", "pipeline", "dealstage")
INSTANT_COLUMNS = ("createdate", "closedate")
AMOUNT_COLUMNS = ("amount_scale", "amount_hi", "amount_lo")
# Which property each real column is derived from.
COLUMN_PROPERTY: dict[str, str] = {
    **{c: c for c in (*TEXT_COLUMNS, *INSTANT_COLUMNS)},
    **dict.fromkeys(AMOUNT_COLUMNS, "amount"),
}
# amount = (amount_hi * AMOUNT_SPLIT + amount_lo) * 10^-amount_scale. Two integers keep any
# column sum inside 64 bits (SQLite's SUM fails on overflow rather than widening).
AMOUNT_SPLIT = 10**9
AMOUNT_MAX_UNITS = 10**19  # |hi| < 10^10: a sum over 900 million rows still fits
AMOUNT_MAX_SCALE = 64


@dataclass(frozen=True)
class MirroredRecord:
    """A record as the mirror holds it (HubSpot's id, properties and timestamps)."""

    id: int
    properties: dict[str, Any]
    created_at: datetime | None = None
    updated_at: datetime | None = None
    archived: bool = False
    archived_at: datetime | None = None
    merged_into: int | None = None
    synced_at: datetime | None = None

    def to_hubspot(self) -> dict[str, Any]:
        """The record in HubSpot's own answer shape (`id`, `properties`, `createdAt`, …)."""
        out: dict[str, Any] = {
            "id": str(self.id),
            "properties": dict(self.properties),
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "archived": self.archived,
        }
        if self.archived_at is not None:
            out["archivedAt"] = iso(self.archived_at)
        return out


@dataclass
class SyncStateView:
    """Where the sync of one object type of a portal stands."""

    portal_id: int
    object_type: str
    status: str = "idle"
    mode: str | None = None
    cursor: dict[str, Any] = field(default_factory=dict)
    synced_through: datetime | None = None
    run_started_at: datetime | None = None
    last_success_at: datetime | None = None
    reconciled_at: datetime | None = None
    processed: int = 0
    expected: int | None = None
    last_error: str | None = None
    updated_at: datetime | None = None


class MirrorBase:
    """The database a part of `MirrorStore` works on, and the dialect's upsert."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.dialect = db.dialect

    def _insert(self, table: sa.Table) -> Any:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)

    def prop(self, name: str) -> Any:
        """A property's text inside the JSON, in the form the expression indexes use."""
        if self.dialect == "postgresql":
            return R.c.properties.op("->>")(sa.literal_column(f"'{safe_name(name)}'"))
        return sa.func.json_extract(R.c.properties, sa.literal_column(f"'$.{safe_name(name)}'"))

    def has_property(self, properties: Any, name: str) -> Any:
        """Whether a JSON properties value names `name` (with any value, null included)."""
        if self.dialect == "postgresql":
            return properties.op("?")(sa.literal(safe_name(name)))
        return sa.func.json_type(properties, f"$.{safe_name(name)}").is_not(None)


def check_type(object_type: str) -> str:
    if object_type not in MIRROR_OBJECT_TYPES:
        raise ValueError(f"the mirror holds {', '.join(MIRROR_OBJECT_TYPES)}, not {object_type}")
    return object_type


def merged_ids(properties: Mapping[str, Any]) -> list[int]:
    """The ids HubSpot merged into this record (`hs_merged_object_ids`, `;`-separated)."""
    raw = properties.get(MERGED_IDS_PROPERTY)
    if not raw:
        return []
    return [int(p) for p in str(raw).split(";") if p.strip().isdigit()]


def record_columns(properties: Mapping[str, Any]) -> dict[str, Any]:
    """The real columns of a record with these properties (see the module's doc)."""
    out: dict[str, Any] = {}
    for name in TEXT_COLUMNS:
        value = properties.get(name)
        out[name] = None if value is None or value == "" else str(value)
    for name in INSTANT_COLUMNS:
        out[name] = instant_text(properties.get(name))
    out.update(amount_columns(properties.get("amount")))
    return out


def amount_columns(value: Any) -> dict[str, int | None]:
    """`amount` as (scale, hi, lo): no scale when it is not a number (the analytics count it
    as a deal without amount, as the live computation does); a scale but no hi/lo when it is a
    number the integer columns do not hold exactly (exponent notation, more than 19 digits),
    which the analytics then read from the JSON."""
    d = parse_decimal(value)
    if d is None:
        return {"amount_scale": None, "amount_hi": None, "amount_lo": None}
    sign, digits, exponent = d.as_tuple()
    scale = -int(exponent)
    units = int("".join(map(str, digits)) or "0")
    if not (0 <= scale <= AMOUNT_MAX_SCALE and units < AMOUNT_MAX_UNITS):
        return {"amount_scale": 0, "amount_hi": None, "amount_lo": None}
    hi, lo = divmod(units, AMOUNT_SPLIT)
    if sign:
        hi, lo = -hi, -lo
    return {"amount_scale": scale, "amount_hi": hi, "amount_lo": lo}


def amount_of(scale: int, hi: int, lo: int) -> Decimal:
    """The exact amount (or sum of amounts of one scale) the amount columns hold."""
    return Decimal(int(hi) * AMOUNT_SPLIT + int(lo)).scaleb(-int(scale))


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_ts(value: Any) -> datetime | None:
    """HubSpot's instants: ISO-8601 (…Z) or epoch milliseconds; None when unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    s = str(value).strip()
    try:
        if re.fullmatch(r"-?\d{1,20}", s):
            return datetime.fromtimestamp(int(s) / 1000, UTC)
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def instant_text(value: Any) -> str | None:
    """An instant as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC), which orders as text the way the
    instants do; None when `value` is not one."""
    dt = parse_ts(value)
    if dt is None:
        return None
    try:
        u = dt.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}."
        f"{u.microsecond // 1000:03d}Z"
    )


def to_record(row: Any) -> MirroredRecord:
    return MirroredRecord(
        id=int(row.record_id),
        properties=dict(row.properties or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
        archived=bool(row.archived),
        archived_at=row.archived_at,
        merged_into=row.merged_into,
        synced_at=row.synced_at,
    )


_NAME = re.compile(r"[A-Za-z0-9_]{1,100}")


def safe_name(name: str) -> str:
    # Property names go into SQL as JSON paths: only HubSpot's name characters are allowed.
    if not _NAME.fullmatch(name):
        raise InputError(f"not a property name: {name[:60]!r}", field="propertyName")
    return name


def decimal_or_none(value: Any) -> Decimal | None:
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def float_or_none(value: Any) -> float | None:
    d = decimal_or_none(value) if value is not None else None
    return float(d) if d is not None else None


def int_or_none(value: Any) -> int | None:
    d = decimal_or_none(value) if value is not None else None
    return int(d) if d is not None else None
