"""CRM objects (contacts, companies, deals): CRUD, search, paging, batch.

https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/guide (same shape for
companies and deals): list `limit` ≤ 100, property values are strings, batch calls take 100
inputs and may answer 207 with `errors[]` next to the successes.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping, Sequence
from contextlib import aclosing
from typing import Any

from atom_hubspot.client.caller import ApiCaller, csv_param, next_after, query_params
from atom_hubspot.client.models import BatchItemError, BatchResult, CrmObject, ObjectPage
from atom_hubspot.client.search import SEARCH_RESULT_CAP, Filter, FilterGroup, SearchRequest
from atom_hubspot.errors import HubSpotError, InputError

MAX_LIST_LIMIT = 100
BATCH_SIZE = 100
KEYSET_PROPERTY = "hs_object_id"


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def capped(
    pages: AsyncGenerator[ObjectPage], max_items: int | None
) -> AsyncIterator[CrmObject]:
    """The records of `pages`, in order, stopping at `max_items` without asking for another page."""
    seen = 0
    async with aclosing(pages):
        async for page in pages:
            for obj in page.results:
                if max_items is not None and seen >= max_items:
                    return
                seen += 1
                yield obj
            if max_items is not None and seen >= max_items:
                return


class ObjectsAPI:
    """One CRM object type (`contacts`, `companies`, `deals`, or a type id such as `0-1`)."""

    def __init__(self, client: ApiCaller, object_type: str) -> None:
        self._c = client
        self.object_type = object_type

    @property
    def _paths(self) -> Any:
        return self._c.http.paths

    # ------------------------------------------------------------------ single records

    async def get(
        self,
        id: str | int,
        *,
        properties: Iterable[str] | None = None,
        id_property: str | None = None,
        associations: Iterable[str] | None = None,
    ) -> CrmObject:
        """One record by id, or by a unique property (`id_property="email"`)."""
        body = await self._c.json(
            "GET",
            self._paths.object(self.object_type, id),
            params=query_params(
                properties=csv_param(properties),
                idProperty=id_property,
                associations=csv_param(associations),
            ),
        )
        return CrmObject.model_validate(body)

    async def list(
        self,
        *,
        limit: int = 10,
        after: str | None = None,
        properties: Iterable[str] | None = None,
        associations: Iterable[str] | None = None,
        archived: bool = False,
    ) -> ObjectPage:
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise InputError(f"limit must be between 1 and {MAX_LIST_LIMIT}", field="limit")
        body = await self._c.json(
            "GET",
            self._paths.objects(self.object_type),
            params=query_params(
                limit=limit,
                after=after,
                properties=csv_param(properties),
                associations=csv_param(associations),
                archived="true" if archived else None,
            ),
        )
        return ObjectPage(
            results=[CrmObject.model_validate(r) for r in body.get("results") or []],
            next_after=next_after(body),
            total=body.get("total"),
        )

    async def iter_all(
        self,
        *,
        page_size: int = MAX_LIST_LIMIT,
        properties: Iterable[str] | None = None,
        associations: Iterable[str] | None = None,
        archived: bool = False,
        max_items: int | None = None,
    ) -> AsyncIterator[CrmObject]:
        """Every record, page by page (one page in memory at a time); stop at `max_items`."""
        props = list(properties) if properties is not None else None
        assoc = list(associations) if associations is not None else None

        async def pages() -> AsyncGenerator[ObjectPage]:
            after: str | None = None
            while True:
                page = await self.list(
                    limit=page_size,
                    after=after,
                    properties=props,
                    associations=assoc,
                    archived=archived,
                )
                yield page
                if page.next_after is None:
                    return
                after = page.next_after

        async for obj in capped(pages(), max_items):
            yield obj

    async def create(
        self,
        properties: Mapping[str, str],
        associations: builtins.list[dict[str, Any]] | None = None,
    ) -> CrmObject:
        """Create a record. Never re-sent once it may have reached HubSpot (OutcomeUnknown);
        `batch_upsert` by a unique-value property (contacts: email) is the repeatable way."""
        payload: dict[str, Any] = {"properties": dict(properties)}
        if associations:
            payload["associations"] = associations
        body = await self._c.json(
            "POST", self._paths.objects(self.object_type), json=payload, repeatable=False
        )
        return CrmObject.model_validate(body)

    async def update(
        self, id: str | int, properties: Mapping[str, str], *, id_property: str | None = None
    ) -> CrmObject:
        """PATCH by id: repeatable. An empty string clears a property."""
        body = await self._c.json(
            "PATCH",
            self._paths.object(self.object_type, id),
            params=query_params(idProperty=id_property),
            json={"properties": dict(properties)},
        )
        return CrmObject.model_validate(body)

    async def archive(self, id: str | int) -> None:
        """Archive (HubSpot keeps it restorable for 90 days)."""
        await self._c.json("DELETE", self._paths.object(self.object_type, id))

    async def gdpr_delete(self, id: str | int) -> None:
        """Delete a contact permanently, with its history (a privacy request). Repeatable:
        a second call for a record already gone answers 404."""
        await self._c.json(
            "POST", self._paths.objects_gdpr_delete(self.object_type), json={"objectId": str(id)}
        )

    # ------------------------------------------------------------------ search

    async def search(self, request: SearchRequest | None = None) -> ObjectPage:
        """One page of a search; `total` is HubSpot's count of all matches."""
        request = request or SearchRequest()
        body = await self._c.json(
            "POST",
            self._paths.objects_search(self.object_type),
            json=request.to_json(),
            search=True,
        )
        return ObjectPage(
            results=[CrmObject.model_validate(r) for r in body.get("results") or []],
            next_after=next_after(body),
            total=body.get("total"),
        )

    async def iter_search(
        self, request: SearchRequest | None = None, *, max_items: int | None = None
    ) -> AsyncIterator[CrmObject]:
        """Every match, page by page, past HubSpot's 10,000-result paging cap.

        Results come in `hs_object_id` order: pages go by `after` until the next one would
        cross 10,000, then the search restarts with `hs_object_id > last seen` added to every
        filter group (the caller's filters kept), which HubSpot documents as the way past it.
        https://developers.hubspot.com/docs/api-reference/search/guide#limitations
        """
        request = request or SearchRequest()
        if request.sorts and request.sorts[0].property_name != KEYSET_PROPERTY:
            # Another sort can only be paged through `after`, so it stops at 10,000.
            async for obj in self._iter_sorted(request, max_items):
                yield obj
            return
        base = request.sort(KEYSET_PROPERTY, "ASCENDING").model_copy(update={"after": None})

        async def pages() -> AsyncGenerator[ObjectPage]:
            current = base
            offset = 0
            while True:
                page = await self.search(current)
                yield page
                if page.next_after is None or not page.results:
                    return
                offset = _offset(page.next_after, offset + len(page.results))
                if offset + current.limit > SEARCH_RESULT_CAP:
                    current = _after_id(base, page.results[-1].id)
                    offset = 0
                else:
                    current = current.model_copy(update={"after": page.next_after})

        async for obj in capped(pages(), max_items):
            yield obj

    async def _iter_sorted(
        self, request: SearchRequest, max_items: int | None
    ) -> AsyncIterator[CrmObject]:
        async def pages() -> AsyncGenerator[ObjectPage]:
            current = request
            while True:
                page = await self.search(current)
                if (
                    current.after is None
                    and (page.total or 0) > SEARCH_RESULT_CAP
                    and (max_items is None or max_items > SEARCH_RESULT_CAP)
                ):
                    raise InputError(
                        f"this search matches {page.total} records; sorted by "
                        f"{request.sorts[0].property_name} it can only be read up to "
                        f"{SEARCH_RESULT_CAP}. Drop the sort (records then come in id order) "
                        "or narrow the filters.",
                        field="sorts",
                    )
                yield page
                if page.next_after is None:
                    return
                current = current.model_copy(update={"after": page.next_after})

        async for obj in capped(pages(), max_items):
            yield obj

    async def count(
        self, filter_groups: Sequence[FilterGroup] | SearchRequest | None = None
    ) -> int:
        """How many records match: one search with `limit=1`, reading `total`."""
        if isinstance(filter_groups, SearchRequest):
            req = filter_groups.model_copy(update={"limit": 1, "after": None})
        else:
            req = SearchRequest(filter_groups=list(filter_groups or []), limit=1)
        req = req.model_copy(update={"properties": [KEYSET_PROPERTY]})
        page = await self.search(req)
        return int(page.total or 0)

    # ------------------------------------------------------------------ batch

    async def batch_read(
        self,
        ids: Sequence[str | int],
        *,
        properties: Iterable[str] | None = None,
        id_property: str | None = None,
    ) -> BatchResult:
        props = list(properties) if properties is not None else None

        def body(chunk: Sequence[Any]) -> dict[str, Any]:
            out: dict[str, Any] = {"inputs": [{"id": str(i)} for i in chunk]}
            if props is not None:
                out["properties"] = props
            if id_property:
                out["idProperty"] = id_property
            return out

        return await self._batch("read", list(ids), body, repeatable=True)

    async def batch_create(self, inputs: Sequence[Mapping[str, Any]]) -> BatchResult:
        """Each input is a properties mapping, or `{"properties": …, "associations": …}`.
        Not repeatable: a chunk whose outcome is unknown is reported as such, never re-sent."""
        items = [_as_input(i) for i in inputs]
        return await self._batch("create", items, lambda c: {"inputs": list(c)}, repeatable=False)

    async def batch_update(
        self,
        inputs: Sequence[Mapping[str, Any] | tuple[str | int, Mapping[str, str]]],
        *,
        id_property: str | None = None,
    ) -> BatchResult:
        """Inputs: `{"id": …, "properties": {…}}` or `(id, properties)` pairs."""
        items = [_id_input(i, id_property) for i in inputs]
        return await self._batch("update", items, lambda c: {"inputs": list(c)}, repeatable=True)

    async def batch_upsert(
        self,
        inputs: Sequence[Mapping[str, Any] | tuple[str, Mapping[str, str]]],
        *,
        id_property: str | None = None,
    ) -> BatchResult:
        """Create or update by a unique-value property: the repeatable way to write records.
        Contacts key on `email` (the default); other types need a property made with
        `hasUniqueValue`. Company `domain` is refused here: through the API HubSpot does not
        deduplicate companies by domain, and an upsert keyed on it is rejected (HubSpot's
        companies API guide, "Create companies")."""
        contacts = self.object_type in ("contacts", "0-1")
        if id_property is None:
            if not contacts:
                raise InputError(
                    f"upserting {self.object_type} needs id_property: a unique-value property",
                    field="id_property",
                )
            id_property = "email"
        if id_property == "domain" and self.object_type in ("companies", "0-2"):
            raise InputError(
                "company domain is not unique at HubSpot and cannot key an upsert; "
                "use a custom property made with hasUniqueValue",
                field="id_property",
            )
        items = [_id_input(i, id_property) for i in inputs]
        return await self._batch("upsert", items, lambda c: {"inputs": list(c)}, repeatable=True)

    async def batch_archive(self, ids: Sequence[str | int]) -> BatchResult:
        return await self._batch(
            "archive",
            list(ids),
            lambda c: {"inputs": [{"id": str(i)} for i in c]},
            repeatable=True,
        )

    async def _batch(
        self,
        action: str,
        items: builtins.list[Any],
        make_body: Any,
        *,
        repeatable: bool,
    ) -> BatchResult:
        if not items:
            return BatchResult()
        route = self._paths.objects_batch(self.object_type, action)
        sem = asyncio.Semaphore(self._c.http.batch_concurrency)

        async def one(chunk: Sequence[Any]) -> dict[str, Any] | HubSpotError:
            async with sem:
                try:
                    body = await self._c.json(
                        "POST", route, json=make_body(chunk), repeatable=repeatable
                    )
                except HubSpotError as exc:
                    return exc
                return body if isinstance(body, dict) else {}

        chunks = _chunks(items, BATCH_SIZE)
        answers = await asyncio.gather(*(one(c) for c in chunks))
        failures = [a for a in answers if isinstance(a, HubSpotError)]
        if len(failures) == len(answers):
            # Nothing was done (or may have been): the one error says it best.
            raise failures[0]
        result = BatchResult()
        for chunk, answer in zip(chunks, answers, strict=True):
            if isinstance(answer, HubSpotError):
                result.errors.append(
                    BatchItemError(
                        status="error",
                        category=answer.category,
                        message=answer.message,
                        code=answer.code,
                        correlation_id=answer.correlation_id,
                        inputs=list(chunk),
                    )
                )
                continue
            result.results += [CrmObject.model_validate(r) for r in answer.get("results") or []]
            result.errors += [
                BatchItemError.model_validate(e)
                for e in answer.get("errors") or []
                if isinstance(e, dict)
            ]
        if result.errors:
            result.status = "PARTIAL" if result.results or action == "archive" else "FAILED"
        return result


