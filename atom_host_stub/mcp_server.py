"""The host's MCP server: every agent tool (the host's CRM tools and those plugins register
through `atom_register_agent_tools`) served with the official MCP Python SDK, over streamable
HTTP at `/mcp` and over stdio (`atom-host mcp`).

Every call acts as an ATOM principal: over HTTP the `Authorization: Bearer <API key>` of each
request (checked by the host's own key check, in constant time, 401 before any tool runs); over
stdio the key given when the server starts. Tools reach only that principal's services, so a
principal sees only its own connections; no provider token is ever an argument or an answer.

Needs the `mcp` extra; without it `available()` is False and the host serves no `/mcp`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atom_host_stub.agent_tools import (
    CONFIRM_ARG,
    KINDS,
    ConfirmationLedger,
    Confirmations,
    ToolFailure,
    ToolRunner,
)
from atom_host_stub.auth import ApiKeyAuthenticator, Unauthorized
from atom_host_stub.contract import FIELDS_MODELS, AgentTool, Principal
from atom_host_stub.crm_tools import crm_tools
from atom_host_stub.host import MCP_PATH, Host, host_version
from atom_host_stub.mcp_confirm import call_with_consent

if TYPE_CHECKING:
    import mcp_types
    from mcp.server import Server

    from atom_host_stub.host_db import HostDatabase
    from atom_host_stub.mcp_auth import HostOAuthProvider


log = logging.getLogger("atom_host_stub.mcp")

PIPELINES_URI = "atom://crm/pipelines"
FIELDS_URI = "atom://crm/fields/"
EXTRA = "mcp"
SERVER_NAME = "atom"
# Where McpHttpApp leaves the caller it authenticated, in the request's ASGI scope.
PRINCIPAL_SCOPE_KEY = "atom.principal"
TEMPLATES_DIR = Path(__file__).parent / "templates"


def available() -> bool:
    """True when the MCP SDK is installed (the `mcp` extra)."""
    return importlib.util.find_spec("mcp") is not None


def host_tools(host: Host) -> list[AgentTool]:
    """The host's CRM tools, then every running plugin's, in registration order."""
    return [*crm_tools(), *host.agent_tool_list()]


def tool_definitions(tools: list[AgentTool]) -> list[dict[str, Any]]:
    """The tools as MCP lists them (name, description, schemas, annotations)."""
    out = []
    for tool in tools:
        schema = tool.input_model.model_json_schema()
        if not tool.read_only:
            props = dict(schema.get("properties", {}))
            props[CONFIRM_ARG] = {
                "type": "string",
                "description": "From this tool's preview; omit to get the preview",
            }
            schema = {**schema, "properties": props}
        out.append(
            {
                "name": tool.name,
                "description": tool.description,
                "inputSchema": schema,
                "annotations": {
                    "readOnlyHint": tool.read_only,
                    "destructiveHint": tool.destructive,
                    "idempotentHint": tool.read_only,
                },
            }
        )
    return out


def build_server(
    runner: ToolRunner, principal_of: Callable[[Any], Principal], *, version: str = ""
) -> Server[Any]:
    """A low-level MCP server over `runner`; `principal_of(request context)` names the caller
    (raises Unauthorized when there is none)."""
    import mcp_types as types
    from mcp.server import Server
    from mcp.shared.exceptions import MCPError
    from mcp_types import INVALID_REQUEST

    definitions = tool_definitions(list(runner.tools.values()))
    listed = [
        types.Tool(
            name=d["name"],
            description=d["description"],
            input_schema=d["inputSchema"],
            annotations=types.ToolAnnotations(
                read_only_hint=d["annotations"]["readOnlyHint"],
                destructive_hint=d["annotations"]["destructiveHint"],
                idempotent_hint=d["annotations"]["idempotentHint"],
                open_world_hint=False,
            ),
        )
        for d in definitions
    ]

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def call_tool(
        ctx: Any, params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        try:
            principal = principal_of(ctx)
            # Writes ask the user first where the client supports elicitation (mcp_confirm.py).
            # Progress reaches the caller only when they asked for it (a progress token).
            progress = getattr(getattr(ctx, "session", None), "report_progress", None)
            result = await call_with_consent(ctx, runner, principal, params, progress=progress)
            if isinstance(result, types.InputRequiredResult):
                return result
        except Unauthorized as exc:
            return _failure("unauthorized", exc.message)
        except ToolFailure as exc:
            return _failure(exc.code, exc.message)
        except Exception:
            # Never a stack trace or a provider's words in an answer; the log has the type.
            log.exception("agent tool %s failed", params.name[:100])
            return _failure("internal_error", "The tool failed; nothing more is known here.")
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(result, default=str))],
            structured_content=result,
        )

    resources = [
        types.Resource(
            name="pipelines",
            uri=PIPELINES_URI,
            description="Deal pipelines and their stages",
            mime_type="application/json",
        ),
        *(
            types.Resource(
                name=f"{plural} fields",
                uri=f"{FIELDS_URI}{plural}",
                description=f"The fields a {kind} record can be created or updated with",
                mime_type="application/json",
            )
            for plural, kind in KINDS.items()
        ),
    ]

    async def list_resources(ctx: Any, params: Any) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=resources)

    async def read_resource(
        ctx: Any, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        try:
            data = await read_resource_data(runner, principal_of(ctx), uri)
        except Unauthorized as exc:
            raise MCPError(INVALID_REQUEST, exc.message, {"code": "unauthorized"}) from None
        except ToolFailure as exc:
            raise MCPError(
                INVALID_REQUEST, f"{exc.code}: {exc.message}", {"code": exc.code}
            ) from None
        text = json.dumps(data, default=str)
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type="application/json", text=text)]
        )

    return Server(
        SERVER_NAME,
        version=version,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
        instructions="ATOM's CRM and marketing tools. Writes answer a preview first; call "
        f"again with its {CONFIRM_ARG} to commit.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def read_resource_data(runner: ToolRunner, principal: Principal, uri: str) -> Any:
    """A resource's JSON: the caller's pipelines (through the read-only `crm_pipelines`), or
    the fields of an object type (the capability's contract: the same for every provider)."""
    if uri == PIPELINES_URI:
        return await runner.call(principal, "crm_pipelines", {})
    plural = uri.removeprefix(FIELDS_URI)
    if uri.startswith(FIELDS_URI) and plural in KINDS:
        return FIELDS_MODELS[KINDS[plural]].model_json_schema()
    raise ToolFailure("not_found", f"No resource {uri[:200]!r}.")


def _failure(code: str, message: str) -> mcp_types.CallToolResult:
    import mcp_types as types

    body = {"error": {"code": code, "message": message}}
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(body))],
        structured_content=body,
        is_error=True,
    )


