"""Tools for assistants, whatever protocol serves them: the host's own CRM tools (on the `crm`
capability, so any CRM plugin serves them: crm_tools.py), and the runner every tool call goes
through.

The runner is where the safety rules live, not in the tools:
- a read-only tool gets read-only views of the services: a write through them is refused;
- a tool that writes never acts on its first call: it answers a preview (what would change,
  how many records or recipients, what it costs in rate budget) and a confirmation token,
  HMAC-signed, bound to the caller, the tool and the exact arguments, and expiring;
- the commit is the same call with that token; the token's nonce is its idempotency key, so a
  replayed confirmation answers the first commit's result and acts once.

Nothing here imports an MCP library; mcp_server.py adapts the runner to the protocol.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field, ValidationError

from atom_host_stub.contract import (
    AgentTool,
    CRMError,
    ObjectKind,
    Principal,
)
from atom_host_stub.jobs import JobFailed, Jobs, Progress, job_status_tool
from atom_host_stub.services import ServiceUnavailable

CONFIRM_ARG = "confirmation_token"
CONFIRM_TTL_S = 300
MAX_PAGE = 100
# Method names a read-only view refuses: those that start with a verb that writes.
WRITE_PREFIXES = (
    "create",
    "update",
    "delete",
    "archive",
    "add_",
    "remove_",
    "send",
    "schedule",
    "cancel",
    "merge",
    "associate",
    "upsert",
    "write",
    "save",
    "set_",
    "batch_",
    "import",
    "put",
    "post",
)

ObjectType = Literal["contacts", "companies", "deals"]
KINDS: dict[str, ObjectKind] = {"contacts": "contact", "companies": "company", "deals": "deal"}


class ToolFailure(Exception):
    """A tool call that did not happen; `code` is stable, `message` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --------------------------------------------------------------------------- context


class ReadOnlyView:
    """A service as a read-only tool sees it: a method named for a write is refused."""

    def __init__(self, service: Any) -> None:
        self._service = service

    def __getattr__(self, name: str) -> Any:
        if name.startswith(WRITE_PREFIXES):
            raise ToolFailure(
                "read_only", f"A read-only tool may not call {name!r}: nothing was changed."
            )
        return getattr(self._service, name)


class CallContext:
    """The ToolContext the runner hands a tool: the caller, and their services only."""

    def __init__(
        self,
        principal: Principal,
        services: Callable[[str, Principal], Awaitable[Any]],
        *,
        read_only: bool,
        progress: Progress | None = None,
    ) -> None:
        self.principal = principal
        self._services = services
        self._read_only = read_only
        self._progress = progress

    async def service(self, capability: str) -> Any:
        found = await self._services(capability, self.principal)
        return ReadOnlyView(found) if self._read_only else found

    async def progress(
        self, done: float, total: float | None = None, message: str | None = None
    ) -> None:
        if self._progress is not None:
            await self._progress(done, total, message)


# --------------------------------------------------------------------------- confirmations


class Preview(BaseModel):
    """What a write would do; nothing has changed yet."""

    tool: str
    changes: dict[str, Any] = Field(description="What would change")
    records: int = Field(default=1, description="How many records it touches")
    recipients: int | None = Field(default=None, description="How many people a send reaches")
    budget_cost: int = Field(default=1, description="HubSpot API calls it spends")


Commit = Callable[[], Awaitable[dict[str, Any]]]
Committed = tuple[dict[str, Any], bool]  # (the commit's result, whether this was a replay)


class ConfirmationLedger(Protocol):
    """Where used confirmations are recorded: `once` runs a commit at most once per nonce and
    answers a replay with the first commit's result."""

    async def once(self, nonce: str, tool: str, expires_at: int, commit: Commit) -> Committed:
        """(result, replayed); ToolFailure `confirmation_expired` when the token expired
        before it was ever used."""
        ...


def expired_failure() -> ToolFailure:
    return ToolFailure(
        "confirmation_expired", "The confirmation expired: call again for a new preview."
    )


