"""Admin endpoints under /_sandbox/: faults, limits, sends, calls, portals, tokens, clock."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.responses import Response

from atom_hubspot.sandbox.config import DEMO_PORTAL_ID, FaultConfig, PortalConfig, SandboxConfig
from atom_hubspot.sandbox.errors import ApiError, validation
from atom_hubspot.sandbox.limits import LimitConfig
from atom_hubspot.sandbox.routing import Call, Router, json_response

# This module's endpoints; the sandbox app serves the tables it lists.
routes = Router()


def _model(model: type[Any], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation(
            "Invalid sandbox setting",
            [
                {"message": e["msg"], "in": ".".join(str(p) for p in e["loc"])}
                for e in exc.errors(include_url=False, include_input=False)
            ],
        ) from None


@routes.add("GET", "admin.faults.get", "/_sandbox/faults", kind="admin")
async def get_faults(call: Call) -> Response:
    return json_response(call.sandbox.faults.model_dump())


@routes.add("PUT", "admin.faults.put", "/_sandbox/faults", kind="admin")
async def put_faults(call: Call) -> Response:
    """Replace the fault settings (fields left out take their defaults: no faults)."""
    call.sandbox.set_faults(_model(FaultConfig, call.json_object()))
    return json_response(call.sandbox.faults.model_dump())


@routes.add("PATCH", "admin.faults.patch", "/_sandbox/faults", kind="admin")
async def patch_faults(call: Call) -> Response:
    merged = {**call.sandbox.faults.model_dump(), **call.json_object()}
    call.sandbox.set_faults(_model(FaultConfig, merged))
    return json_response(call.sandbox.faults.model_dump())


@routes.add("GET", "admin.limits.get", "/_sandbox/limits", kind="admin")
async def get_limits(call: Call) -> Response:
    lim = call.sandbox.limits
    return json_response(
        {**lim.config.model_dump(), "usage": lim.usage(), "rejected": lim.rejected}
    )


@routes.add("PUT", "admin.limits.put", "/_sandbox/limits", kind="admin")
async def put_limits(call: Call) -> Response:
    """Merge the given limit settings into the current ones; usage counters are kept."""
    lim = call.sandbox.limits
    lim.config = _model(LimitConfig, {**lim.config.model_dump(), **call.json_object()})
    return json_response(lim.config.model_dump())


@routes.add("POST", "admin.limits.reset", "/_sandbox/limits/reset", kind="admin")
async def reset_limits(call: Call) -> Response:
    call.sandbox.limits.reset()
    return json_response({"reset": True})


@routes.add("GET", "admin.sends", "/_sandbox/sends", kind="admin")
async def get_sends(call: Call) -> Response:
    pid = call.query.get("portal_id")
    sends = call.sandbox.sends(int(pid) if pid else None)
    return json_response({"total": len(sends), "results": sends})


@routes.add("DELETE", "admin.sends.clear", "/_sandbox/sends", kind="admin")
async def clear_sends(call: Call) -> Response:
    for p in call.sandbox.portals.values():
        p.sends.clear()
        p.send_ids.clear()
    return json_response({"cleared": True})


@routes.add("POST", "admin.email_events", "/_sandbox/email-events", kind="admin")
async def add_email_event(call: Call) -> Response:
    """Record what a recipient did with a marketing email, as HubSpot's tracking would:
    {"emailId", "type": "OPEN" | "CLICK", "recipient", "portalId"?}. Email statistics and the
    email's campaign metrics follow."""
    body = call.json_object()
    kind = str(body.get("type") or "").upper()
    email_id = body.get("emailId")
    recipient = str(body.get("recipient") or "").strip().lower()
    portal = call.sandbox.portal(int(body.get("portalId") or DEMO_PORTAL_ID))
    problems = []
    if kind not in ("OPEN", "CLICK"):
        problems.append({"message": "type must be OPEN or CLICK", "in": "type"})
    if not isinstance(email_id, int) or email_id not in portal.emails:
        problems.append({"message": "emailId must name a marketing email", "in": "emailId"})
    if not recipient:
        problems.append({"message": "recipient is required", "in": "recipient"})
    if problems:
        raise validation("Invalid email event", problems)
    assert isinstance(email_id, int)
    portal.record_email_event(email_id, kind, call.now, recipient=recipient)
    return json_response({"emailId": email_id, "type": kind, "recipient": recipient}, 201)


