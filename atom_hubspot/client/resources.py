"""The smaller HubSpot resources: associations, pipelines, properties, lists, campaigns,
marketing email, sends and account details."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from atom_hubspot.client.caller import ApiCaller, csv_param, next_after, query_params
from atom_hubspot.client.models import (
    AccountDetails,
    AssociationPage,
    AssociationRef,
    Campaign,
    CampaignMetrics,
    CampaignPage,
    EmailPage,
    EmailStatistics,
    ListMember,
    ListMemberPage,
    ListModel,
    ListSearchPage,
    MarketingEmail,
    MembershipChange,
    PipelineModel,
    PropertyDefinition,
    SendResult,
    StageModel,
)
from atom_hubspot.errors import InputError

if TYPE_CHECKING:
    from atom_hubspot.client.paths import Route

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


class AssociationsAPI:
    def __init__(self, client: ApiCaller) -> None:
        self._c = client

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


class PipelinesAPI:
    def __init__(self, client: ApiCaller) -> None:
        self._c = client

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


class PropertiesAPI:
    """Property definitions of an object type, HubSpot-defined and custom (created in HubSpot's
    UI or through the API).
    https://developers.hubspot.com/docs/api-reference/crm-properties-v3/guide"""

    def __init__(self, client: ApiCaller) -> None:
        self._c = client

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


# --------------------------------------------------------------------------- lists


class ListsAPI:
    """https://developers.hubspot.com/docs/api-reference/crm-lists-v3/guide"""

    PROCESSING_TYPES = ("MANUAL", "DYNAMIC", "SNAPSHOT")

    def __init__(self, client: ApiCaller) -> None:
        self._c = client

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


# --------------------------------------------------------------------------- campaigns

CAMPAIGNS_TIER = "Marketing Hub Professional"
SINGLE_SEND_TIER = "Marketing Hub Enterprise"
TRANSACTIONAL_TIER = "the transactional email add-on"


def _day(value: date | datetime | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class CampaignsAPI:
    """Marketing campaigns (Marketing Hub Professional).
    https://developers.hubspot.com/docs/api-reference/marketing-campaigns-v3/guide"""

    def __init__(self, client: ApiCaller) -> None:
        self._c = client

    async def list(
        self,
        limit: int = 10,
        after: str | None = None,
        name: str | None = None,
        *,
        sort: str | None = None,
        properties: Iterable[str] | None = None,
    ) -> CampaignPage:
        body = await self._c.json(
            "GET",
            self._c.http.paths.campaigns(),
            params=query_params(
                limit=limit, after=after, name=name, sort=sort, properties=csv_param(properties)
            ),
            tier=CAMPAIGNS_TIER,
        )
        return CampaignPage(
            results=[Campaign.model_validate(r) for r in body.get("results") or []],
            next_after=next_after(body),
            total=body.get("total"),
        )

    async def get(self, guid: str, *, properties: Iterable[str] | None = None) -> Campaign:
        body = await self._c.json(
            "GET",
            self._c.http.paths.campaign(guid),
            params=query_params(properties=csv_param(properties)),
            tier=CAMPAIGNS_TIER,
        )
        return Campaign.model_validate(body)

    async def create(
        self,
        name: str,
        start_date: date | str | None = None,
        end_date: date | str | None = None,
        notes: str | None = None,
        **properties: str,
    ) -> Campaign:
        """Create a campaign (201, a GUID id). Not repeatable."""
        props: dict[str, Any] = {"hs_name": name}
        for key, value in (
            ("hs_start_date", _day(start_date)),
            ("hs_end_date", _day(end_date)),
            ("hs_notes", notes),
        ):
            if value is not None:
                props[key] = value
        props.update(properties)
        body = await self._c.json(
            "POST",
            self._c.http.paths.campaigns(),
            json={"properties": props},
            repeatable=False,
            tier=CAMPAIGNS_TIER,
        )
        return Campaign.model_validate(body)

    async def metrics(
        self, guid: str, start_date: date | str, end_date: date | str
    ) -> CampaignMetrics:
        body = await self._c.json(
            "GET",
            self._c.http.paths.campaign_metrics(guid),
            params={"startDate": _day(start_date), "endDate": _day(end_date)},
            tier=CAMPAIGNS_TIER,
        )
        return CampaignMetrics.model_validate(body)


# --------------------------------------------------------------------------- marketing email


def _iso(value: datetime | date | str) -> str:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day).isoformat() + "Z"
    return str(value)


