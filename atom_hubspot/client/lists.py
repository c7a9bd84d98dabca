"""Lists of CRM records (HubSpot's lists API: MANUAL, DYNAMIC and SNAPSHOT lists).
https://developers.hubspot.com/docs/api-reference/crm-lists-v3/guide"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from atom_hubspot.client.caller import ApiGroup, next_after, query_params
from atom_hubspot.client.models import (
    ListMember,
    ListMemberPage,
    ListModel,
    ListSearchPage,
    MembershipChange,
)
from atom_hubspot.errors import InputError

if TYPE_CHECKING:
    pass


class ListsAPI(ApiGroup):
    """https://developers.hubspot.com/docs/api-reference/crm-lists-v3/guide"""

    PROCESSING_TYPES = ("MANUAL", "DYNAMIC", "SNAPSHOT")

    async def create(
        self,
        name: str,
        processing_type: str = "MANUAL",
        filter_branch: Mapping[str, Any] | None = None,
        object_type_id: str = "0-1",
    ) -> ListModel:
        """Create a list (names are unique per account). Not repeatable."""
        if processing_type not in self.PROCESSING_TYPES:
            raise InputError(
                f"processing_type must be one of {', '.join(self.PROCESSING_TYPES)}",
                field="processing_type",
            )
        if processing_type == "DYNAMIC" and not filter_branch:
            raise InputError("a DYNAMIC list needs a filter_branch", field="filter_branch")
        payload: dict[str, Any] = {
            "name": name,
            "objectTypeId": object_type_id,
            "processingType": processing_type,
        }
        if filter_branch:
            payload["filterBranch"] = dict(filter_branch)
        body = await self._c.json(
            "POST", self._c.http.paths.lists(), json=payload, repeatable=False
        )
        return ListModel.model_validate(body.get("list") or body)

    async def search(
        self,
        query: str | None = None,
        count: int = 20,
        offset: int = 0,
        *,
        processing_types: Iterable[str] | None = None,
        list_ids: Iterable[str | int] | None = None,
    ) -> ListSearchPage:
        if not 1 <= count <= 500:
            raise InputError("count must be between 1 and 500", field="count")
        payload: dict[str, Any] = {"count": count, "offset": offset}
        if query:
            payload["query"] = query
        if processing_types:
            payload["processingTypes"] = list(processing_types)
        if list_ids:
            payload["listIds"] = [str(i) for i in list_ids]
        body = await self._c.json("POST", self._c.http.paths.lists_search(), json=payload)
        return ListSearchPage.model_validate(body)

    async def get(self, list_id: str | int) -> ListModel:
        body = await self._c.json("GET", self._c.http.paths.list(list_id))
        return ListModel.model_validate(body.get("list") or body)

    async def add_members(self, list_id: str | int, ids: Iterable[str | int]) -> MembershipChange:
        """Add records to a MANUAL/SNAPSHOT list (a bare JSON array of id strings)."""
        return await self._change(list_id, "add", ids)

    async def remove_members(
        self, list_id: str | int, ids: Iterable[str | int]
    ) -> MembershipChange:
        return await self._change(list_id, "remove", ids)

    async def _change(
        self, list_id: str | int, action: str, ids: Iterable[str | int]
    ) -> MembershipChange:
        record_ids = [str(i) for i in ids]
        if not record_ids:
            return MembershipChange()
        body = await self._c.json(
            "PUT", self._c.http.paths.list_memberships_change(list_id, action), json=record_ids
        )
        return MembershipChange.model_validate(body)

    async def members(
        self, list_id: str | int, *, limit: int = 100, after: str | None = None
    ) -> ListMemberPage:
        """One page of a list's members with the cursor of the next (`after`)."""
        body = await self._c.json(
            "GET",
            self._c.http.paths.list_memberships(list_id),
            params=query_params(limit=limit, after=after),
        )
        return ListMemberPage(
            results=[ListMember.model_validate(r) for r in body.get("results") or []],
            next_after=next_after(body),
            total=body.get("total"),
        )

    async def iter_members(
        self, list_id: str | int, *, page_size: int = 100, max_items: int | None = None
    ) -> AsyncIterator[ListMember]:
        route = self._c.http.paths.list_memberships(list_id)
        after: str | None = None
        seen = 0
        while True:
            body = await self._c.json(
                "GET", route, params=query_params(limit=page_size, after=after)
            )
            for row in body.get("results") or []:
                if max_items is not None and seen >= max_items:
                    return
                seen += 1
                yield ListMember.model_validate(row)
            after = next_after(body)
            if after is None or (max_items is not None and seen >= max_items):
                return