@routes.add("GET", "admin.calls", "/_sandbox/calls", kind="admin")
async def get_calls(call: Call) -> Response:
    sb = call.sandbox
    limit = call.int_query("log", 100, low=0, high=5000)
    log = [e for e in sb.log if e["route"] is None or not str(e["route"]).startswith("admin.")]
    return json_response(
        {
            "total": sum(sb.calls.values()),
            "by_route": dict(sb.calls),
            "faults": dict(sb.faults_injected),
            "rate_limited": sb.limits.rejected,
            "log": log[-limit:] if limit else [],
        }
    )


@routes.add("DELETE", "admin.calls.clear", "/_sandbox/calls", kind="admin")
async def clear_calls(call: Call) -> Response:
    sb = call.sandbox
    sb.calls.clear()
    sb.log.clear()
    sb.faults_injected.clear()
    return json_response({"cleared": True})


@routes.add("POST", "admin.reset", "/_sandbox/reset", kind="admin")
async def reset(call: Call) -> Response:
    """Back to the seeded portals, no faults, fresh limits; `{"tokens": true}` also forgets
    every token issued."""
    sb = call.sandbox
    body = call.json_object()
    sb.reset_data()
    sb.set_faults(sb.config.faults)
    sb.calls.clear()
    sb.log.clear()
    if body.get("tokens"):
        sb.codes.clear()
        sb.access_tokens.clear()
        sb.refresh_tokens.clear()
    return json_response({"reset": True, "portals": sorted(sb.portals)})


@routes.add("GET", "admin.portals", "/_sandbox/portals", kind="admin")
async def list_portals(call: Call) -> Response:
    return json_response(
        {
            "results": [
                {
                    "portalId": p.portal_id,
                    "hubDomain": p.hub_domain,
                    "marketingTier": p.marketing_tier,
                    "salesTier": p.sales_tier,
                    "transactionalAddon": p.transactional_addon,
                    "counts": {
                        k: sum(1 for r in v.values() if not r.archived)
                        for k, v in p.records.items()
                    },
                    "lists": len(p.lists),
                    "campaigns": len(p.campaigns),
                    "emails": len(p.emails),
                }
                for p in call.sandbox.portals.values()
            ]
        }
    )


@routes.add("POST", "admin.portals.create", "/_sandbox/portals", kind="admin")
async def create_portal(call: Call) -> Response:
    pc = _model(PortalConfig, call.json_object())
    if pc.portal_id in call.sandbox.portals:
        raise ApiError(409, f"Portal {pc.portal_id} exists", "CONFLICT")
    p = call.sandbox.add_portal(pc)
    return json_response({"portalId": p.portal_id, "hubDomain": p.hub_domain}, 201)


@routes.add("PATCH", "admin.portals.update", "/_sandbox/portals/{portal_id}", kind="admin")
async def update_portal(call: Call) -> Response:
    """Change a portal's tiers (marketing, sales), add-on or extra properties at run time."""
    p = call.sandbox.portal(int(call.params["portal_id"]))
    body = call.json_object()
    for key in ("marketing_tier", "sales_tier"):
        if key in body:
            if body[key] not in ("free", "starter", "professional", "enterprise"):
                raise validation(f"{key} must be free, starter, professional or enterprise")
            setattr(p, key, body[key])
    if "transactional_addon" in body:
        p.transactional_addon = bool(body["transactional_addon"])
    for otype, names in (body.get("extra_properties") or {}).items():
        p.extra_properties.setdefault(otype, set()).update(names)
    return json_response(
        {
            "portalId": p.portal_id,
            "marketingTier": p.marketing_tier,
            "salesTier": p.sales_tier,
            "transactionalAddon": p.transactional_addon,
        }
    )


@routes.add("POST", "admin.private_app_tokens", "/_sandbox/private-app-tokens", kind="admin")
async def create_private_app_token(call: Call) -> Response:
    body = call.json_object()
    try:
        portal_id = int(str(body.get("portal_id")))
    except (TypeError, ValueError):
        raise validation("portal_id is required") from None
    call.sandbox.portal(portal_id)
    token = call.sandbox.add_private_app_token(portal_id, body.get("token"), body.get("scopes"))
    return json_response({"token": token, "portalId": portal_id}, 201)


