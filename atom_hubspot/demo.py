"""Demo mode (`atom-host serve --demo`): the offline sandbox stands in for HubSpot, and the
demo portal is connected through the very OAuth code path real users go through.

Steps: bring up the in-process sandbox (or use `--sandbox-url`, i.e. ATOM_SANDBOX_URL), mount
its pages so a browser can reach the authorize page, point the plugin's API and authorize
URLs at it, migrate, restart the plugin's runtime on that configuration, then
OAuthFlow.start → click "Connect" on the sandbox's page → OAuthFlow.complete for the first
principal of ATOM_API_KEYS.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from atom_host_stub.contract import HostContext, Principal, RegisterMount
from atom_hubspot.runtime import STATE_KEY

log = logging.getLogger("atom_hubspot.demo")

# Where the in-process sandbox is mounted on the host (its authorize page, API and admin).
SANDBOX_MOUNT = "/hubspot-sandbox"

# Whom the demo portal is connected for when ATOM_API_KEYS names nobody.
HOST_DEMO_PRINCIPAL = Principal(tenant_id="demo", user_id="demo")


@dataclass
class DemoPlan:
    """Where the plugin talks to in demo mode and how the browser reaches the sandbox."""

    env: dict[str, str]  # settings overrides
    transport: httpx.AsyncBaseTransport | None  # in-process sandbox, or None for real HTTP
    browser_transport: httpx.AsyncBaseTransport  # how `approve` reaches the authorize page
    sandbox_app: Any | None
    sandbox_url: str


# Sandbox pages that act for the portal's owner (faults, token minting, approving an app):
# on the host's port they answer clients on this machine only.
LOOPBACK_ONLY_PATHS = ("/_sandbox", "/oauth/authorize")


def is_loopback(client: tuple[str, int] | None) -> bool:
    if not client:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


class LoopbackOnly:
    """An ASGI app answering 403 on `paths` to any client not on a loopback address, and
    passing everything else to `app` (whose `state` it shows)."""

    def __init__(self, app: Any, paths: tuple[str, ...]) -> None:
        self.app = app
        self.paths = paths
        self.state = getattr(app, "state", None)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path, root = scope.get("path", ""), scope.get("root_path", "")
            rel = path[len(root) :] if root and path.startswith(root) else path
            local = any(rel == p or rel.startswith(p + "/") for p in self.paths)
            if local and not is_loopback(scope.get("client")):
                from starlette.responses import JSONResponse

                answer = JSONResponse(
                    {
                        "ok": False,
                        "error": {
                            "code": "forbidden",
                            "message": "The demo sandbox's admin and authorize pages answer "
                            "clients on this machine only.",
                        },
                    },
                    status_code=403,
                )
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)


def first_principal(env: Mapping[str, str]) -> tuple[Principal, str | None]:
    """The first `key:tenant:user` of ATOM_API_KEYS (and its key), or the host's demo one."""
    for part in (p.strip() for p in env.get("ATOM_API_KEYS", "").split(",")):
        bits = part.split(":")
        if len(bits) == 3 and all(b.strip() for b in bits):
            return Principal(tenant_id=bits[1].strip(), user_id=bits[2].strip()), bits[0].strip()
    return HOST_DEMO_PRINCIPAL, None


def demo_env(context: HostContext, *, sandbox_url: str | None = None) -> dict[str, str]:
    """Settings overrides that point the plugin at the sandbox (in-process or standalone).

    Usable from config validation too: every value here is valid without user input.
    """
    from atom_hubspot.sandbox.config import SandboxConfig
    from atom_hubspot.storage.crypto import ensure_demo_key

    public = context.public_url.rstrip("/")
    url = (sandbox_url or context.env.get("ATOM_SANDBOX_URL") or "").rstrip("/")
    base = url or public + SANDBOX_MOUNT
    defaults = SandboxConfig(seed=False)
    # The sandbox stands in for the app of the environment in force: HubSpot itself under
    # production, the developer test account under HUBSPOT_ENVIRONMENT=qa.
    prefix = app_prefix(context.env)
    env = {
        f"{prefix}CLIENT_ID": defaults.client_id,
        f"{prefix}CLIENT_SECRET": defaults.client_secret,
        f"{prefix}API_BASE_URL": base,
        f"{prefix}AUTHORIZE_URL": base + "/oauth/authorize",
        f"{prefix}REDIRECT_URI": context.env.get(f"{prefix}REDIRECT_URI")
        or public + "/auth/hubspot/callback",
    }
    keys = context.env.get("ATOM_HUBSPOT_ENCRYPTION_KEYS")
    env["ATOM_HUBSPOT_ENCRYPTION_KEYS"] = keys or ensure_demo_key(context.data_dir)
    return env


def app_prefix(env: Mapping[str, str]) -> str:
    """`HUBSPOT_QA_` under HUBSPOT_ENVIRONMENT=qa, else `HUBSPOT_`: the app settings' prefix."""
    qa = env.get("HUBSPOT_ENVIRONMENT", "").strip().lower() == "qa"
    return "HUBSPOT_QA_" if qa else "HUBSPOT_"


