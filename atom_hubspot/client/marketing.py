"""Marketing: campaigns, marketing emails and single sends, with the tiers HubSpot gates them
behind (facts sheet, section 7)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from atom_hubspot.client.caller import ApiGroup, csv_param, next_after, query_params
from atom_hubspot.client.models import (
    Campaign,
    CampaignMetrics,
    CampaignPage,
    EmailPage,
    EmailStatistics,
    MarketingEmail,
    SendResult,
)
from atom_hubspot.errors import InputError

if TYPE_CHECKING:
    from atom_hubspot.client.paths import Route

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


class CampaignsAPI(ApiGroup):
    """Marketing campaigns (Marketing Hub Professional).
    https://developers.hubspot.com/docs/api-reference/marketing-campaigns-v3/guide"""

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


class MarketingEmailsAPI(ApiGroup):
    """Marketing emails: what a user picks to send (there is no "templates" resource).
    https://developers.hubspot.com/docs/api-reference/marketing-emails-v3/guide"""

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


class SendsAPI(ApiGroup):
    """One marketing email to one recipient per call; HubSpot cannot schedule it.

    Never retried once the call may have reached HubSpot: a lost answer becomes
    OutcomeUnknown (a 429, which HubSpot refuses without sending, is waited out and retried).
    https://developers.hubspot.com/docs/api-reference/marketing-single-send-v4/guide
    https://developers.hubspot.com/docs/api-reference/marketing-transactional-single-send-v3/guide
    """

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