@routes.add("POST", "admin.tokens.expire", "/_sandbox/tokens/expire", kind="admin")
async def expire_tokens(call: Call) -> Response:
    """Make access tokens expire now: all of them, or the one named in `{"token": …}`."""
    sb = call.sandbox
    token = call.json_object().get("token")
    n = 0
    for t, grant in sb.access_tokens.items():
        if token is None or t == token:
            grant.expires_at = sb.now()
            n += 1
    return json_response({"expired": n})


@routes.add("POST", "admin.clock.advance", "/_sandbox/clock/advance", kind="admin")
async def advance_clock(call: Call) -> Response:
    try:
        seconds = float(call.json_object().get("seconds", 0))
    except (TypeError, ValueError):
        raise validation("seconds must be a number") from None
    call.sandbox.offset += seconds
    return json_response({"now": call.sandbox.now()})


RUNTIME_SETTINGS = (
    "access_token_ttl_s",
    "auth_code_ttl_s",
    "rotate_refresh_tokens",
    "search_lag_s",
    "api_versions",
    "app_name",
    "retry_after",
)


@routes.add("PATCH", "admin.config", "/_sandbox/config", kind="admin")
async def patch_config(call: Call) -> Response:
    """Change OAuth and behaviour settings at run time (token lifetime, rotation, lag...)."""
    body = call.json_object()
    unknown = sorted(set(body) - set(RUNTIME_SETTINGS))
    if unknown:
        raise validation(f"Not settable at run time: {', '.join(unknown)}")
    sb = call.sandbox
    merged = _model(
        SandboxConfig, {**sb.config.model_dump(exclude={"clock"}), **body, "clock": sb.config.clock}
    )
    for key in body:
        setattr(sb.config, key, getattr(merged, key))
    return json_response({k: getattr(sb.config, k) for k in RUNTIME_SETTINGS})


@routes.add("GET", "admin.state", "/_sandbox", kind="admin")
async def overview(call: Call) -> Response:
    sb = call.sandbox
    return json_response(
        {
            "portals": sorted(sb.portals),
            "apiVersions": sb.config.api_versions,
            "clientId": sb.config.client_id,
            "appName": sb.config.app_name,
            "accessTokenTtlSeconds": sb.config.access_token_ttl_s,
            "now": sb.now(),
            "admin": sorted(
                {f"{r.method} {r.templates[0]}" for r in call.router.routes if r.kind == "admin"}
            ),
            "api": sorted(
                {
                    f"{r.method} {t}"
                    for r in call.router.routes
                    if r.kind != "admin"
                    for t in r.templates
                }
            ),
        }
    )


@routes.add("POST", "admin.portals.records", "/_sandbox/portals/{pid}/records", kind="admin")
async def generate_records(call: Call) -> Response:
    """Create many records at once: `{"object_type", "count", "modified_at"?, "properties"?}`.
    With `modified_at` (epoch ms or ISO-8601) every record carries that one modification time,
    as after one of HubSpot's bulk imports."""
    from atom_hubspot.sandbox.objects import parse_datetime, resolve_type

    portal = call.sandbox.portals.get(int(call.params["pid"]))
    if portal is None:
        raise ApiError(404, f"No portal {call.params['pid']}", "OBJECT_NOT_FOUND")
    body = call.json_object()
    otype = resolve_type(str(body.get("object_type", "")))
    count = body.get("count")
    if not isinstance(count, int) or not 1 <= count <= 1_000_000:
        raise validation("count must be an integer between 1 and 1000000")
    modified = parse_datetime(body.get("modified_at")) if body.get("modified_at") else None
    props = body.get("properties") or {}
    if not isinstance(props, dict) or not all(isinstance(v, str) for v in props.values()):
        raise validation("properties must map names to strings")
    ids = portal.bulk_create(otype, count, call.now, modified=modified, properties=props)
    return json_response({"created": len(ids), "first_id": ids[0], "last_id": ids[-1]}, 201)
