"""The sandbox's route table: each HubSpot endpoint under its legacy and date-versioned paths."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import QueryParams
from starlette.responses import JSONResponse, Response

from atom_hubspot.releases import FAMILIES
from atom_hubspot.sandbox.errors import ApiError, not_found, validation

if TYPE_CHECKING:
    from atom_hubspot.sandbox.core import Sandbox
    from atom_hubspot.sandbox.state import Portal
    from atom_hubspot.sandbox.tokens import TokenGrant

Kind = Literal["api", "oauth", "page", "admin"]


@dataclass
class Call:
    """One request as handlers see it."""

    sandbox: Sandbox
    router: Router
    method: str
    path: str
    params: dict[str, str]
    query: QueryParams
    body: bytes
    headers: dict[str, str]
    root_path: str
    version: str  # "legacy" or the date version
    correlation_id: str
    portal: Portal | None = None
    grant: TokenGrant | None = None
    response_headers: dict[str, str] = field(default_factory=dict)

    @property
    def now(self) -> float:
        return self.sandbox.now()

    def next_link(self, after: str) -> str:
        """The absolute URL of the next page, as HubSpot's `paging.next.link` has it: this
        request's URL with `after` replaced."""
        scheme = self.headers.get("x-forwarded-proto") or "http"
        host = self.headers.get("host") or "localhost"
        query = [(k, v) for k, v in self.query.multi_items() if k != "after"] + [("after", after)]
        return f"{scheme}://{host}{self.root_path}{self.path}?{urlencode(query)}"

    def require_portal(self) -> Portal:
        assert self.portal is not None
        return self.portal

    def json(self, *, default: Any = None) -> Any:
        if not self.body.strip():
            return default
        try:
            return json.loads(self.body)
        except ValueError:
            raise validation(
                "Invalid input JSON on line 1: unable to parse the request body"
            ) from None

    def json_object(self) -> dict[str, Any]:
        data = self.json(default={})
        if not isinstance(data, dict):
            raise validation("Invalid input JSON: expected an object")
        return data

    def form(self) -> dict[str, str]:
        ctype = self.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" not in ctype:
            return {}
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def int_query(self, name: str, default: int, *, low: int = 0, high: int | None = None) -> int:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            v = int(raw)
        except ValueError:
            raise validation(
                f"{name} must be an integer", [{"message": "not an integer", "in": name}]
            ) from None
        if v < low or (high is not None and v > high):
            raise validation(
                f"{name} must be between {low} and {high}",
                [{"message": f"must be between {low} and {high}", "in": name}],
            )
        return v

    def list_query(self, name: str) -> list[str]:
        out: list[str] = []
        for v in self.query.getlist(name):
            out += [p.strip() for p in v.split(",") if p.strip()]
        return out


Handler = Callable[[Call], Awaitable[Response]]


def json_response(body: Any, status: int = 200) -> Response:
    return JSONResponse(body, status_code=status)


def no_content() -> Response:
    return Response(status_code=204)


@dataclass
class Route:
    method: str
    name: str
    patterns: list[re.Pattern[str]]
    handler: Handler
    kind: Kind
    scopes: tuple[str, ...] = ()  # any one of them suffices
    search: bool = False
    tier: str | None = None  # campaigns, single_send, transactional, publish, flows, sequences
    templates: tuple[str, ...] = ()
    # The API family (atom_hubspot.releases) whose date releases the `{date}` paths answer to.
    family: str | None = None


def _compile(template: str) -> re.Pattern[str]:
    out = ""
    for part in re.split(r"(\{[a-z_]+\})", template):
        if part == "{date}":
            out += r"(?P<_version>\d{4}-\d{2})"
        elif part.startswith("{"):
            out += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            out += re.escape(part)
    return re.compile(f"^{out}/?$")


class Router:
    """A table of routes, matched in order. Each endpoint module fills its own table; the
    sandbox app joins the tables it serves (`Router.joined`), so nothing registers itself."""

    def __init__(self, routes: list[Route] | None = None) -> None:
        self.routes: list[Route] = list(routes or [])

    @classmethod
    def joined(cls, *tables: Router) -> Router:
        return cls([route for table in tables for route in table.routes])

    def add(
        self,
        method: str,
        name: str,
        *paths: str,
        kind: Kind = "api",
        scopes: tuple[str, ...] = (),
        search: bool = False,
        tier: str | None = None,
        family: str | None = None,
    ) -> Callable[[Handler], Handler]:
        if any("{date}" in p for p in paths) and family not in FAMILIES:
            raise ValueError(f"{name}: a date-versioned route needs its API family")

        def deco(fn: Handler) -> Handler:
            self.routes.append(
                Route(
                    method,
                    name,
                    [_compile(p) for p in paths],
                    fn,
                    kind,
                    scopes,
                    search,
                    tier,
                    paths,
                    family,
                )
            )
            return fn

        return deco

    def match(
        self, method: str, path: str, versions: list[str]
    ) -> tuple[Route, dict[str, str], str]:
        """The route for `method path`. A date-versioned path matches only a release HubSpot
        has published for the route's family (and the sandbox serves): any other version is
        a 404, as at HubSpot (`/crm/objects/2026-06/contacts`, single-send as 2026-09)."""
        allowed = False
        for route in self.routes:
            for pattern in route.patterns:
                m = pattern.match(path)
                if not m:
                    continue
                params = m.groupdict()
                version = params.pop("_version", None) or "legacy"
                if version != "legacy" and (
                    version not in versions
                    or route.family is None
                    or version not in FAMILIES[route.family].releases
                ):
                    continue
                if route.method != method:
                    allowed = True
                    continue
                return route, params, version
        if allowed:
            raise ApiError(
                405, f"HTTP method {method} is not supported by this resource", "METHOD_NOT_ALLOWED"
            )
        raise not_found(f"Unable to route {method} {path}: no such resource")


def require_scopes(call: Call, *any_of: str) -> None:
    """403 MISSING_SCOPES unless the token carries one of `any_of` (HubSpot's answer shape)."""
    grant = call.grant
    if grant is None or any(s in grant.scopes for s in any_of):
        return
    raise ApiError(
        403,
        "This app hasn't been granted all required scopes to make this call. "
        "Read more about required scopes here: https://developers.hubspot.com/scopes.",
        "MISSING_SCOPES",
        errors=[
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": list(any_of)},
            }
        ],
    )