class MemoryLedger:
    """This process's ledger: enough for one process (stdio, tests). With several workers a
    replay that reaches another worker would act again; the host's MCP server over HTTP uses
    the database's ledger (mcp_ledger.py) instead."""

    def __init__(self, keep: int = 10_000) -> None:
        self._keep = keep
        self._done: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    async def once(self, nonce: str, tool: str, expires_at: int, commit: Commit) -> Committed:
        lock = self._locks.setdefault(nonce, asyncio.Lock())
        async with lock:
            if nonce in self._done:
                return self._done[nonce], True
            if expires_at < time.time():
                self._locks.pop(nonce, None)
                raise expired_failure()
            result = await commit()
            self._done[nonce] = result
            while len(self._done) > self._keep:
                old, _ = self._done.popitem(last=False)
                self._locks.pop(old, None)
            return result, False


class Confirmations:
    """Signs and checks confirmation tokens; its ledger remembers each commit's result by the
    token's nonce (its idempotency key) so a replay answers the same result without acting
    again."""

    def __init__(
        self,
        secret: bytes,
        *,
        ttl_s: int = CONFIRM_TTL_S,
        ledger: ConfirmationLedger | None = None,
    ) -> None:
        self._key = hmac.new(secret, b"atom agent-tool confirmation", hashlib.sha256).digest()
        self.ttl_s = ttl_s
        self.ledger: ConfirmationLedger = ledger or MemoryLedger()

    @staticmethod
    def _binding(principal: Principal, tool: str, arguments: Mapping[str, Any]) -> str:
        canonical = json.dumps(
            [principal.tenant_id, principal.user_id, tool, arguments],
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    def issue(self, principal: Principal, tool: str, arguments: Mapping[str, Any]) -> str:
        body = {
            "b": self._binding(principal, tool, arguments),
            "n": secrets.token_urlsafe(12),
            "e": int(time.time()) + self.ttl_s,
        }
        raw = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode())
        mac = base64.urlsafe_b64encode(hmac.new(self._key, raw, hashlib.sha256).digest())
        return f"{raw.decode()}.{mac.decode().rstrip('=')}"

    def check(
        self, token: str, principal: Principal, tool: str, arguments: Mapping[str, Any]
    ) -> tuple[str, int]:
        """(nonce, expires_at) when the token is this caller's, for this tool and these
        arguments; else ToolFailure (nothing is done). Expiry is the ledger's to judge: a
        replay of a commit it remembers answers that commit even after the token expired."""
        raw, _, mac = token.partition(".")
        expected = base64.urlsafe_b64encode(
            hmac.new(self._key, raw.encode(), hashlib.sha256).digest()
        )
        if not hmac.compare_digest(expected.decode().rstrip("="), mac):
            raise ToolFailure("invalid_confirmation", "The confirmation token is not valid.")
        try:
            body = json.loads(base64.urlsafe_b64decode(raw.encode()))
            nonce, binding, expires = str(body["n"]), str(body["b"]), int(body["e"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ToolFailure(
                "invalid_confirmation", "The confirmation token is not valid."
            ) from exc
        if not hmac.compare_digest(binding, self._binding(principal, tool, arguments)):
            raise ToolFailure(
                "invalid_confirmation",
                "The confirmation token was issued for other arguments or another caller: "
                "call again without it for a fresh preview.",
            )
        return nonce, expires

    async def once(self, nonce: str, tool: str, expires_at: int, commit: Commit) -> Committed:
        """Run `commit` once per nonce, whichever process the replay reaches; (result,
        replayed)."""
        return await self.ledger.once(nonce, tool, expires_at, commit)


# --------------------------------------------------------------------------- runner


class ToolRunner:
    """Validates arguments, enforces read-only and confirmation, and runs a tool as a caller."""

    def __init__(
        self,
        tools: list[AgentTool],
        services: Callable[[str, Principal], Awaitable[Any]],
        confirmations: Confirmations,
        jobs: Jobs | None = None,
    ) -> None:
        self.jobs = jobs if jobs is not None else Jobs()
        if any(t.job for t in tools):
            tools = [*tools, job_status_tool(self.jobs)]
        self.tools = {t.name: t for t in tools}
        self._services = services
        self.confirmations = confirmations

    async def call(
        self,
        principal: Principal,
        name: str,
        arguments: Mapping[str, Any] | None,
        *,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Run `name` as `principal`; `progress` carries a long call's progress to the caller."""
        tool = self.tools.get(name)
        if tool is None:
            raise ToolFailure("unknown_tool", f"No tool named {name[:100]!r}.")
        args = dict(arguments or {})
        token = args.pop(CONFIRM_ARG, None)
        if tool.read_only and token is not None:
            raise ToolFailure("invalid_input", f"{name} reads only: it takes no confirmation.")
        try:
            parsed = tool.input_model.model_validate(args)
        except ValidationError as exc:
            fields = ", ".join(
                ".".join(str(p) for p in e["loc"]) or "arguments" for e in exc.errors()[:10]
            )
            raise ToolFailure("invalid_input", f"Invalid input in: {fields}.") from exc
        canonical = parsed.model_dump(mode="json")
        context = CallContext(
            principal, self._services, read_only=tool.read_only or not token, progress=progress
        )
        try:
            if tool.read_only:
                return dump(await tool.handler(context, parsed))
            if not isinstance(token, str) or not token:
                preview = await tool.preview(context, parsed) if tool.preview else None
                return {
                    "status": "preview",
                    "preview": dump(preview) if preview else {"tool": name, "changes": canonical},
                    CONFIRM_ARG: self.confirmations.issue(principal, name, canonical),
                    "expires_in_s": self.confirmations.ttl_s,
                    "next": f"Nothing changed yet. To commit, call {name} again with the same "
                    f"arguments and {CONFIRM_ARG}.",
                }
            nonce, expires = self.confirmations.check(token, principal, name, canonical)
            if tool.job:
                return await self._start_job(principal, tool, parsed, nonce, expires)
            writer = CallContext(principal, self._services, read_only=False, progress=progress)

            async def commit() -> dict[str, Any]:
                return {
                    "status": "committed",
                    "idempotency_key": nonce,
                    "result": dump(await tool.handler(writer, parsed)),
                }

            result, replayed = await self.confirmations.once(nonce, name, expires, commit)
            return {**result, "replayed": replayed}
        except CRMError as err:
            raise ToolFailure(
                err.crm_code if err.crm_code != "crm_error" else err.code, err.message
            ) from err
        except ServiceUnavailable as exc:
            raise ToolFailure("service_unavailable", str(exc)) from exc
        except JobFailed as exc:
            raise ToolFailure(exc.code, exc.message) from exc

    async def _start_job(
        self, principal: Principal, tool: AgentTool, parsed: BaseModel, nonce: str, expires: int
    ) -> dict[str, Any]:
        """A confirmed bulk call: its work starts once per confirmation (a replay answers the
        same job) and the answer is the job id, at once."""

        async def work(progress: Progress) -> dict[str, Any]:
            writer = CallContext(principal, self._services, read_only=False, progress=progress)
            try:
                return dump(await tool.handler(writer, parsed))
            except ToolFailure as exc:
                raise JobFailed(exc.code, exc.message) from exc
            except ServiceUnavailable as exc:
                raise JobFailed("service_unavailable", str(exc)) from exc

        async def commit() -> dict[str, Any]:
            job = self.jobs.start(principal, tool.name, work)
            return {"status": "committed", "idempotency_key": nonce, "job_id": job.id}

        result, replayed = await self.confirmations.once(nonce, tool.name, expires, commit)
        job = await self.jobs.follow(principal, result["job_id"], 0, None)
        return {
            **result,
            "replayed": replayed,
            "job": job.model_dump(mode="json"),
            "next": "Work runs in the background: call job_status with job_id (wait_s to "
            "follow it with progress).",
        }


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude={"raw"}, exclude_none=False)
