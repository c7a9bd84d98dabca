"""A well-behaved test plugin implementing every hook; it records what the host did to it in
`context.state["events"]` so tests can assert order and arguments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click
import pluggy
from pydantic import BaseModel

from atom_host_stub.contract import (
    AgentTool,
    ConfigIssue,
    ConfigValue,
    FeatureState,
    HealthResult,
    HealthStatus,
    HostContext,
    Principal,
)

hookimpl = pluggy.HookimplMarker("atom")

# Incremented by the protected route's handler: proves a 401 happened before plugin code.
HANDLER_CALLS = {"whoami": 0}


def _events(context: HostContext) -> list[tuple[str, str]]:
    events: list[tuple[str, str]] = context.state.setdefault("events", [])
    return events


@hookimpl
def atom_features() -> list[FeatureState]:
    return [FeatureState(name="sparkles", enabled=False, extra="sparkle", reason="not installed")]


@hookimpl
def atom_config_summary(env: Mapping[str, str]) -> list[ConfigValue]:
    return [ConfigValue(key="GOOD_MODE", name="Greeting mode", value=env.get("GOOD_MODE", "plain"))]


@hookimpl
def atom_validate_config(env: Mapping[str, str]) -> list[ConfigIssue]:
    if not env.get("GOOD_TOKEN"):
        return [ConfigIssue(key="GOOD_TOKEN", message="GOOD_TOKEN is not set", hint="Set it.")]
    if env["GOOD_TOKEN"] == "echo-me":  # noqa: S105 - the test value that triggers the echo
        # A careless plugin echoing a secret: the host must mask it.
        return [
            ConfigIssue(
                key="GOOD_TOKEN",
                severity="warning",
                message=f"GOOD_TOKEN {env['GOOD_TOKEN']} looks like a test value",
            )
        ]
    return []


@hookimpl
async def atom_startup(context: HostContext) -> None:
    _events(context).append(("good", "startup"))


@hookimpl
def atom_shutdown(context: HostContext) -> None:
    _events(context).append(("good", "shutdown"))


@hookimpl
def atom_demo_setup(context: HostContext, mount: Any) -> None:
    from starlette.responses import PlainTextResponse

    async def demo_app(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("good demo sandbox")(scope, receive, send)

    mount("/good-demo", demo_app)
    _events(context).append(("good", "demo_setup"))


@hookimpl
def atom_register_routes(register: Any, context: HostContext) -> None:
    from fastapi import APIRouter, Depends

    router = APIRouter()

    @router.get("/whoami")
    async def whoami(
        principal: Principal = Depends(context.principal_dependency),  # noqa: B008 - FastAPI idiom
    ) -> dict[str, str]:
        HANDLER_CALLS["whoami"] += 1
        return {"tenant": principal.tenant_id, "user": principal.user_id}

    # The same answer to a state-changing method: what a cross-site form post would aim at.
    router.add_api_route("/whoami", whoami, methods=["POST"])

    @router.post("/echo")
    async def echo(
        body: dict[str, Any],
        principal: Principal = Depends(context.principal_dependency),  # noqa: B008
    ) -> dict[str, Any]:
        HANDLER_CALLS["echo"] = HANDLER_CALLS.get("echo", 0) + 1
        return {"tenant": principal.tenant_id, "keys": len(body)}

    @router.get("/callback")
    async def callback(
        principal: Principal | None = Depends(context.optional_principal_dependency),  # noqa: B008
    ) -> dict[str, str | None]:
        return {"tenant": principal.tenant_id if principal else None}

    register(router, prefix="/api/good", tags=["good"])


@hookimpl
def atom_register_health_checks(register: Any) -> None:
    async def ok() -> HealthResult:
        return HealthResult(
            status=HealthStatus.OK,
            message="all good",
            details={"checked_ms": 1},
            tenant_details={"tenant-a": {"portal_id": 111}, "tenant-b": {"portal_id": 222}},
        )

    register("good-ok", ok, timeout_s=1.0)


class Greeter:
    provider = "good"

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    def greet(self) -> str:
        return f"hello {self.principal.user_id} from good"


@hookimpl
def atom_register_services(register: Any) -> None:
    async def factory(principal: Principal) -> Greeter:
        return Greeter(principal)

    register("greeting", factory)


class GreetIn(BaseModel):
    name: str


class GreetOut(BaseModel):
    text: str


async def greet_tool(ctx: Any, args: GreetIn) -> GreetOut:
    greeter = await ctx.service("greeting")
    return GreetOut(text=f"{greeter.greet()} to {args.name}")


@hookimpl
def atom_register_agent_tools(register: Any) -> None:
    register(AgentTool("greet", "Greet someone.", GreetIn, GreetOut, greet_tool))


@hookimpl
def atom_register_cli_commands(cli: click.Group) -> None:
    @cli.group("good")
    def good_group() -> None:
        """The good plugin's commands."""

    @good_group.command("hello")
    def hello() -> None:
        click.echo("hello from the good plugin")


@hookimpl
def atom_migrate(context: HostContext) -> str:
    _events(context).append(("good", "migrate"))
    return "good schema at revision 7"