def plan_demo(context: HostContext) -> DemoPlan:
    sandbox_url = (context.env.get("ATOM_SANDBOX_URL") or "").rstrip("/")
    env = demo_env(context, sandbox_url=sandbox_url or None)
    prefix = app_prefix(context.env)
    if sandbox_url:
        real = httpx.AsyncHTTPTransport()
        return DemoPlan(env, None, real, None, sandbox_url)
    from atom_hubspot.sandbox import SandboxConfig, create_sandbox_app

    app = create_sandbox_app(
        SandboxConfig(
            app_name="ATOM demo (offline HubSpot sandbox)",
            redirect_uris=[env[f"{prefix}REDIRECT_URI"]],
        )
    )
    # The host serves the sandbox under SANDBOX_MOUNT; in-process calls carry the same prefix.
    transport = httpx.ASGITransport(app=app, root_path=SANDBOX_MOUNT)
    return DemoPlan(env, transport, transport, app, env[f"{prefix}API_BASE_URL"])


async def connect_demo_portal(
    runtime: Any, principal: Principal, browser_transport: httpx.AsyncBaseTransport
) -> Any:
    """OAuthFlow.start → the user's click on the sandbox's authorize page → OAuthFlow.complete."""
    from atom_hubspot.sandbox.testing import approve

    start = await runtime.oauth.start(principal)
    redirect = await approve(start.url, browser_transport)
    query = {k: v[0] for k, v in parse_qs(urlsplit(redirect).query).items()}
    return await runtime.oauth.complete(
        code=query.get("code"),
        state=query.get("state"),
        error=query.get("error"),
        principal=principal,
    )


async def mirror_demo_portal(runtime: Any, portal_id: int) -> str:
    """Fill the demo portal's mirror now; the one-line summary the demo prints."""
    started = time.monotonic()
    report = await runtime.mirror_sync.sync_portal(portal_id)
    counts = await runtime.mirror.counts(portal_id)
    failed = [r.object_type for r in report.results if r.error]
    summary = ", ".join(f"{n} {t}" for t, n in counts.items())
    state = f"; failed: {', '.join(failed)}" if failed else ""
    return (
        f"portal {portal_id} mirrored in {time.monotonic() - started:.1f} s ({summary}{state}); "
        "reads answer with meta.source: mirror"
    )


async def setup_demo(context: HostContext, mount: RegisterMount) -> None:
    from atom_hubspot.runtime import HubSpotRuntime
    from atom_hubspot.settings import load_settings
    from atom_hubspot.storage.db import migrate

    plan = plan_demo(context)
    if plan.sandbox_app is not None:
        mount(SANDBOX_MOUNT, LoopbackOnly(plan.sandbox_app, LOOPBACK_ONLY_PATHS))
    settings, issues = load_settings({**context.env, **plan.env})
    if settings is None:
        raise RuntimeError("demo settings are invalid: " + "; ".join(i.message for i in issues))
    await asyncio.to_thread(migrate, context.database_url)

    # Restart the runtime on the sandbox's URLs and transport (startup ran before this hook).
    old = context.state.pop(STATE_KEY, None)
    if old is not None:
        await old.aclose()
    context.state[f"{STATE_KEY}.transport"] = plan.transport
    context.state[f"{STATE_KEY}.sandbox"] = plan.sandbox_app
    runtime = await HubSpotRuntime.start(settings, context, transport=plan.transport)
    context.state[STATE_KEY] = runtime

    principal, key = first_principal(context.env)
    conn = await connect_demo_portal(runtime, principal, plan.browser_transport)
    # The demo portal is mirrored before the host answers: reads come from the mirror at once.
    mirrored = await mirror_demo_portal(runtime, conn.portal_id)
    public = context.public_url.rstrip("/")
    key_hint = (
        "the first key of ATOM_API_KEYS (unset, demo mode generates one: printed above)"
        if key
        else "the host's (ATOM_API_KEYS is not set)"
    )
    lines = [
        f"HubSpot demo: portal {conn.portal_id} connected through OAuth for tenant "
        f"{principal.tenant_id!r}, user {principal.user_id!r}",
        f"  Dashboard:       {public}/",
        f"  API docs:        {public}/docs",
        f"  API key:         {key_hint}",
        f"  Sign in:         {public}/sign-in (a browser, with that key: then Connect works)",
        f"  Mirror:          {mirrored}",
        f"  Try:             curl -H 'Authorization: Bearer <key>' {public}/api/hubspot/contacts",
        f"  Sync status:     curl -H 'Authorization: Bearer <key>' {public}/api/hubspot/sync",
        f"  HubSpot sandbox: {plan.sandbox_url} (admin: {plan.sandbox_url}/_sandbox)",
    ]
    hook = f"{public}/webhooks/hubspot"
    if plan.sandbox_app is not None:
        # The sandbox pushes its changes to this host as HubSpot would: signed webhooks.
        plan.sandbox_app.state.sandbox.webhooks.configure(hook)
        lines.append(
            f"  Change feed:     sandbox changes arrive as webhooks at {hook}; make one with "
            f"`atom-host sandbox-edit --url {plan.sandbox_url} contacts <id> firstname=Ada`"
        )
    else:
        lines.append(
            f"  Change feed:     start the sandbox with --webhook-url {hook} to push changes here"
        )
    for line in lines:
        print(line, flush=True)
    log.info("demo portal %s connected (connection %s)", conn.portal_id, conn.id)