class MarketingEmailsAPI:
    """Marketing emails: what a user picks to send (there is no "templates" resource).
    https://developers.hubspot.com/docs/api-reference/marketing-emails-v3/guide"""

    def __init__(self, client: ApiCaller) -> None:
        self._c = client

    async def list(
        self,
        limit: int = 10,
        after: str | None = None,
        *,
        type: str | None = None,
        is_published: bool | None = None,
        include_stats: bool = False,
    ) -> EmailPage:
        body = await self._c.json(
            "GET",
            self._c.http.paths.emails(),
            params=query_params(
                limit=limit,
                after=after,
                type=type,
                isPublished=None if is_published is None else str(is_published).lower(),
                includeStats="true" if include_stats else None,
            ),
        )
        return EmailPage(
            results=[MarketingEmail.model_validate(r) for r in body.get("results") or []],
            next_after=next_after(body),
            total=body.get("total"),
        )

    async def get(self, email_id: str | int, *, include_stats: bool = False) -> MarketingEmail:
        body = await self._c.json(
            "GET",
            self._c.http.paths.email(email_id),
            params=query_params(includeStats="true" if include_stats else None),
        )
        return MarketingEmail.model_validate(body)

    async def statistics(
        self,
        start: datetime | date | str,
        end: datetime | date | str,
        email_ids: Iterable[str | int] | None = None,
    ) -> EmailStatistics:
        params: list[tuple[str, Any]] = [
            ("startTimestamp", _iso(start)),
            ("endTimestamp", _iso(end)),
        ]
        params += [("emailIds", str(i)) for i in email_ids or []]
        body = await self._c.json("GET", self._c.http.paths.email_statistics(), params=params)
        return EmailStatistics.model_validate(body)


# --------------------------------------------------------------------------- sends


class SendsAPI:
    """One marketing email to one recipient per call; HubSpot cannot schedule it.

    Never retried once the call may have reached HubSpot: a lost answer becomes
    OutcomeUnknown (a 429, which HubSpot refuses without sending, is waited out and retried).
    https://developers.hubspot.com/docs/api-reference/marketing-single-send-v4/guide
    https://developers.hubspot.com/docs/api-reference/marketing-transactional-single-send-v3/guide
    """

    def __init__(self, client: ApiCaller) -> None:
        self._c = client

    @staticmethod
    def _payload(
        email_id: int,
        to: str,
        contact_properties: Mapping[str, str] | None,
        custom_properties: Mapping[str, Any] | None,
        send_id: str | None,
        message: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        # One recipient per call: HubSpot takes a single address in `message.to`.
        if not to or to.count("@") != 1 or any(c in to for c in ",; \t\n<>"):
            raise InputError("`to` must be exactly one email address", field="to")
        msg: dict[str, Any] = {**(message or {}), "to": to}
        if send_id:
            msg["sendId"] = send_id
        return {
            "emailId": int(email_id),
            "message": msg,
            "contactProperties": dict(contact_properties or {}),
            "customProperties": dict(custom_properties or {}),
        }

    async def single_send(
        self,
        email_id: int,
        to: str,
        contact_properties: Mapping[str, str] | None = None,
        custom_properties: Mapping[str, Any] | None = None,
        send_id: str | None = None,
        *,
        message: Mapping[str, Any] | None = None,
    ) -> SendResult:
        """Marketing Hub Enterprise single-send API. `message` may add from/cc/bcc/replyTo."""
        payload = self._payload(
            email_id, to, contact_properties, custom_properties, send_id, message
        )
        return await self._send(self._c.http.paths.single_send(), payload, SINGLE_SEND_TIER)

    async def transactional(
        self,
        email_id: int,
        to: str,
        contact_properties: Mapping[str, str] | None = None,
        custom_properties: Mapping[str, Any] | None = None,
        send_id: str | None = None,
        *,
        message: Mapping[str, Any] | None = None,
    ) -> SendResult:
        """Transactional single send (needs the transactional email add-on)."""
        payload = self._payload(
            email_id, to, contact_properties, custom_properties, send_id, message
        )
        return await self._send(
            self._c.http.paths.transactional_send(), payload, TRANSACTIONAL_TIER
        )

    async def _send(self, route: Route, payload: dict[str, Any], tier: str) -> SendResult:
        # One recipient per call and never re-sent once it may have reached HubSpot: HubSpot
        # has no idempotency key, so a repeat could e-mail the person twice.
        body = await self._c.json("POST", route, json=payload, repeatable=False, tier=tier)
        return SendResult.model_validate(body)


# --------------------------------------------------------------------------- account


class AccountAPI:
    def __init__(self, client: ApiCaller) -> None:
        self._c = client

    async def details(self) -> AccountDetails:
        """Account details: also the cheap authenticated call a health check makes."""
        body = await self._c.json("GET", self._c.http.paths.account_details())
        return AccountDetails.model_validate(body)
