"""The host's own CRM tools for assistants: search, get, pipelines, create, update, archive.

They sit on the `crm` capability, so whichever CRM plugin provides it serves them; their
safety (read-only views, preview then confirmation) comes from the runner in agent_tools.py.
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from atom_host_stub.agent_tools import KINDS, MAX_PAGE, ObjectType, Preview, ToolFailure, dump
from atom_host_stub.contract import (
    FIELDS_MODELS,
    AgentTool,
    ObjectKind,
    Pipeline,
    ReadOrigin,
    ReadSource,
    SearchFilter,
    ToolContext,
)

Kind = Annotated[ObjectType, Field(description="contacts, companies or deals")]
RecordId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


Source = Annotated[
    ReadSource, Field(description="auto: a local mirror when current; live forces the CRM")
]


class SearchIn(_In):
    object_type: Kind
    filters: list[SearchFilter] = Field(
        default_factory=list, max_length=20, description="ANDed; none lists every record"
    )
    limit: int = Field(default=20, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(default=None, max_length=1000, description="next_cursor of a page")
    source: Source = "auto"


class GetIn(_In):
    object_type: Kind
    id: RecordId


class ReadIn(GetIn):
    source: Source = "auto"


class NoIn(_In):
    pass


FIELD_NAMES = {
    plural: ", ".join(n for n in FIELDS_MODELS[kind].model_fields if n != "custom_fields")
    for plural, kind in KINDS.items()
}


class CreateIn(_In):
    object_type: Kind
    fields: dict[str, Any] = Field(
        description="; ".join(f"{p}: {n}" for p, n in FIELD_NAMES.items())
        + "; custom_fields: {name: value}",
    )


class UpdateIn(CreateIn):
    id: RecordId


class Origin(BaseModel):
    source: Literal["mirror", "live"] = Field(description="mirror: the local copy; live: the CRM")
    as_of: datetime | None = Field(default=None, description="Holds every change up to then")


class RecordsPage(Origin):
    object_type: str
    results: list[dict[str, Any]]
    next_cursor: str | None = None
    truncated: bool = Field(description="More records follow: pass next_cursor")
    total: int | None = Field(default=None, description="null when the CRM does not count")
    provider: str


class RecordOut(BaseModel):
    object_type: str
    record: dict[str, Any]
    provider: str


class ReadOut(RecordOut, Origin):
    pass


class PipelinesOut(BaseModel):
    pipelines: list[Pipeline]
    provider: str


class ArchivedOut(BaseModel):
    object_type: str
    id: str
    archived: bool = True


def _fields(kind: ObjectKind, given: dict[str, Any]) -> BaseModel:
    try:
        return FIELDS_MODELS[kind].model_validate(given)
    except ValidationError as exc:
        wrong = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[:10])
        raise ToolFailure("invalid_input", f"Invalid fields for a {kind}: {wrong}.") from exc


def _takes_source(method: Any) -> bool:
    """Whether a provider's read takes `source` (the contract added it; older providers'
    reads are live, and are called without it)."""
    try:
        return "source" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


def _source_kw(crm: Any, method: str, source: ReadSource) -> dict[str, Any]:
    return {"source": source} if _takes_source(getattr(crm, method)) else {}


def _origin(found: Any, asked_at: datetime) -> dict[str, Any]:
    """`source` and `as_of` of a read: the provider's word, else a live read as of the call."""
    origin = getattr(found, "origin", None)
    if not isinstance(origin, ReadOrigin):
        origin = ReadOrigin(source="live", as_of=asked_at)
    return {"source": origin.source, "as_of": origin.as_of}


async def _search(ctx: ToolContext, a: SearchIn) -> RecordsPage:
    crm = await ctx.service("crm")
    kind = KINDS[a.object_type]
    asked_at = datetime.now(UTC)
    if a.filters:
        kw = _source_kw(crm, "search_records", a.source)
        page = await crm.search_records(kind, a.filters, limit=a.limit, cursor=a.cursor, **kw)
    else:
        kw = _source_kw(crm, "list_records", a.source)
        page = await crm.list_records(kind, limit=a.limit, cursor=a.cursor, **kw)
    return RecordsPage(
        object_type=a.object_type,
        results=[r.model_dump(mode="json", exclude={"raw"}) for r in page.items],
        next_cursor=page.next_cursor,
        truncated=page.next_cursor is not None,
        total=getattr(page, "total", None),
        provider=crm.provider,
        **_origin(page, asked_at),
    )


