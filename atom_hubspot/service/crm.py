"""The `crm` capability over HubSpot, plus the HubSpot-shaped operations the routes use.

`HubSpotCRMService(client)` implements the host's `CRMService` protocol with the unified models
(via `service.mapping`), so a caller of the `crm` capability never sees HubSpot's property names.
The routes speak HubSpot's own property names (flat bodies such as `{"email": …}`) and use the
`*_records` methods that answer `HubSpotRecord`s; `service.crm_requests` shapes what they ask.
Both build on `crm_objects.HubSpotObjects` (HubSpot-shaped reads and writes, the caches).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ValidationError

from atom_host_stub.contract import (
    CRMRecord,
    DealFields,
    ObjectKind,
    Page,
    Pipeline,
    ReadOrigin,
    ReadSource,
    SearchFilter,
)
from atom_hubspot.client.models import CrmObject
from atom_hubspot.client.search import FilterGroup
from atom_hubspot.errors import InputError, NotFound
from atom_hubspot.service import mapping
from atom_hubspot.service.crm_objects import HubSpotObjects, email_lookup
from atom_hubspot.service.crm_records import Archived, HubSpotRecord, RecordPage
from atom_hubspot.service.crm_requests import (
    ContactQuery,
    RecordInput,
    RecordQuery,
    SortSpec,
    build_search_request,
    existing_record_id,
    filter_groups,
    object_kind,
    page_limit,
    property_names,
    record_input,
)
from atom_hubspot.service.mirror import (
    Source,
    Sourced,
    check_source,
    now_utc,
    record_as_of,
)
from atom_hubspot.service.scoring import pick_score
from atom_hubspot.storage.mirror import MirroredRecord

log = logging.getLogger("atom_hubspot.service.crm")

# A cursor of a page read from the mirror starts so; the next page is read from it too.
MIRROR_CURSOR = "mirror:"


class HubSpotCRMService(HubSpotObjects):
    """The `crm` capability for one principal's HubSpot connection, and the record operations
    the routes use (answering `HubSpotRecord`s)."""

    provider = "hubspot"

    # ------------------------------------------------------------------ unified (contract)

    async def _to_unified(self, kind: ObjectKind, objs: Sequence[CrmObject]) -> list[CRMRecord]:
        currency = None
        if kind == "deal" and any(
            not o.properties.get(mapping.DEAL_CURRENCY_PROPERTY) and o.properties.get("amount")
            for o in objs
        ):
            currency = await self.account_currency()
        return [mapping.to_unified(kind, o, account_currency=currency) for o in objs]

    async def _read_source(
        self, kind: ObjectKind, source: ReadSource, cursor: str | None
    ) -> tuple[ReadOrigin, str | None]:
        """Where a read of `kind` is answered from, and the cursor in that source's terms. A
        cursor continues in the source its page came from (the mirror's and HubSpot's cursors
        mean different things)."""
        asked = check_source(source)
        if cursor is not None:
            mirrored = cursor.startswith(MIRROR_CURSOR)
            if asked != "auto" and mirrored != (asked == "mirror"):
                raise InputError(
                    f"cursor is from a {'mirror' if mirrored else 'live'} page: ask with "
                    "source auto, or start again without cursor",
                    errors=[{"field": "cursor", "message": "from another source"}],
                )
            asked = "mirror" if mirrored else "live"
            cursor = cursor.removeprefix(MIRROR_CURSOR)
        if self.mirror is None:
            return ReadOrigin(source="live", as_of=now_utc()), cursor
        chosen, as_of = await self.mirror.decide(mapping.OBJECT_TYPES[kind], asked)
        return ReadOrigin(source="mirror" if chosen == "mirror" else "live", as_of=as_of), cursor

    async def _from_mirror_unified(
        self, kind: ObjectKind, records: Sequence[MirroredRecord]
    ) -> list[CRMRecord]:
        """Mirrored records as the contract's: the properties a live read would name (the
        mirror holds every HubSpot property too, which are not custom fields)."""
        names = await self.read_properties(kind)
        objs = [
            CrmObject(
                id=str(r.id),
                properties={
                    n: None if r.properties[n] is None else str(r.properties[n])
                    for n in names
                    if n in r.properties
                },
                created_at=r.created_at,
                updated_at=r.updated_at,
                archived=r.archived,
            )
            for r in records
        ]
        return await self._to_unified(kind, objs)

    async def _mirror_page(
        self,
        kind: ObjectKind,
        origin: ReadOrigin,
        groups: Sequence[FilterGroup],
        limit: int,
        after: str | None,
    ) -> Page[CRMRecord]:
        assert self.mirror is not None
        object_type = mapping.OBJECT_TYPES[kind]
        filters = [[f.to_json() for f in g.filters] for g in groups]
        sorts = [("hs_object_id", False)] if any(filters) else []
        found = await self.mirror.page(
            object_type,
            filter_groups=filters,
            sorts=sorts,
            query=None,
            limit=page_limit(limit),
            after=after,
        )
        # A plain listing pages by id and counts apart (HubSpot's list endpoint counts not).
        total = found.total if found.total is not None else await self.count_mirrored(kind)
        return Page(
            items=await self._from_mirror_unified(kind, found.records),
            next_cursor=None if found.next_after is None else MIRROR_CURSOR + found.next_after,
            total=total,
            origin=origin,
        )

    async def count_mirrored(self, kind: ObjectKind) -> int | None:
        """How many live records of `kind` the mirror holds (None without a mirror)."""
        if self.mirror is None:
            return None
        return await self.mirror.count(mapping.OBJECT_TYPES[kind])

    async def list_records(
        self,
        kind: ObjectKind,
        *,
        limit: int = 20,
        cursor: str | None = None,
        source: ReadSource = "auto",
    ) -> Page[CRMRecord]:
        kind = object_kind(kind)
        origin, after = await self._read_source(kind, source, cursor)
        if origin.source == "mirror":
            return await self._mirror_page(kind, origin, [], limit, after)
        page = await self.list_objects(kind, limit=limit, after=after)
        return Page(
            items=await self._to_unified(kind, page.results),
            next_cursor=page.next_after,
            total=page.total,
            origin=origin,
        )

    async def get_record(
        self, kind: ObjectKind, record_id: str, *, source: ReadSource = "auto"
    ) -> CRMRecord:
        """One record; with `auto` a record the mirror does not have yet is asked of HubSpot
        (no false 404 for a record made a moment ago elsewhere)."""
        kind = object_kind(kind)
        origin, _ = await self._read_source(kind, source, None)
        if origin.source == "mirror" and self.mirror is not None:
            rid = int(existing_record_id(record_id))
            found = await self.mirror.get(mapping.OBJECT_TYPES[kind], rid)
            if found is not None:
                own = ReadOrigin(source="mirror", as_of=record_as_of(origin.as_of, found))
                return (await self._from_mirror_unified(kind, [found]))[0].with_origin(own)
            if source == "mirror":
                raise NotFound(f"No {kind} with id {record_id!r} in the mirror.")
        obj = await self.get_object(kind, record_id)
        live = ReadOrigin(source="live", as_of=now_utc())
        return (await self._to_unified(kind, [obj]))[0].with_origin(live)

    def _fields(self, kind: ObjectKind, fields: BaseModel | Mapping[str, Any]) -> BaseModel:
        model = mapping.FIELDS_BY_KIND[kind]
        if isinstance(fields, model):
            return fields
        data = fields.model_dump(exclude_unset=True) if isinstance(fields, BaseModel) else fields
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            errs = [
                {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                for e in exc.errors(include_input=False, include_url=False)
            ]
            raise InputError(
                "Invalid input in: " + ", ".join(e["field"] for e in errs) + ".", errors=errs
            ) from None

    async def create_record(self, kind: ObjectKind, fields: BaseModel) -> CRMRecord:
        return await self._write_unified(kind, fields, None)

    async def update_record(self, kind: ObjectKind, record_id: str, fields: BaseModel) -> CRMRecord:
        return await self._write_unified(kind, fields, record_id)

    async def _write_unified(
        self, kind: ObjectKind, fields: BaseModel, record_id: str | None
    ) -> CRMRecord:
        """Create (no `record_id`) or update from the contract's fields; a deal's
        `contact_ids` / `company_ids` are associated."""
        kind = object_kind(kind)
        f = self._fields(kind, fields)
        props = mapping.fields_to_properties(kind, f)
        deal = f if isinstance(f, DealFields) else None
        contact_ids = mapping.record_ids("contact_ids", deal.contact_ids) if deal else []
        company_ids = mapping.record_ids("company_ids", deal.company_ids) if deal else []
        if record_id is None:
            obj = await self.create_object(
                kind, props, contact_ids=contact_ids, company_ids=company_ids
            )
        else:
            obj = await self.update_object(
                kind, record_id, props, contact_ids=contact_ids, company_ids=company_ids
            )
        return (await self._to_unified(kind, [obj]))[0]

    async def delete_record(self, kind: ObjectKind, record_id: str) -> None:
        await self.archive_object(object_kind(kind), record_id)

    async def search_records(
        self,
        kind: ObjectKind,
        filters: list[SearchFilter],
        *,
        limit: int = 20,
        cursor: str | None = None,
        source: ReadSource = "auto",
    ) -> Page[CRMRecord]:
        kind = object_kind(kind)
        group = FilterGroup(filters=[mapping.search_filter(kind, f) for f in filters])
        origin, after = await self._read_source(kind, source, cursor)
        if origin.source == "mirror":
            # The mirror takes writes made through the plugin at once, and has no search lag.
            return await self._mirror_page(kind, origin, [group], limit, after)
        if after is None and email_lookup(kind, [group]) is not None:
            # One contact by e-mail: a read, consistent with a write a moment ago (search is not).
            found = await self.list_objects(kind, groups=[group], limit=1)
            return Page(
                items=await self._to_unified(kind, found.results),
                next_cursor=None,
                total=len(found.results),
                origin=origin,
            )
        # Search with no filter is still a search (HubSpot accepts `{}`), so results come in
        # the same order whether or not filters were given.
        req = build_search_request(
            [group],
            sorts=[SortSpec("hs_object_id")],
            properties=await self.read_properties(kind),
            limit=page_limit(limit),
            after=after,
        )
        page = await self._api(kind).search(req)
        return Page(
            items=await self._to_unified(kind, list(page.results)),
            next_cursor=page.next_after,
            total=page.total,
            origin=origin,
        )

    async def list_pipelines(self) -> list[Pipeline]:
        return await self.pipelines()

    # ------------------------------------------------------------------ HubSpot records (routes)

    async def list_records_page(
        self,
        kind: ObjectKind,
        query: RecordQuery | None = None,
        *,
        limit: int = 20,
        after: str | None = None,
        properties: str | None = None,
        sort: str | None = None,
    ) -> RecordPage:
        """A page of records in HubSpot's shape: filtered by `query`, with the comma-separated
        `properties`, sorted by `sort` (`-name` descending)."""
        page = await self.list_objects(
            kind,
            limit=limit,
            after=after,
            properties=property_names("properties", properties),
            groups=filter_groups(query),
            sorts=SortSpec.parse(sort),
        )
        return RecordPage(
            results=[HubSpotRecord.of(o) for o in page.results],
            next_after=page.next_after,
            total=page.total,
        )

    async def list_page_from(
        self,
        source: Source,
        kind: ObjectKind,
        query: RecordQuery | None = None,
        *,
        limit: int = 20,
        after: str | None = None,
        properties: str | None = None,
        sort: str | None = None,
    ) -> tuple[RecordPage, Sourced]:
        """`list_records_page` from the source the policy picks (see service/mirror.py)."""
        object_type = mapping.OBJECT_TYPES[kind]
        query = await self._checked_score(query)
        chosen, as_of = (
            await self.mirror.decide(object_type, source) if self.mirror else ("live", None)
        )
        if chosen == "live" or self.mirror is None:
            page = await self.list_records_page(
                kind, query, limit=limit, after=after, properties=properties, sort=sort
            )
            return page, Sourced(source="live", as_of=as_of or now_utc())
        names = property_names("properties", properties)
        sorts = SortSpec.parse(sort)
        found = await self.mirror.page(
            object_type,
            filter_groups=[[f.to_json() for f in g.filters] for g in filter_groups(query)],
            sorts=[(s.property_name, s.descending) for s in sorts],
            query=None,
            limit=page_limit(limit),
            after=after,
            numbers=await self._score_numbers(kind, query, sorts),
        )
        return (
            RecordPage(
                results=[_from_mirror(kind, r, names) for r in found.records],
                next_after=found.next_after,
                total=found.total,
            ),
            Sourced(source="mirror", as_of=as_of),
        )

    async def _checked_score(self, query: RecordQuery | None) -> RecordQuery | None:
        """A contact query by score names a score property of this portal (the default
        score when none is named); anything else is refused, naming `score_property`."""
        if not isinstance(query, ContactQuery) or not query.by_score:
            return query
        scores, readable = await self.score_properties()
        score = pick_score(scores, readable, query.score_property, field="score_property")
        return replace(query, score_property=score.name)

    async def _score_numbers(
        self, kind: ObjectKind, query: RecordQuery | None, sorts: Sequence[SortSpec]
    ) -> tuple[str, ...]:
        """The score properties a mirror read filters or sorts by: the mirror compares them
        as numbers, as HubSpot does. Asked of the definitions only when the read could need
        them (a score filter, or a sort by a property outside the default ones)."""
        default = set(mapping.DEFAULT_PROPERTIES[kind])
        by_score = isinstance(query, ContactQuery) and query.by_score
        if kind != "contact" or not (
            by_score or any(s.property_name not in default for s in sorts)
        ):
            return ()
        scores, _ = await self.score_properties()
        names = {s.name for s in scores}
        if isinstance(query, ContactQuery) and query.score_property:
            names.add(query.score_property)
        return tuple(sorted(names))

    async def read_from(
        self,
        source: Source,
        kind: ObjectKind,
        record_id: str,
        *,
        properties: str | None = None,
        associations: str | None = None,
    ) -> tuple[HubSpotRecord, Sourced]:
        """`read_record` from the source the policy picks. Associations are read live; with
        `auto` a record the mirror does not have yet is asked of HubSpot (no false 404)."""
        object_type = mapping.OBJECT_TYPES[kind]
        chosen, as_of = (
            await self.mirror.decide(object_type, source) if self.mirror else ("live", None)
        )
        if chosen == "mirror" and self.mirror is not None:
            if associations and source == "mirror":
                raise InputError(
                    "associations are read from HubSpot: ask with source=live or auto",
                    errors=[{"field": "associations", "message": "not with source=mirror"}],
                )
            if not associations:
                found = await self.mirror.get(object_type, int(existing_record_id(record_id)))
                if found is not None:
                    names = property_names("properties", properties)
                    sourced = Sourced(source="mirror", as_of=record_as_of(as_of, found))
                    return _from_mirror(kind, found, names), sourced
                if source == "mirror":
                    raise NotFound(f"No record with id {record_id!r} in the mirror.")
        record = await self.read_record(
            kind, record_id, properties=properties, associations=associations
        )
        return record, Sourced(source="live", as_of=now_utc())

    async def read_record(
        self,
        kind: ObjectKind,
        record_id: str,
        *,
        properties: str | None = None,
        associations: str | None = None,
    ) -> HubSpotRecord:
        obj = await self.get_object(
            kind,
            record_id,
            properties=property_names("properties", properties),
            associations=associations.split(",") if associations else None,
        )
        return HubSpotRecord.of(obj)

    async def write_record(
        self, kind: ObjectKind, values: Mapping[str, Any], *, record_id: str | None = None
    ) -> HubSpotRecord:
        """Create (no `record_id`) or update a record from a flat body of HubSpot properties."""
        data: RecordInput = record_input(kind, values, partial=record_id is not None)
        if record_id is None:
            obj = await self.create_object(
                kind, data.properties, contact_ids=data.contact_ids, company_ids=data.company_ids
            )
        else:
            obj = await self.update_object(
                kind,
                record_id,
                data.properties,
                contact_ids=data.contact_ids,
                company_ids=data.company_ids,
            )
        return HubSpotRecord.of(obj)

    async def privacy_delete_contact(self, record_id: str) -> Archived:
        """A GDPR/privacy deletion: HubSpot deletes the contact for good, and so does the
        mirror (with the records merged into it, its links and list memberships)."""
        rid = existing_record_id(record_id)
        await self.client.contacts.gdpr_delete(rid)
        if self.mirror is not None:
            await self.mirror.purge("contacts", int(rid))
        return Archived(id=record_id)

    async def archive_record(self, kind: ObjectKind, record_id: str) -> Archived:
        await self.archive_object(kind, record_id)
        return Archived(id=record_id)


ALWAYS = ("hs_object_id", "createdate")


def _from_mirror(
    kind: ObjectKind, record: MirroredRecord, names: Sequence[str] | None
) -> HubSpotRecord:
    """A mirrored record in the routes' shape: the properties asked for (HubSpot answers null
    for a property a record does not have), or every property the mirror holds."""
    props = record.properties
    if names is not None:
        wanted = dict.fromkeys([*names, *ALWAYS, mapping.MODIFIED_PROPERTY[kind]])
        props = {n: props.get(n) for n in wanted}
    return HubSpotRecord(
        id=str(record.id),
        properties=dict(props),
        created_at=record.created_at,
        updated_at=record.updated_at,
        archived=record.archived,
    )
