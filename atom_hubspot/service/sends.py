"""Sending a marketing email for one principal's connection: now, or stored for `send_at` and
performed once then by the scheduler."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from atom_host_stub.contract import Principal
from atom_hubspot.errors import InputError
from atom_hubspot.oauth.connections import ConnectionInfo
from atom_hubspot.service.email_sends import SendSummary, recipients_from
from atom_hubspot.service.marketing import MarketingService
from atom_hubspot.service.scheduler import ScheduledSendInfo, ScheduledSends


class SendEmailAnswer(BaseModel):
    mode: Literal["sent", "scheduled"]
    summary: SendSummary | None = Field(
        default=None, description="Per-recipient results when sent now"
    )
    scheduled: ScheduledSendInfo | None = Field(
        default=None, description="The stored send when scheduled"
    )


class SendService:
    """Send now or at a time, with the caller's connection."""

    def __init__(
        self,
        marketing: MarketingService,
        store: ScheduledSends,
        principal: Principal,
        connection: ConnectionInfo,
    ) -> None:
        self.marketing = marketing
        self.store = store
        self.principal = principal
        self.connection = connection

    async def send(
        self,
        email_id: int,
        *,
        contact_ids: Sequence[str] = (),
        emails: Sequence[str] = (),
        contact_properties: dict[str, str] | None = None,
        custom_properties: dict[str, Any] | None = None,
        send_at: datetime | None = None,
    ) -> SendEmailAnswer:
        """Sent now (per-recipient results), or stored when `send_at` is in the future."""
        recipients = recipients_from(contact_ids, emails)
        if send_at is not None and send_at.tzinfo is None:
            raise InputError(
                "send_at needs a time zone (e.g. 2026-12-01T09:00:00Z)",
                errors=[{"field": "send_at", "message": "no time zone"}],
            )
        # 404 (unknown) or 409 (a draft) before anything is sent or stored.
        await self.marketing.sendable_email(email_id)
        if send_at is not None and send_at > datetime.now(UTC):
            info = await self.store.create(
                self.principal,
                portal_id=self.connection.portal_id,
                connection_id=self.connection.id,
                email_id=email_id,
                recipients=recipients,
                send_at=send_at,
                contact_properties=contact_properties,
                custom_properties=custom_properties,
            )
            return SendEmailAnswer(mode="scheduled", scheduled=info)
        summary = await self.marketing.send_email(
            email_id,
            recipients,
            contact_properties=contact_properties or None,
            custom_properties=custom_properties or None,
        )
        return SendEmailAnswer(mode="sent", summary=summary)
