"""Confirming a write by asking the user (MCP elicitation), where the client can be asked.

A write's first call answers a preview and a confirmation token (agent_tools.py). When the
client declared the `elicitation` capability (form mode), the server asks the user instead of
handing the preview back to the model: it shows the preview and commits only when the user
accepts. How it asks depends on the connection:

- on 2026-07-28 (stateless, so also over `/mcp`) the call answers `input_required` with one
  form elicitation, and the confirmation token as its `requestState`; the client asks the user
  and repeats the call with the answer, which commits (accept) or changes nothing (decline,
  cancel). The token is HMAC-bound to the caller, the tool and the arguments, so an edited
  retry is refused like any mismatched token;
- on a connection that can carry server requests (stdio, handshake-era sessions) it sends
  `elicitation/create` and waits for the answer;
- otherwise (no capability, or a handshake-era stateless HTTP call) the preview and token
  come back as before.

https://modelcontextprotocol.io/specification/draft/client/elicitation ("Servers MUST NOT use
form mode elicitation to request sensitive information"; the preview carries none).
"""

from __future__ import annotations

import json
from typing import Any

from atom_host_stub.agent_tools import CONFIRM_ARG, ToolRunner
from atom_host_stub.contract import Principal
from atom_host_stub.jobs import Progress

ANSWER_KEY = "confirm"  # the form's one field, and the input request's key
MAX_PREVIEW_CHARS = 4000
CONFIRM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        ANSWER_KEY: {
            "type": "boolean",
            "title": "Make this change",
            "description": "Yes commits exactly what the preview shows; no changes nothing.",
            "default": False,
        }
    },
    "required": [ANSWER_KEY],
}


def can_elicit(ctx: Any) -> bool:
    """The client declared form-mode elicitation (an empty `elicitation` object means form)."""
    session = getattr(ctx, "session", None)
    capabilities = getattr(session, "client_capabilities", None)
    elicitation = getattr(capabilities, "elicitation", None)
    if elicitation is None:
        return False
    return elicitation.form is not None or elicitation.url is None


def question(tool: str, preview: dict[str, Any]) -> str:
    shown = json.dumps(preview, default=str, indent=1)
    if len(shown) > MAX_PREVIEW_CHARS:
        shown = shown[:MAX_PREVIEW_CHARS] + "\n… (shortened)"
    return f"{tool} asks to make this change; nothing has changed yet.\n{shown}\nMake it?"


def accepted(answer: Any) -> bool:
    """Only an explicit accept with the box ticked commits."""
    content = getattr(answer, "content", None) or {}
    return getattr(answer, "action", None) == "accept" and content.get(ANSWER_KEY) is True


def declined(tool: str, preview: dict[str, Any] | None, answer: Any) -> dict[str, Any]:
    action = getattr(answer, "action", None) or "no answer"
    return {
        "status": "declined",
        "tool": tool,
        "action": str(action),
        "preview": preview,
        "message": "The user did not confirm this change: nothing changed.",
    }


async def call_with_consent(
    ctx: Any,
    runner: ToolRunner,
    principal: Principal,
    params: Any,
    *,
    progress: Progress | None = None,
) -> dict[str, Any] | Any:
    """The tool's answer, asking the user first where the client allows it; an
    `InputRequiredResult` when the client is to ask and call again. `progress` carries a
    long call's progress to the caller."""
    import mcp_types as types
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    name: str = params.name
    arguments = dict(params.arguments or {})
    token = getattr(params, "request_state", None)
    if token is not None and CONFIRM_ARG not in arguments:
        # The second leg: the client asked the user and sends the answer with our token.
        answer = (getattr(params, "input_responses", None) or {}).get(ANSWER_KEY)
        if not accepted(answer):
            return declined(name, None, answer)
        return await runner.call(
            principal, name, {**arguments, CONFIRM_ARG: token}, progress=progress
        )
    result = await runner.call(principal, name, arguments, progress=progress)
    if result.get("status") != "preview" or not can_elicit(ctx):
        return result
    message = question(name, result["preview"])
    if ctx.session.can_send_request:
        answer = await ctx.session.elicit_form(
            message, CONFIRM_SCHEMA, related_request_id=ctx.request_id
        )
        if not accepted(answer):
            return declined(name, result["preview"], answer)
        confirmed = {**arguments, CONFIRM_ARG: result[CONFIRM_ARG]}
        return await runner.call(principal, name, confirmed, progress=progress)
    if ctx.session.protocol_version in MODERN_PROTOCOL_VERSIONS:
        form = types.ElicitRequestFormParams(message=message, requested_schema=CONFIRM_SCHEMA)
        return types.InputRequiredResult(
            input_requests={ANSWER_KEY: types.ElicitRequest(params=form)},
            request_state=result[CONFIRM_ARG],
        )
    return result
