"""`MemoryCRMService`: the `crm` capability over dictionaries, behaving as the contract says
(ids are strings, deletes archive, errors carry the stable codes, cursors are opaque)."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ValidationError

from atom_host_stub.contract import (
    FIELDS_MODELS,
    RECORD_MODELS,
    Company,
    Contact,
    CRMConflict,
    CRMNotFound,
    CRMRecord,
    CRMValidationError,
    Deal,
    ObjectKind,
    Page,
    Pipeline,
    ReadOrigin,
    ReadSource,
    SearchFilter,
    Stage,
)

MAX_PAGE = 100
COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "neq": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}

# (id, label, win probability, closed) of each stage, in order.
STAGES = [
    ("appointmentscheduled", "Appointment Scheduled", "0.2", False),
    ("qualifiedtobuy", "Qualified To Buy", "0.4", False),
    ("closedwon", "Closed Won", "1.0", True),
    ("closedlost", "Closed Lost", "0.0", True),
]
DEFAULT_PIPELINE = Pipeline(
    id="default",
    label="Sales Pipeline",
    stages=[
        Stage(id=id_, label=label, display_order=n, probability=Decimal(p), is_closed=closed)
        for n, (id_, label, p, closed) in enumerate(STAGES)
    ],
)


@dataclass
class MemoryStore:
    """One tenant's records by kind and id (archived ones kept, as HubSpot keeps them)."""

    custom_fields: dict[str, set[str]]
    records: dict[str, dict[str, CRMRecord]] = field(
        default_factory=lambda: {"contact": {}, "company": {}, "deal": {}}
    )
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))


def _now() -> datetime:
    return datetime.now(UTC)


def _live() -> ReadOrigin:
    return ReadOrigin(source="live", as_of=_now())


def _comparable(value: Any) -> Any:
    if isinstance(value, BaseModel) and hasattr(value, "amount"):
        return value.amount  # Money compares by amount
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value).lower()


def _matches(record: CRMRecord, f: SearchFilter) -> bool:
    data = record.model_dump()
    value = record.custom_fields.get(f.field) if f.field not in data else getattr(record, f.field)
    if f.op == "has":
        return value not in (None, "")
    if f.op == "not_has":
        return value in (None, "")
    if value is None:
        return f.op == "neq"
    if f.op == "in":
        wanted = f.value if isinstance(f.value, list | tuple | set) else [f.value]
        return _comparable(value) in {_comparable(w) for w in wanted}
    if f.op == "contains":
        return str(f.value).lower() in str(value).lower()
    mine, theirs = _comparable(value), _comparable(f.value)
    if type(mine) is not type(theirs):
        mine, theirs = str(mine), str(theirs)
    return bool(COMPARISONS[f.op](mine, theirs))


