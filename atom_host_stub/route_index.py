"""Route matching by path prefix: a request is matched only against the routes it can reach.

Starlette matches a request by trying every route in order, and FastAPI (0.16x) keeps each
included router as one entry that tries every route it holds, twice (once to find the router,
once to pick the route). With the host's ninety-odd routes that linear walk was a fifth of the
CPU of a cheap request. `RouteIndex` sits where the app's router starts matching and hands the
router a view holding only the routes whose literal path start (the text before the first
`{param}`, cut to the first `DEPTH` segments) the request's path begins with, kept in their
order. Any route that could match the path is in that view, so the first full (or partial:
405) match is the one the whole list would give; when the view matches nothing, the whole
router runs as before (trailing-slash redirects, the 404), so misses answer exactly as without
the index. Views are kept per first `DEPTH` path segments, at most `MAX_VIEWS` of them (least
recently used dropped), so arbitrary paths cannot grow memory.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any

import fastapi.routing
from starlette.routing import Router
from starlette.types import ASGIApp, Receive, Scope, Send

DEPTH = 3  # path segments a view is keyed by: /api/hubspot/contacts
MAX_VIEWS = 512

# FastAPI 0.16x keeps an included router as one route; older versions copy its routes in.
IncludedRouter: Any = getattr(fastapi.routing, "_IncludedRouter", None)


def literal_start(route_path: str) -> str:
    """What every path the route matches begins with: the text before its first parameter,
    cut after `DEPTH` segments."""
    return "/".join(route_path.split("{", 1)[0].split("/")[: DEPTH + 1])


def view_key(path: str) -> tuple[str, ...]:
    """The first `DEPTH` segments of a path: every path with the same key reaches the same
    routes (each literal start spans at most `DEPTH` segments)."""
    return tuple(path.split("/", DEPTH + 1)[1 : DEPTH + 1])


class RouteIndex:
    """An ASGI app standing in for `router`'s matching (set as the router's middleware stack)."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.whole: ASGIApp = router.app
        self._views: OrderedDict[tuple[str, ...], ASGIApp] = OrderedDict()
        self._routes_seen = -1

    def invalidate(self) -> None:
        """Forget every view (routes were added or removed)."""
        self._views.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope.get("root_path") or not path.startswith("/"):
            await self.whole(scope, receive, send)
            return
        if len(self.router.routes) != self._routes_seen:
            self.invalidate()
            self._routes_seen = len(self.router.routes)
        key = view_key(path)
        app = self._views.get(key)
        if app is None:
            app = self._view(path)
            if len(self._views) >= MAX_VIEWS:
                self._views.popitem(last=False)
            self._views[key] = app
        else:
            self._views.move_to_end(key)
        # Whatever runs below sees the whole router (url_for, the docs), not the view.
        scope.setdefault("router", self.router)
        await app(scope, receive, send)

    def _view(self, path: str) -> ASGIApp:
        """The router's routes that `path` can reach, as a router falling back to the whole one
        when none of them matches; the whole router where routes cannot be told apart."""
        routes: list[Any] = []
        for route in self.router.routes:
            if IncludedRouter is not None and isinstance(route, IncludedRouter):
                included = self._included_part(route, path)
                if included is _UNKNOWN:
                    return self.whole
                if included is not None:
                    routes.append(included)
                continue
            route_path = getattr(route, "path", None)
            if not isinstance(route_path, str) or path.startswith(literal_start(route_path)):
                routes.append(route)
        view = copy.copy(self.router)
        view.routes = routes
        view.redirect_slashes = False  # a miss goes to the whole router, which redirects
        view.default = self.whole
        if hasattr(view, "_low_priority_routes"):
            if view._low_priority_routes:
                return self.whole  # FastAPI's frontend routes match after all the others
            view._low_priority_routes = []
        return view.app

    @staticmethod
    def _included_part(route: Any, path: str) -> Any:
        """The part of an included router `path` can reach: the router itself, a copy holding
        only those routes, None for none of them, or _UNKNOWN when its routes' paths cannot be
        read (nested inclusions, frontend routes)."""
        if route.effective_low_priority_routes():
            return _UNKNOWN
        contexts = route.effective_candidates()
        reachable: list[Any] = []
        for context in contexts:
            if isinstance(context, IncludedRouter):
                return _UNKNOWN
            starlette_route = context.starlette_route
            route_path = starlette_route.path if starlette_route is not None else context.path
            if not isinstance(route_path, str) or not route_path:
                return _UNKNOWN
            if path.startswith(literal_start(route_path)):
                reachable.append(context.original_route)
        if not reachable:
            return None
        if len(reachable) == len(contexts):
            return route
        original = copy.copy(route.original_router)
        original.routes = reachable
        return IncludedRouter(original_router=original, include_context=route.include_context)


_UNKNOWN: Any = object()
