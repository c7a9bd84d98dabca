"""Routes under `/api/hubspot/email-stats`: marketing email performance over a date range, for
every email or one, optionally in day, week or month intervals."""

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from atom_host_stub.contract import HostContext
from atom_hubspot.api.deps import RequestScope, answer, scope_dependency
from atom_hubspot.api.envelope import Envelope, envelope_router
from atom_hubspot.service.email_stats import (
    EmailPerformance,
    EmailStatsService,
    Interval,
    date_range,
)

TAG = "HubSpot analytics"

DateQuery = Annotated[date | None, Query(description="ISO date, e.g. 2026-01-31")]
IntervalQuery = Annotated[
    Interval | None, Query(description="Also give the figures per day, week or month")
]
EmailIdPath = Annotated[int, Path(ge=1, le=2**53, description="Marketing email id")]


def build_router(context: HostContext) -> APIRouter:
    """The email statistics routes; mount under the prefix `/api/hubspot`."""
    router = envelope_router()
    Scope = Annotated[RequestScope, Depends(scope_dependency(context))]

    async def performance(
        scope: RequestScope,
        start_date: date | None,
        end_date: date | None,
        email_ids: list[int],
        interval: Interval | None,
    ) -> dict[str, Any]:
        start, end = date_range(start_date, end_date, datetime.now(UTC).date())
        data = await EmailStatsService(scope.client).performance(
            start, end, email_ids=email_ids, interval=interval
        )
        return answer(scope, data)

    @router.get(
        "/email-stats",
        response_model=Envelope[EmailPerformance],
        operation_id="email_statistics",
        tags=[TAG],
        summary="Marketing email performance over a date range",
        description="Sent, delivered, opened, clicked, bounced, unsubscribed and their rates for "
        "the emails sent in the range (both ends inclusive, UTC; default the last 30 days), "
        "optionally only `email_ids`, and per `interval`.",
    )
    async def email_statistics(
        scope: Scope,
        start_date: DateQuery = None,
        end_date: DateQuery = None,
        email_ids: Annotated[
            list[Annotated[int, Query(ge=1, le=2**53)]] | None,
            Query(max_length=100, description="Only these emails (repeat the parameter)"),
        ] = None,
        interval: IntervalQuery = None,
    ) -> dict[str, Any]:
        return await performance(scope, start_date, end_date, email_ids or [], interval)

    @router.get(
        "/email-stats/{email_id}",
        response_model=Envelope[EmailPerformance],
        operation_id="email_statistics_one",
        tags=[TAG],
        summary="One marketing email's performance",
        description="The figures of one email sent in the range (default the last 30 days).",
    )
    async def email_statistics_one(
        scope: Scope,
        email_id: EmailIdPath,
        start_date: DateQuery = None,
        end_date: DateQuery = None,
        interval: IntervalQuery = None,
    ) -> dict[str, Any]:
        await scope.services.marketing.get_email_template(email_id)  # 404 for an unknown email
        return await performance(scope, start_date, end_date, [email_id], interval)

    return router