def runner_for(host: Host, secret: bytes, ledger: ConfirmationLedger | None = None) -> ToolRunner:
    """The runner over the host's tools; `ledger` records used confirmations (default: this
    process's memory; the served MCP uses the host's database, shared by every worker)."""

    async def services(capability: str, principal: Principal) -> Any:
        return await host.services.get_service(capability, principal)

    return ToolRunner(host_tools(host), services, Confirmations(secret, ledger=ledger))


def fixed_principal(principal: Principal) -> Callable[[Any], Principal]:
    """stdio and in-process: one caller, authenticated when the server started."""
    return lambda ctx: principal


def header_principal(authenticator: ApiKeyAuthenticator) -> Callable[[Any], Principal]:
    """HTTP: the caller of each request, from its bearer API key."""

    def principal_of(ctx: Any) -> Principal:
        request = getattr(ctx, "request", None)
        # McpHttpApp has already checked the bearer value (API key or OAuth access token).
        scope = getattr(request, "scope", None)
        found = scope.get(PRINCIPAL_SCOPE_KEY) if isinstance(scope, dict) else None
        if isinstance(found, Principal):
            return found
        headers = getattr(request, "headers", None)
        authorization = headers.get("authorization") if headers is not None else None
        return authenticator.principal_for(authorization)

    return principal_of


class TokenStoreUnavailable(Exception):
    """An OAuth access token could not be checked: the host's database is unavailable (503)."""


class McpHttpApp:
    """The ASGI app mounted at /mcp: refuses a request without a valid API key or OAuth access
    token for this `/mcp` (401, pointing at the protected resource metadata) before the MCP
    session manager sees it, then hands it on. Stateless: each request stands alone."""

    def __init__(
        self,
        server: Server[Any],
        authenticator: ApiKeyAuthenticator,
        oauth: HostOAuthProvider | None = None,
    ) -> None:
        from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
        from mcp.server.transport_security import TransportSecuritySettings

        self.authenticator = authenticator
        self.oauth = oauth
        self.manager = StreamableHTTPSessionManager(
            app=server,
            json_response=True,
            stateless=True,
            # The key is the protection; the host decides which hosts it answers for.
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

    async def principal(self, authorization: str | None) -> Principal:
        """An API key first, else an OAuth access token issued for this `/mcp`."""
        try:
            return self.authenticator.principal_for(authorization)
        except Unauthorized:
            scheme, _, token = (authorization or "").partition(" ")
            if self.oauth is None or scheme.lower() != "bearer" or not token.strip():
                raise
        from atom_host_stub.host_db import HostDatabaseError

        try:
            found = await self.oauth.principal_for_token(token.strip())
        except HostDatabaseError as exc:
            log.warning("MCP access token not checked: %s", exc)
            raise TokenStoreUnavailable(
                "The host cannot check access tokens right now: try again shortly."
            ) from None
        if found is None:
            raise Unauthorized(
                "The bearer value is neither an API key nor a live access token issued for "
                "this server's /mcp: authorize again."
            )
        return found

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any
    ) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        authorization = headers.get("authorization")
        try:
            scope[PRINCIPAL_SCOPE_KEY] = await self.principal(authorization)
        except TokenStoreUnavailable as exc:
            body = json.dumps({"ok": False, "error": {"code": "not_ready", "message": str(exc)}})
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [(b"content-type", b"application/json"), (b"retry-after", b"5")],
                }
            )
            await send({"type": "http.response.body", "body": body.encode()})
            return
        except Unauthorized as exc:
            body = json.dumps(
                {"ok": False, "error": {"code": "unauthorized", "message": exc.message}}
            )
            # RFC 9728 §5.1: the 401 names the resource metadata, where a client finds how
            # to get a token; `invalid_token` when one was offered (RFC 6750 §3.1).
            challenge = "Bearer"
            if self.oauth is not None:
                error = 'error="invalid_token", ' if authorization else ""
                challenge += f' {error}resource_metadata="{self.oauth.resource_metadata_url()}"'
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", challenge.encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body.encode()})
            return
        await self.manager.handle_request(scope, receive, send)


