"""Routes under `/api/hubspot/list-sends`: send a marketing email to lead lists now or at a time,
follow its progress, cancel it. Each send is the caller's own."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from atom_host_stub.contract import HostContext, Principal
from atom_hubspot.api.deps import (
    PortalQuery,
    RequestScope,
    answer,
    principal_dependency,
    runtime_of,
    scope_dependency,
)
from atom_hubspot.api.envelope import Envelope, envelope_router
from atom_hubspot.service.list_sends import (
    MAX_LISTS,
    ListSendInfo,
    ListSendPage,
    info,
    page,
)
from atom_hubspot.service.pages import offset_cursor
from atom_hubspot.storage.list_sends import ListSendStore

TAG = "HubSpot email"

SendIdPath = Annotated[
    str,
    Path(
        pattern=r"^[0-9a-fA-F\-]{36}$",
        description="List send id",
        examples=["3f1c2a9e-8d44-4b7a-9a51-0c7d9b0f1e22"],
    ),
]


class ListSendBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"email_id": 100000011, "list_ids": ["12"]},
                {
                    "email_id": 100000004,
                    "list_ids": ["12", "15"],
                    "send_at": "2026-12-01T09:00:00Z",
                },
            ]
        },
    )

    email_id: int = Field(ge=1, le=2**53, description="The marketing email to send (its id)")
    list_ids: list[Annotated[str, Field(pattern=r"^[0-9]{1,20}$")]] = Field(
        min_length=1, max_length=MAX_LISTS, description="Lead lists whose members receive it"
    )
    send_at: datetime | None = Field(
        default=None,
        description="When to send (with a time zone); absent or past: now",
    )


def build_router(context: HostContext) -> APIRouter:
    """The list-send routes; mount under the prefix `/api/hubspot`."""
    router = envelope_router()
    Scope = Annotated[RequestScope, Depends(scope_dependency(context))]
    Caller = Annotated[Principal, Depends(principal_dependency(context))]

    def store() -> ListSendStore:
        return ListSendStore(runtime_of(context).db)

    @router.post(
        "/list-sends",
        status_code=201,
        response_model=Envelope[ListSendInfo],
        operation_id="send_email_to_lists",
        tags=[TAG],
        summary="Send a marketing email to lead lists, now or at `send_at`",
        description="A regular email is published to the lists (`way: publish`; HubSpot sends "
        "it, or schedules it for `send_at`; needs Marketing Hub Enterprise or the "
        "transactional email add-on, else 403 naming them). An automated email goes to each "
        "member in its own single-send call (`way: fan_out`), performed in the background, "
        "paced by the portal's rate budget and resumed after a restart; follow `progress` with "
        "GET. A regular email already sent, or an unpublished automated one, is a 409.",
    )
    async def create(scope: Scope, body: ListSendBody, response: Response) -> dict[str, Any]:
        created = await scope.services.list_sends.create(
            scope.principal,
            portal_id=scope.connection.portal_id,
            connection_id=scope.connection.id,
            email_id=body.email_id,
            list_ids=body.list_ids,
            send_at=body.send_at,
        )
        if created.way == "fan_out":
            response.status_code = 202
        return answer(scope, created)

    @router.get(
        "/list-sends",
        response_model=Envelope[ListSendPage],
        operation_id="list_list_sends",
        tags=[TAG],
        summary="Your sends to lead lists, latest first",
    )
    async def list_sends(
        principal: Caller,
        portal_id: PortalQuery = None,
        limit: Annotated[int, Query(ge=1, le=100, description="Page size")] = 20,
        after: Annotated[
            str | None,
            Query(max_length=12, description="Cursor from the previous page's `next_after`"),
        ] = None,
    ) -> dict[str, Any]:
        data = await page(
            store(), principal, portal_id=portal_id, limit=limit, offset=offset_cursor(after)
        )
        return {"ok": True, "data": data, "meta": {}}

    @router.get(
        "/list-sends/{send_id}",
        response_model=Envelope[ListSendInfo],
        operation_id="get_list_send",
        tags=[TAG],
        summary="One send to lead lists, with its progress",
    )
    async def get_one(principal: Caller, send_id: SendIdPath) -> dict[str, Any]:
        return {"ok": True, "data": await info(store(), principal, send_id), "meta": {}}

    @router.delete(
        "/list-sends/{send_id}",
        response_model=Envelope[ListSendInfo],
        operation_id="cancel_list_send",
        tags=[TAG],
        summary="Cancel a send to lead lists",
        description="A scheduled publish is unpublished in HubSpot; a fan-out stops before its "
        "next batch (recipients not attempted become `cancelled`). 409 once it was sent.",
    )
    async def cancel(principal: Caller, send_id: SendIdPath) -> dict[str, Any]:
        row = await store().get(principal, send_id)
        # The send's own portal, whatever the caller's default is.
        services = await runtime_of(context).services_for(principal, row.portal_id)
        data = await services.list_sends.cancel(principal, send_id)
        return {"ok": True, "data": data, "meta": {"portal_id": row.portal_id}}

    return router