def _offset(after: str, fallback: int) -> int:
    return int(after) if after.isdigit() else fallback


def _after_id(base: SearchRequest, last_id: str) -> SearchRequest:
    keyset = Filter.gt(KEYSET_PROPERTY, last_id)
    groups = [FilterGroup(filters=[*g.filters, keyset]) for g in base.filter_groups] or [
        FilterGroup.of(keyset)
    ]
    return base.model_copy(update={"filter_groups": groups, "after": None})


def _as_input(item: Mapping[str, Any]) -> dict[str, Any]:
    if "properties" in item and isinstance(item["properties"], Mapping):
        out = {"properties": dict(item["properties"])}
        if item.get("associations"):
            out["associations"] = item["associations"]
        return out
    return {"properties": dict(item)}


def _id_input(
    item: Mapping[str, Any] | tuple[str | int, Mapping[str, str]], id_property: str | None
) -> dict[str, Any]:
    if isinstance(item, tuple):
        ident, props = item
        out: dict[str, Any] = {"id": str(ident), "properties": dict(props)}
    else:
        if "id" not in item:
            raise InputError("every batch input needs an id", field="inputs")
        out = {"id": str(item["id"]), "properties": dict(item.get("properties") or {})}
    if id_property:
        out["idProperty"] = id_property
    return out
