"""A shorter way through FastAPI for the read routes that need little of it.

FastAPI answers every request by walking the route's dependency tree generically
(`solve_dependencies`): for each parameter it looks up aliases, checks whether the annotation is
a sequence, a JSON field or a parameter model, and validates it on its own; for each
dependency it builds cache keys and checks for overrides and generators. On a read answered
from the host's own database that walk cost more than the database read: about 200 µs of a
~850 µs request, measured in-process.

`lean_handler(route)` does that walk once, when the route is made, for routes whose tree holds
only what it knows how to run the same way: GET routes with a response model, path and scalar
query parameters, and `async def` dependencies without `yield` taking those parameters, other
dependencies and the `Request`. The handler it returns:

1. validates every parameter of the tree with the parameter's own FastAPI field (the same
   validator, default and constraints FastAPI uses); should any be missing or invalid, or the
   app have dependency overrides, it answers None and FastAPI's own path answers instead, so a
   refusal is FastAPI's, word for word (nothing has run yet);
2. calls the dependencies in FastAPI's order, once each per request (FastAPI's cache), then
   the endpoint;
3. validates and serialises the endpoint's answer with the route's response field, as FastAPI's
   own fast path does (`serialize_json`), into the same `application/json` response.

Everything else (errors raised by a dependency or the endpoint, the envelope, the host's
middleware) is untouched: the caller wraps the handler exactly where it wraps FastAPI's.
A route the compiler does not understand gets None and keeps FastAPI's path.
`tests/api/test_lean_routes.py` sends the same generated requests down both paths.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import ResponseValidationError
from fastapi.routing import APIRoute

try:  # present since FastAPI 0.100; without them routes keep FastAPI's own path
    from fastapi._compat import field_annotation_is_sequence
    from fastapi.datastructures import DefaultPlaceholder
    from fastapi.params import Param
except ImportError:  # pragma: no cover - an older or newer FastAPI than this was written for
    field_annotation_is_sequence = None  # type: ignore[assignment]

# Whether routes take the shorter path (tests turn it off to compare the two).
enabled = True

LeanHandler = Callable[[Request], Awaitable[Response | None]]

_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class _Param:
    field: Any  # FastAPI's ModelField
    name: str
    alias: str
    loc: tuple[str, str]
    in_path: bool


@dataclass(frozen=True, slots=True)
class _Call:
    """One function of the tree: its sub-dependencies first, then its own parameters."""

    call: Callable[..., Awaitable[Any]]
    cache: bool
    subs: tuple[tuple[str | None, _Call], ...]
    params: tuple[_Param, ...]
    request_name: str | None


def _compile(dependant: Any) -> _Call | None:
    for unsupported in (
        "header_params",
        "cookie_params",
        "body_params",
        "websocket_param_name",
        "http_connection_param_name",
        "response_param_name",
        "background_tasks_param_name",
        "security_scopes_param_name",
        "own_oauth_scopes",
        "security_requirements",
        "concurrency",
    ):
        if getattr(dependant, unsupported, None):
            return None
    call = dependant.call
    if not asyncio.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):
        return None
    subs: list[tuple[str | None, _Call]] = []
    for sub in dependant.dependencies:
        compiled = _compile(sub)
        if compiled is None:
            return None
        subs.append((sub.name, compiled))
    params: list[_Param] = []
    for fields, in_path in ((dependant.path_params, True), (dependant.query_params, False)):
        for field in fields:
            info = field.field_info
            if (
                not isinstance(info, Param)
                or field_annotation_is_sequence(info.annotation)
                or any(type(m).__name__ == "Json" for m in info.metadata)
                or (isinstance(info.annotation, type) and hasattr(info.annotation, "model_fields"))
                or getattr(field, "validation_alias", None) not in (None, field.alias)
            ):
                return None
            params.append(
                _Param(field, field.name, field.alias, (info.in_.value, field.alias), in_path)
            )
    return _Call(
        call, bool(dependant.use_cache), tuple(subs), tuple(params), dependant.request_param_name
    )


@dataclass(frozen=True, slots=True)
class _Lean:
    root: _Call
    route: APIRoute
    response: Any  # the route's response field (FastAPI's ModelField)

    async def __call__(self, request: Request) -> Response | None:
        route = self.route
        provider = route.dependency_overrides_provider
        if provider is not None and getattr(provider, "dependency_overrides", None):
            return None
        query = request.query_params
        path = request.path_params
        values: dict[int, dict[str, Any]] = {}
        if not _validate(self.root, query, path, values):
            return None
        raw = await _run(self.root, request, values, {})
        if isinstance(raw, Response):
            return raw
        field = self.response
        value, errors = field.validate(raw, {}, loc=("response",))
        if errors:
            raise ResponseValidationError(errors=errors, body=raw)
        content = field.serialize_json(
            value,
            include=route.response_model_include,
            exclude=route.response_model_exclude,
            by_alias=route.response_model_by_alias,
            exclude_unset=route.response_model_exclude_unset,
            exclude_defaults=route.response_model_exclude_defaults,
            exclude_none=route.response_model_exclude_none,
        )
        if route.status_code is not None:
            return Response(content, route.status_code, media_type="application/json")
        return Response(content, media_type="application/json")


def _validate(node: _Call, query: Any, path: Any, values: dict[int, dict[str, Any]]) -> bool:
    """Every parameter of the tree validated into `values` (per function); False at the first
    one FastAPI would refuse."""
    for _, sub in node.subs:
        if not _validate(sub, query, path, values):
            return False
    own: dict[str, Any] = {}
    for p in node.params:
        raw = (path if p.in_path else query).get(p.alias, _MISSING)
        field = p.field
        if raw is _MISSING or raw is None:
            if field.field_info.is_required():
                return False
            value = deepcopy(field.default)
            if field.field_info.validate_default:
                value, errors = field.validate(value, own, loc=p.loc)
                if errors:
                    return False
        else:
            value, errors = field.validate(raw, own, loc=p.loc)
            if errors:
                return False
        own[p.name] = value
    values[id(node)] = own
    return True


async def _run(
    node: _Call, request: Request, values: dict[int, dict[str, Any]], cache: dict[Any, Any]
) -> Any:
    kwargs = dict(values[id(node)])
    for name, sub in node.subs:
        if sub.cache and sub.call in cache:
            solved = cache[sub.call]
        else:
            solved = await _run(sub, request, values, cache)
            cache.setdefault(sub.call, solved)
        if name is not None:
            kwargs[name] = solved
    if node.request_name is not None:
        kwargs[node.request_name] = request
    return await node.call(**kwargs)


def lean_handler(route: APIRoute) -> LeanHandler | None:
    """The shorter path for `route`, or None when it must keep FastAPI's (see the module)."""
    if field_annotation_is_sequence is None:
        return None
    if set(route.methods or ()) != {"GET"} or route.body_field is not None:
        return None
    if route.response_field is None or not hasattr(route.response_field, "serialize_json"):
        return None
    if not isinstance(route.response_class, DefaultPlaceholder):
        return None
    if route.status_code is not None and (
        route.status_code in (204, 304) or route.status_code < 200
    ):
        return None  # FastAPI answers those without a body
    root = _compile(route.dependant)
    return None if root is None else _Lean(root, route, route.response_field)