def _record_out(crm: Any, object_type: str, record: BaseModel) -> RecordOut:
    return RecordOut(object_type=object_type, record=dump(record), provider=crm.provider)


async def _get(ctx: ToolContext, a: ReadIn) -> ReadOut:
    crm = await ctx.service("crm")
    asked_at = datetime.now(UTC)
    kw = _source_kw(crm, "get_record", a.source)
    found = await crm.get_record(KINDS[a.object_type], a.id, **kw)
    return ReadOut(
        object_type=a.object_type,
        record=dump(found),
        provider=crm.provider,
        **_origin(found, asked_at),
    )


async def _pipelines(ctx: ToolContext, a: NoIn) -> PipelinesOut:
    crm = await ctx.service("crm")
    return PipelinesOut(pipelines=await crm.list_pipelines(), provider=crm.provider)


async def _create(ctx: ToolContext, a: CreateIn) -> RecordOut:
    crm = await ctx.service("crm")
    kind = KINDS[a.object_type]
    made = await crm.create_record(kind, _fields(kind, a.fields))
    return _record_out(crm, a.object_type, made)


async def _update(ctx: ToolContext, a: UpdateIn) -> RecordOut:
    crm = await ctx.service("crm")
    kind = KINDS[a.object_type]
    changed = await crm.update_record(kind, a.id, _fields(kind, a.fields))
    return _record_out(crm, a.object_type, changed)


async def _archive(ctx: ToolContext, a: GetIn) -> ArchivedOut:
    crm = await ctx.service("crm")
    await crm.delete_record(KINDS[a.object_type], a.id)
    return ArchivedOut(object_type=a.object_type, id=a.id)


def _set_fields(kind: ObjectKind, given: dict[str, Any]) -> dict[str, Any]:
    return _fields(kind, given).model_dump(mode="json", exclude_unset=True)


async def _preview_create(ctx: ToolContext, a: CreateIn) -> Preview:
    after = _set_fields(KINDS[a.object_type], a.fields)
    return Preview(tool="crm_create", changes={"create": a.object_type, **after})


async def _preview_update(ctx: ToolContext, a: UpdateIn) -> Preview:
    crm = await ctx.service("crm")
    kind = KINDS[a.object_type]
    # The record exists and is the caller's, as the CRM holds it now.
    current = await crm.get_record(kind, a.id, **_source_kw(crm, "get_record", "live"))
    after = _set_fields(kind, a.fields)
    before = current.model_dump(mode="json", include=set(after) - {"custom_fields"})
    return Preview(
        tool="crm_update",
        changes={"id": a.id, "before": before, "after": after},
        budget_cost=2,
    )


async def _preview_archive(ctx: ToolContext, a: GetIn) -> Preview:
    crm = await ctx.service("crm")
    kw = _source_kw(crm, "get_record", "live")
    current = await crm.get_record(KINDS[a.object_type], a.id, **kw)
    return Preview(
        tool="crm_archive",
        changes={"archive": a.object_type, "id": a.id, "record": dump(current)},
    )


def crm_tools() -> list[AgentTool]:
    """The host's CRM tools, served by whichever plugin provides the `crm` capability."""
    return [
        AgentTool(
            "crm_search",
            "Search or list contacts, companies or deals (paged; says total, truncated, source "
            "and as_of).",
            SearchIn,
            RecordsPage,
            _search,
        ),
        AgentTool(
            "crm_get", "Read one CRM record by id (says source and as_of).", ReadIn, ReadOut, _get
        ),
        AgentTool(
            "crm_pipelines", "Deal pipelines and their stages.", NoIn, PipelinesOut, _pipelines
        ),
        AgentTool(
            "crm_create",
            "Create a CRM record (preview first, then confirm).",
            CreateIn,
            RecordOut,
            _create,
            read_only=False,
            preview=_preview_create,
        ),
        AgentTool(
            "crm_update",
            "Update a CRM record's given fields (preview first, then confirm).",
            UpdateIn,
            RecordOut,
            _update,
            read_only=False,
            preview=_preview_update,
        ),
        AgentTool(
            "crm_archive",
            "Archive (delete) a CRM record (preview first, then confirm).",
            GetIn,
            ArchivedOut,
            _archive,
            read_only=False,
            destructive=True,
            preview=_preview_archive,
        ),
    ]
