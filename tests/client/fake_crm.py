"""A small stateful fake of HubSpot's contacts API: paging, search with the 10k cap, batch,
and a strict rolling-window rate limit on a virtual clock."""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx

SEARCH_CAP = 10_000


class FakeCRM:
    def __init__(
        self,
        n: int = 0,
        *,
        clock: Callable[[], float] | None = None,
        limit_per_10s: int | None = None,
        search_per_s: int | None = None,
        send_headers: bool = True,
    ) -> None:
        self.records: dict[int, dict[str, str]] = {}
        self.by_email: dict[str, int] = {}
        self.next_id = 1
        for i in range(n):
            self._create({"email": f"c{i}@example.com", "n": str(i)})
        self.clock = clock
        self.limit = limit_per_10s
        self.search_limit = search_per_s
        self.send_headers = send_headers
        self.hits: deque[float] = deque()
        self.search_hits: deque[float] = deque()
        self.rejected = 0
        self.calls: list[tuple[str, str, Any]] = []
        self._cache: dict[str, list[int]] = {}
        self.fail_chunk: Callable[[list[Any]], httpx.Response | None] | None = None

    def _create(self, props: dict[str, str]) -> int:
        rid = self.next_id
        self.next_id += 1
        self.records[rid] = {**props, "hs_object_id": str(rid)}
        if "email" in props:
            self.by_email[props["email"]] = rid
        return rid

    def obj(self, rid: int, props: list[str] | None = None) -> dict[str, Any]:
        rec = self.records[rid]
        shown = rec if props is None else {k: rec.get(k) for k in props}
        return {
            "id": str(rid),
            "properties": shown,
            "archived": False,
            "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-01T00:00:00Z",
        }

    # ------------------------------------------------------------------ rate limit

    def _limited(self, search: bool) -> httpx.Response | None:
        if self.clock is None:
            return None
        now = self.clock()
        for q, window in ((self.hits, 10.0), (self.search_hits, 1.0)):
            while q and q[0] <= now - window:
                q.popleft()
        if search and self.search_limit is not None:
            if len(self.search_hits) >= self.search_limit:
                self.rejected += 1
                return httpx.Response(
                    429,
                    json={
                        "status": "error",
                        "policyName": "SECONDLY",
                        "errorType": "RATE_LIMIT",
                        "message": "s",
                    },
                )
            self.search_hits.append(now)
        if self.limit is not None:
            if len(self.hits) >= self.limit:
                self.rejected += 1
                return httpx.Response(
                    429,
                    json={
                        "status": "error",
                        "policyName": "TEN_SECONDLY_ROLLING",
                        "errorType": "RATE_LIMIT",
                        "message": "ten",
                    },
                )
            self.hits.append(now)
        return None

    def _headers(self) -> dict[str, str]:
        if not self.send_headers or self.limit is None:
            return {}
        return {
            "X-HubSpot-RateLimit-Max": str(self.limit),
            "X-HubSpot-RateLimit-Remaining": str(self.limit - len(self.hits)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        }

    # ------------------------------------------------------------------ dispatch

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = json.loads(request.content) if request.content else None
        self.calls.append((request.method, path, body))
        m = re.match(r"^/crm/(?:v3/objects|objects/[\d-]+)/contacts(/.*)?$", path)
        if not m:
            return httpx.Response(404, json={"status": "error", "message": "no route"})
        tail = m.group(1) or ""
        search = tail == "/search"
        limited = self._limited(search)
        if limited is not None:
            return limited
        headers = {} if search else self._headers()
        status, payload = self._route(request, tail, body)
        return httpx.Response(status, json=payload, headers=headers)

    def _route(self, request: httpx.Request, tail: str, body: Any) -> tuple[int, Any]:
        q = request.url.params
        if request.method == "GET" and tail == "":
            limit = int(q.get("limit", 10))
            ids = sorted(self.records)
            start = int(q.get("after", 0))
            page = ids[start : start + limit]
            out: dict[str, Any] = {"results": [self.obj(i) for i in page]}
            if start + limit < len(ids):
                out["paging"] = {"next": {"after": str(start + limit)}}
            return 200, out
        if tail == "/search":
            return self._search(body or {})
        if tail.startswith("/batch/"):
            return self._batch(tail.removeprefix("/batch/"), body or {})
        return 404, {"status": "error", "message": "not here"}

    def _matches(self, rec: dict[str, str], f: dict[str, Any]) -> bool:
        v = rec.get(f["propertyName"])
        op = f["operator"]
        if op == "EQ":
            return v == f["value"]
        if op == "GT":
            return v is not None and int(v) > int(f["value"])
        if op == "LT":
            return v is not None and int(v) < int(f["value"])
        if op == "HAS_PROPERTY":
            return v is not None
        raise AssertionError(op)

    def _search(self, body: dict[str, Any]) -> tuple[int, Any]:
        limit = body.get("limit", 10)
        after = int(body.get("after") or 0)
        if after + limit > SEARCH_CAP:
            return 400, {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": "paging past 10,000 results is not allowed",
            }
        groups = body.get("filterGroups") or []
        key = json.dumps([groups, body.get("sorts"), len(self.records), self.next_id])
        cached = self._cache.get(key)
        hits = cached if cached is not None else self._hits(groups, body)
        self._cache = {key: hits}
        page = hits[after : after + limit]
        out: dict[str, Any] = {
            "total": len(hits),
            "results": [self.obj(r, body.get("properties")) for r in page],
        }
        if after + limit < len(hits):
            out["paging"] = {"next": {"after": str(after + limit)}}
        return 200, out

    def _hits(self, groups: list[dict[str, Any]], body: dict[str, Any]) -> list[int]:
        hits = [
            rid
            for rid, rec in self.records.items()
            if not groups or any(all(self._matches(rec, f) for f in g["filters"]) for g in groups)
        ]
        sorts = body.get("sorts") or []
        if sorts:
            key = sorts[0]["propertyName"]
            hits.sort(
                key=lambda r: int(self.records[r].get(key) or 0),
                reverse=sorts[0].get("direction") == "DESCENDING",
            )
        return hits

    def _batch(self, action: str, body: dict[str, Any]) -> tuple[int, Any]:
        inputs = body.get("inputs") or []
        assert len(inputs) <= 100, "HubSpot takes 100 inputs per batch"
        if self.fail_chunk is not None:
            forced = self.fail_chunk(inputs)
            if forced is not None:
                return forced.status_code, json.loads(forced.content)
        results, errors = [], []
        for item in inputs:
            if action == "upsert":
                email = item["id"]
                rid = self.by_email.get(email) or self._create({"email": email})
                self.records[rid].update(item.get("properties") or {})
                results.append(self.obj(rid))
            elif action == "create":
                email = item["properties"].get("email")
                if email in self.by_email:
                    errors.append(
                        {
                            "status": "error",
                            "category": "CONFLICT",
                            "message": f"Contact already exists. Existing ID: "
                            f"{self.by_email[email]}",
                            "context": {"email": [email]},
                        }
                    )
                else:
                    results.append(self.obj(self._create(dict(item["properties"]))))
            elif action == "read":
                rid = int(item["id"])
                if rid in self.records:
                    results.append(self.obj(rid))
                else:
                    errors.append(
                        {
                            "status": "error",
                            "category": "OBJECT_NOT_FOUND",
                            "message": "not found",
                            "context": {"ids": [item["id"]]},
                        }
                    )
        out: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            out.update(errors=errors, numErrors=len(errors))
            return 207, out
        return 200, out
