"""Automation: workflows (automation v4 flows), sequences, and the owners a sequence runs as.

Workflows have no date release yet, so they stay on their v4 path whatever
HUBSPOT_API_VERSION says (`atom_hubspot.releases`); sequences have date releases, with v4 as
their legacy path (`client/paths.py` maps both).
https://developers.hubspot.com/docs/api-reference/legacy/automation/workflows/guide
https://developers.hubspot.com/docs/api-reference/latest/automation/sequences/guide.md
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterable
from typing import Any

from atom_hubspot.client.automation_models import (
    ContactSequenceEnrollment,
    Flow,
    FlowPage,
    FlowPerformance,
    Owner,
    Sequence,
    SequenceEnrollment,
    SequencePage,
)
from atom_hubspot.client.caller import ApiGroup, next_after, query_params

# Workflows come with Marketing, Sales, Service (or Operations) Hub Professional and up; the
# sequences API wants the user to hold a Sales Hub or Service Hub Professional seat.
FLOWS_TIER = "Marketing Hub Professional (or Sales, Service or Operations Hub Professional)"
SEQUENCES_TIER = "a Sales Hub or Service Hub Professional (or Enterprise) seat"
BATCH_READ_MAX = 100  # inputs per flows batch read, as HubSpot's batch endpoints take


class FlowsAPI(ApiGroup):
    """Workflows, read only. Scope `automation`.
    https://developers.hubspot.com/docs/api-reference/legacy/automation/workflows/get-workflows"""

    async def list(self, limit: int = 100, after: str | None = None) -> FlowPage:
        body = await self._c.json(
            "GET",
            self._c.http.paths.flows(),
            params=query_params(limit=limit, after=after),
            tier=FLOWS_TIER,
        )
        return FlowPage(
            results=[Flow.model_validate(r) for r in body.get("results") or []],
            next_after=next_after(body),
        )

    async def iter_all(self, *, page_size: int = 100) -> AsyncIterator[Flow]:
        after: str | None = None
        while True:
            page = await self.list(limit=page_size, after=after)
            for flow in page.results:
                yield flow
            if page.next_after is None:
                return
            after = page.next_after

    async def get(self, flow_id: str) -> Flow:
        body = await self._c.json("GET", self._c.http.paths.flow(flow_id), tier=FLOWS_TIER)
        return Flow.model_validate(body)

    async def batch_read(self, flow_ids: Iterable[str]) -> builtins.list[Flow]:
        """Whole flows (with their enrollment criteria), 100 ids a call.
        https://developers.hubspot.com/docs/api-reference/automation-automation-v4-v4/workflows/post-automation-v4-flows-batch-read"""
        ids = list(dict.fromkeys(flow_ids))
        out: builtins.list[Flow] = []
        for start in range(0, len(ids), BATCH_READ_MAX):
            chunk = ids[start : start + BATCH_READ_MAX]
            body = await self._c.json(
                "POST",
                self._c.http.paths.flows_batch_read(),
                json={"inputs": [{"flowId": i, "type": "FLOW_ID"} for i in chunk]},
                tier=FLOWS_TIER,
            )
            out += [Flow.model_validate(r) for r in body.get("results") or []]
        return out

    async def performance(
        self, flow_id: str, *, start_ms: int, end_ms: int, bucket: str = "DAY"
    ) -> FlowPerformance:
        """Enrolled / unenrolled / completed counts per bucket (DAY, WEEK, MONTH).

        This endpoint (`Paths.flow_performance`; query `start`, `end` in epoch ms and
        `bucketType`; answer `{results: [{series, bucket, frequency}]}`) is in HubSpot's
        published Automation v4 OpenAPI description but not in its reference pages, and has
        no date-release successor: callers must expect a 404."""
        body = await self._c.json(
            "GET",
            self._c.http.paths.flow_performance(flow_id),
            params={"start": start_ms, "end": end_ms, "bucketType": bucket},
            tier=FLOWS_TIER,
        )
        return FlowPerformance.model_validate(body)


class SequencesAPI(ApiGroup):
    """Sequences (Sales Hub / Service Hub Professional seats). Every call names the HubSpot
    user (`userId`) whose sequences and inbox are used.
    https://developers.hubspot.com/docs/api-reference/latest/automation/sequences/guide.md"""

    async def list(
        self, user_id: str, *, limit: int = 20, after: str | None = None, name: str | None = None
    ) -> SequencePage:
        body = await self._c.json(
            "GET",
            self._c.http.paths.sequences(),
            params=query_params(userId=user_id, limit=limit, after=after, name=name),
            tier=SEQUENCES_TIER,
        )
        return SequencePage(
            results=[Sequence.model_validate(r) for r in body.get("results") or []],
            next_after=next_after(body),
            total=body.get("total"),
        )

    async def get(self, sequence_id: str, user_id: str) -> Sequence:
        body = await self._c.json(
            "GET",
            self._c.http.paths.sequence(sequence_id),
            params={"userId": user_id},
            tier=SEQUENCES_TIER,
        )
        return Sequence.model_validate(body)

    async def enroll(
        self, sequence_id: str, contact_id: str, sender_email: str, user_id: str
    ) -> SequenceEnrollment:
        """Enroll one contact (HubSpot takes one per call). Not repeatable: an enrollment
        whose answer was lost raises OutcomeUnknown instead of being sent again.
        https://developers.hubspot.com/docs/api-reference/2026-03/automation/sequences/enroll-contact"""
        payload: dict[str, Any] = {
            "sequenceId": sequence_id,
            "contactId": contact_id,
            "senderEmail": sender_email,
        }
        body = await self._c.json(
            "POST",
            self._c.http.paths.sequence_enrollments(),
            params={"userId": user_id},
            json=payload,
            repeatable=False,
            tier=SEQUENCES_TIER,
        )
        return SequenceEnrollment.model_validate(body)

    async def enrollment_of(self, contact_id: str) -> ContactSequenceEnrollment:
        """The sequence enrollment of one contact (404 when it is in none).
        https://developers.hubspot.com/docs/api-reference/2026-03/automation/sequences/get-enrollment.md"""
        body = await self._c.json(
            "GET",
            self._c.http.paths.sequence_enrollments_of_contact(contact_id),
            tier=SEQUENCES_TIER,
        )
        return ContactSequenceEnrollment.model_validate(body)


class OwnersAPI(ApiGroup):
    """Owners (HubSpot's users as record owners). Scope `crm.objects.owners.read`.
    https://developers.hubspot.com/docs/api-reference/crm-crm-owners-v3/guide"""

    async def by_email(self, email: str) -> Owner | None:
        body = await self._c.json(
            "GET", self._c.http.paths.owners(), params={"email": email, "limit": 1}
        )
        for row in body.get("results") or []:
            owner = Owner.model_validate(row)
            if (owner.email or "").lower() == email.lower():
                return owner
        return None