class McpSlot:
    """What the web app routes `/mcp` to: 503 until the host has started and its tools are
    known, then the authenticated MCP app."""

    def __init__(self) -> None:
        self.app: McpHttpApp | None = None
        self.db: HostDatabase | None = None
        self.oauth: HostOAuthProvider | None = None

    def auth_routes(
        self, host: Host, authenticator: ApiKeyAuthenticator, secret: bytes
    ) -> list[Any]:
        """The OAuth routes for /mcp (mcp_auth.py), or none when the public URL cannot be an
        OAuth issuer (plain http off this machine); API keys work either way."""
        from atom_host_stub.host_db import HostDatabase
        from atom_host_stub.mcp_auth import HostOAuthProvider
        from atom_host_stub.mcp_oauth_routes import oauth_routes

        self.db = self.db or HostDatabase(host.settings.database_url)
        provider = HostOAuthProvider(
            self.db,
            secret,
            host.context.public_url,
            host.settings.api_keys.values(),
            mcp_path=MCP_PATH,
        )
        try:
            routes = oauth_routes(
                provider, authenticator.sessions, authenticator.own_hosts, TEMPLATES_DIR
            )
        except ValueError as exc:
            log.warning("OAuth for %s is off (API keys still work): %s", MCP_PATH, exc)
            return []
        self.oauth = provider
        return routes

    @asynccontextmanager
    async def serve(
        self, host: Host, authenticator: ApiKeyAuthenticator, secret: bytes
    ) -> AsyncIterator[None]:
        from atom_host_stub.host_db import HostDatabase
        from atom_host_stub.mcp_ledger import DatabaseLedger

        db = self.db or HostDatabase(host.settings.database_url)
        runner = runner_for(host, secret, DatabaseLedger(db))
        server = build_server(runner, header_principal(authenticator), version=host_version())
        app = McpHttpApp(server, authenticator, self.oauth)
        # The session manager's task group is entered and left in a task of its own: the
        # lifespan may be entered and left in different tasks (test runners do so).
        started, stop = asyncio.Event(), asyncio.Event()

        async def keep() -> None:
            async with app.manager.run():
                started.set()
                await stop.wait()

        task = asyncio.create_task(keep(), name="mcp-session-manager")
        waiter = asyncio.create_task(started.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done():
            task.result()  # raises what stopped it
        self.app = app
        try:
            yield
        finally:
            self.app = None
            stop.set()
            await task
            await runner.jobs.close()
            await db.aclose()

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any
    ) -> None:
        if self.app is None:
            body = b'{"ok":false,"error":{"code":"not_ready","message":"MCP is starting."}}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


async def serve_stdio(host: Host, api_key: str) -> None:
    """`atom-host mcp`: start the plugins, serve MCP on stdin/stdout as the key's principal."""
    from mcp.server.stdio import stdio_server

    from atom_host_stub.host_db import HostDatabase
    from atom_host_stub.mcp_ledger import DatabaseLedger
    from atom_host_stub.sessions import load_or_create_secret

    settings = host.settings
    principal = ApiKeyAuthenticator(settings.api_keys).principal_for_key(api_key)
    if principal is None:
        raise Unauthorized("The API key is not valid.")
    secret = load_or_create_secret(settings.data_dir, settings.session_secret)
    # The database's ledger: a confirmation previewed over HTTP acts once here too.
    db = HostDatabase(settings.database_url)
    await host.start()
    if host.context.demo:
        # stdout carries MCP: what the demo prints for people goes to stderr. No web app
        # here, so the sandbox's pages are not mounted (its API is reached in process).
        with contextlib.redirect_stdout(sys.stderr):
            await host.demo_setup(lambda mount: None)
    runner = runner_for(host, secret, DatabaseLedger(db))
    try:
        server = build_server(runner, fixed_principal(principal), version=host_version())
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())
    finally:
        await runner.jobs.close()
        await host.stop()
        await db.aclose()
