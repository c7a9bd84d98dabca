"""The smaller HubSpot resources: associations, pipelines, properties and account details.
Lists are in `client/lists.py`; campaigns, marketing email and sends in `client/marketing.py`."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from atom_hubspot.client.caller import ApiGroup, next_after, query_params
from atom_hubspot.client.models import (
    AccountDetails,
    AssociationPage,
    AssociationRef,
    PipelineModel,
    PropertyDefinition,
    StageModel,
)
from atom_hubspot.errors import InputError

if TYPE_CHECKING:
    pass

# --------------------------------------------------------------------------- associations

# Default (unlabelled) HUBSPOT_DEFINED association type ids, by (from, to).
# https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide#association-type-id-values
CONTACT_TO_COMPANY = 279
COMPANY_TO_CONTACT = 280
DEAL_TO_CONTACT = 3
CONTACT_TO_DEAL = 4
DEAL_TO_COMPANY = 341
COMPANY_TO_DEAL = 342
# Primary company links.
CONTACT_TO_COMPANY_PRIMARY = 1
COMPANY_TO_CONTACT_PRIMARY = 2
DEAL_TO_COMPANY_PRIMARY = 5
COMPANY_TO_DEAL_PRIMARY = 6

_TYPE_ALIASES = {
    "contact": "contacts",
    "contacts": "contacts",
    "0-1": "contacts",
    "company": "companies",
    "companies": "companies",
    "0-2": "companies",
    "deal": "deals",
    "deals": "deals",
    "0-3": "deals",
}
DEFAULT_ASSOCIATION_TYPES: dict[tuple[str, str], int] = {
    ("contacts", "companies"): CONTACT_TO_COMPANY,
    ("companies", "contacts"): COMPANY_TO_CONTACT,
    ("deals", "contacts"): DEAL_TO_CONTACT,
    ("contacts", "deals"): CONTACT_TO_DEAL,
    ("deals", "companies"): DEAL_TO_COMPANY,
    ("companies", "deals"): COMPANY_TO_DEAL,
}
ASSOCIATION_READ_BATCH = 1000


def default_association_type(from_type: str, to_type: str) -> int:
    key = (_TYPE_ALIASES.get(from_type, from_type), _TYPE_ALIASES.get(to_type, to_type))
    try:
        return DEFAULT_ASSOCIATION_TYPES[key]
    except KeyError:
        raise InputError(
            f"no default association type from {from_type} to {to_type}", field="to_type"
        ) from None


def inline_association(from_type: str, to_type: str, to_id: str | int) -> dict[str, Any]:
    """One entry of `associations` on create, with the default type id."""
    return {
        "to": {"id": str(to_id)},
        "types": [
            {
                "associationCategory": "HUBSPOT_DEFINED",
                "associationTypeId": default_association_type(from_type, to_type),
            }
        ],
    }


class AssociationsAPI(ApiGroup):
    async def link_default(
        self, from_type: str, from_id: str | int, to_type: str, to_id: str | int
    ) -> dict[str, Any]:
        """Unlabelled default link (v4 default-association PUT, no body): repeatable."""
        body = await self._c.json(
            "PUT", self._c.http.paths.association_default(from_type, from_id, to_type, to_id)
        )
        return body if isinstance(body, dict) else {}

    async def list(
        self,
        from_type: str,
        from_id: str | int,
        to_type: str,
        *,
        limit: int = 500,
        after: str | None = None,
    ) -> AssociationPage:
        if not 1 <= limit <= 500:
            raise InputError("limit must be between 1 and 500", field="limit")
        body = await self._c.json(
            "GET",
            self._c.http.paths.associations_of(from_type, from_id, to_type),
            params=query_params(limit=limit, after=after),
        )
        return AssociationPage(
            results=[AssociationRef.model_validate(r) for r in body.get("results") or []],
            next_after=next_after(body),
        )

    async def batch_read(
        self, from_type: str, to_type: str, ids: Sequence[str | int]
    ) -> dict[str, builtins.list[AssociationRef]]:
        """Associated ids for many records (1,000 inputs per call). Every input id is in the
        answer (an empty list when it has none)."""
        out: dict[str, builtins.list[AssociationRef]] = {str(i): [] for i in ids}
        route = self._c.http.paths.associations_batch(from_type, to_type, "read")
        id_list = [str(i) for i in ids]
        for start in range(0, len(id_list), ASSOCIATION_READ_BATCH):
            chunk = id_list[start : start + ASSOCIATION_READ_BATCH]
            body = await self._c.json("POST", route, json={"inputs": [{"id": i} for i in chunk]})
            for row in body.get("results") or []:
                src = str((row.get("from") or {}).get("id", ""))
                out.setdefault(src, []).extend(
                    AssociationRef.model_validate(t) for t in row.get("to") or []
                )
        return out


# --------------------------------------------------------------------------- pipelines


class PipelinesAPI(ApiGroup):
    async def list(self, object_type: str = "deals") -> builtins.list[PipelineModel]:
        body = await self._c.json("GET", self._c.http.paths.pipelines(object_type))
        return [PipelineModel.model_validate(p) for p in body.get("results") or []]

    async def stages(
        self, pipeline_id: str, object_type: str = "deals"
    ) -> builtins.list[StageModel]:
        body = await self._c.json(
            "GET", self._c.http.paths.pipeline_stages(object_type, pipeline_id)
        )
        return [StageModel.model_validate(s) for s in body.get("results") or []]


# --------------------------------------------------------------------------- properties


class PropertiesAPI(ApiGroup):
    """Property definitions of an object type, HubSpot-defined and custom (created in HubSpot's
    UI or through the API).
    https://developers.hubspot.com/docs/api-reference/crm-properties-v3/guide"""

    async def list(
        self, object_type: str, *, archived: bool = False
    ) -> builtins.list[PropertyDefinition]:
        """Every property of `object_type` (one call, HubSpot does not page this list).
        Entries without a name are skipped: nothing could be read by them."""
        body = await self._c.json(
            "GET",
            self._c.http.paths.properties(object_type),
            params=query_params(archived="true" if archived else None),
        )
        return [
            PropertyDefinition.model_validate(p)
            for p in body.get("results") or []
            if isinstance(p, dict) and isinstance(p.get("name"), str) and p["name"]
        ]


# --------------------------------------------------------------------------- account


class AccountAPI(ApiGroup):
    async def details(self) -> AccountDetails:
        """Account details: also the cheap authenticated call a health check makes."""
        body = await self._c.json("GET", self._c.http.paths.account_details())
        return AccountDetails.model_validate(body)
