"""CRM pipelines and stages, and the account details."""

from __future__ import annotations

from starlette.responses import Response

from atom_hubspot.sandbox.errors import not_found, validation
from atom_hubspot.sandbox.objects import resolve_type
from atom_hubspot.sandbox.routing import (
    Call,
    Router,
    json_response,
    require_scopes,
)
from atom_hubspot.sandbox.state import (
    Portal,
)

routes = Router()


# --------------------------------------------------------------------------- pipelines

PIPELINES = ("/crm/v3/pipelines/{otype}", "/crm/pipelines/{date}/{otype}")
PIPELINE = ("/crm/v3/pipelines/{otype}/{pid}", "/crm/pipelines/{date}/{otype}/{pid}")
STAGES = ("/crm/v3/pipelines/{otype}/{pid}/stages", "/crm/pipelines/{date}/{otype}/{pid}/stages")


def _pipelines(call: Call) -> Portal:
    otype = resolve_type(call.params["otype"])
    require_scopes(call, f"crm.objects.{otype.name}.read", f"crm.schemas.{otype.name}.read")
    if otype.name != "deals":
        raise validation(f"Object type {otype.name} has no pipelines in the sandbox")
    return call.require_portal()


@routes.add("GET", "crm.pipelines.list", *PIPELINES, family="crm.pipelines")
async def pipelines_list(call: Call) -> Response:
    portal = _pipelines(call)
    return json_response(
        {
            "results": [
                p.to_json()
                for p in sorted(portal.pipelines.values(), key=lambda p: p.display_order)
            ]
        }
    )


@routes.add("GET", "crm.pipelines.get", *PIPELINE, family="crm.pipelines")
async def pipeline_get(call: Call) -> Response:
    portal = _pipelines(call)
    p = portal.pipelines.get(call.params["pid"])
    if p is None:
        raise not_found(f"No pipeline with ID {call.params['pid']}")
    return json_response(p.to_json())


@routes.add("GET", "crm.pipelines.stages", *STAGES, family="crm.pipelines")
async def pipeline_stages(call: Call) -> Response:
    portal = _pipelines(call)
    p = portal.pipelines.get(call.params["pid"])
    if p is None:
        raise not_found(f"No pipeline with ID {call.params['pid']}")
    return json_response({"results": [s.to_json() for s in p.stages]})


# --------------------------------------------------------------------------- account


@routes.add(
    "GET",
    "account.details",
    "/account-info/v3/details",
    "/account-info/{date}/details",
    family="account",
)
async def account_details(call: Call) -> Response:
    p = call.require_portal()
    return json_response(
        {
            "portalId": p.portal_id,
            "accountType": p.account_type,
            "timeZone": p.time_zone,
            "companyCurrency": p.company_currency,
            "additionalCurrencies": [],
            "utcOffset": "-05:00",
            "utcOffsetMilliseconds": -18_000_000,
            "uiDomain": p.ui_domain,
            "dataHostingLocation": p.data_hosting_location,
        }
    )