class MemoryCRMService:
    """The `crm` capability for one tenant's MemoryStore."""

    provider = "memory"

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    # ------------------------------------------------------------------ helpers

    def _kind(self, kind: str) -> ObjectKind:
        if kind not in RECORD_MODELS:
            raise CRMValidationError(f"Unknown object kind {kind!r}; use contact, company or deal.")
        return kind

    def _live(self, kind: ObjectKind, record_id: str) -> CRMRecord:
        record = self.store.records[kind].get(str(record_id))
        if record is None or record.archived:
            raise CRMNotFound(f"No {kind} with id {record_id!r}.", id=record_id)
        return record

    def _fields(self, kind: ObjectKind, fields: BaseModel | dict[str, Any]) -> dict[str, Any]:
        model = FIELDS_MODELS[kind]
        try:
            parsed = (
                fields
                if isinstance(fields, model)
                else model.model_validate(
                    fields.model_dump(exclude_unset=True)
                    if isinstance(fields, BaseModel)
                    else fields
                )
            )
        except ValidationError as exc:
            raise CRMValidationError(
                f"Invalid {kind} fields: {exc.error_count()} error(s)"
            ) from None
        values = parsed.model_dump(exclude_unset=True)
        unknown = set(values.get("custom_fields", {})) - self.store.custom_fields.get(kind, set())
        if unknown:
            raise CRMValidationError(
                f"Unknown {kind} field(s): {', '.join(sorted(unknown))}", fields=sorted(unknown)
            )
        values.pop("contact_ids", None)  # associations are not part of the unified record
        values.pop("company_ids", None)
        if kind == "deal":
            self._check_stage(values)
        return values

    def _check_stage(self, values: dict[str, Any]) -> None:
        pipeline_id = values.get("pipeline_id")
        if pipeline_id is not None and pipeline_id != DEFAULT_PIPELINE.id:
            raise CRMValidationError(f"Unknown pipeline {pipeline_id!r}")
        stage_id = values.get("stage_id")
        if stage_id is not None and stage_id not in {s.id for s in DEFAULT_PIPELINE.stages}:
            raise CRMValidationError(f"Unknown deal stage {stage_id!r}")

    def _check_unique_email(self, values: dict[str, Any], record_id: str | None) -> None:
        email = values.get("email")
        if not email:
            return
        for other in self.store.records["contact"].values():
            if (
                not other.archived
                and other.id != record_id
                and isinstance(other, Contact)
                and (other.email or "").lower() == email.lower()
            ):
                raise CRMConflict(f"Contact already exists. Existing ID: {other.id}", id=other.id)

    @staticmethod
    def _page(records: list[CRMRecord], limit: int, cursor: str | None) -> Page[Any]:
        if limit < 1:
            raise CRMValidationError("limit must be at least 1")
        limit = min(limit, MAX_PAGE)
        ordered = sorted(records, key=lambda r: int(r.id))
        if cursor is not None:
            if not cursor.isdigit():
                raise CRMValidationError("cursor is not one this service gave out")
            ordered = [r for r in ordered if int(r.id) > int(cursor)]
        items = ordered[:limit]
        more = len(ordered) > limit
        return Page(
            items=items,
            next_cursor=items[-1].id if more else None,
            total=len(records),
            origin=_live(),
        )

    # ------------------------------------------------------------------ CRMService

    # The store is the CRM itself: every read is live, whatever `source` asks.

    async def list_records(
        self,
        kind: ObjectKind,
        *,
        limit: int = 20,
        cursor: str | None = None,
        source: ReadSource = "auto",
    ) -> Page[Any]:
        kind = self._kind(kind)
        live = [r for r in self.store.records[kind].values() if not r.archived]
        return self._page(live, limit, cursor)

    async def get_record(
        self, kind: ObjectKind, record_id: str, *, source: ReadSource = "auto"
    ) -> Any:
        return self._live(self._kind(kind), record_id).model_copy().with_origin(_live())

    async def create_record(self, kind: ObjectKind, fields: BaseModel) -> Any:
        kind = self._kind(kind)
        values = self._fields(kind, fields)
        if kind == "contact":
            self._check_unique_email(values, None)
        now = _now()
        record_id = str(next(self.store.ids))
        record = RECORD_MODELS[kind](
            id=record_id,
            created_at=now,
            updated_at=now,
            raw={"id": record_id, **{k: v for k, v in values.items()}},
            **values,
        )
        self.store.records[kind][record_id] = record
        return record

    async def update_record(self, kind: ObjectKind, record_id: str, fields: BaseModel) -> Any:
        kind = self._kind(kind)
        current = self._live(kind, record_id)
        values = self._fields(kind, fields)
        if kind == "contact":
            self._check_unique_email(values, current.id)
        custom = {**current.custom_fields, **values.pop("custom_fields", {})}
        updated = current.model_copy(
            update={
                **values,
                "custom_fields": custom,
                "updated_at": _now(),
                "raw": {**current.raw, **values, "custom_fields": custom},
            }
        )
        self.store.records[kind][current.id] = updated
        return updated

    async def delete_record(self, kind: ObjectKind, record_id: str) -> None:
        kind = self._kind(kind)
        current = self._live(kind, record_id)
        self.store.records[kind][current.id] = current.model_copy(
            update={"archived": True, "updated_at": _now()}
        )

    async def search_records(
        self,
        kind: ObjectKind,
        filters: list[SearchFilter],
        *,
        limit: int = 20,
        cursor: str | None = None,
        source: ReadSource = "auto",
    ) -> Page[Any]:
        kind = self._kind(kind)
        known = set(RECORD_MODELS[kind].model_fields) - {"raw", "custom_fields"}
        known |= self.store.custom_fields.get(kind, set())
        for f in filters:
            if f.field not in known:
                raise CRMValidationError(f"Cannot search {kind}s by {f.field!r}")
        hits = [
            r
            for r in self.store.records[kind].values()
            if not r.archived and all(_matches(r, f) for f in filters)
        ]
        return self._page(hits, limit, cursor)

    async def list_pipelines(self) -> list[Pipeline]:
        return [DEFAULT_PIPELINE.model_copy(deep=True)]


__all__ = ["Company", "Contact", "Deal", "MemoryCRMService", "MemoryStore"]
