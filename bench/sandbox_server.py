"""The offline sandbox as a standalone HTTP server for benchmarks, plus two bench-only reads.

    python -m bench.sandbox_server --port 8765 [--rate-limit 110|none] [--window 10]
                                   [--contacts 100000]

Accepts the private-app token BENCH_TOKEN for the demo portal, serves both path styles (the
SDK uses the legacy v3 ones), and answers `GET /_bench/contacts?prefix=…` with the sandbox's
own view of stored contacts (count, distinct emails, duplicates) so a benchmark can check that
nothing was lost or duplicated without spending the rate budget it measures.
`--contacts N` puts N contacts into the demo portal before listening (written straight into
the sandbox's state, not through its API, so seeding 100k takes seconds).
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from atom_hubspot.sandbox import DEMO_PORTAL_ID, SandboxConfig, create_sandbox_app

BENCH_TOKEN = "pat-na1-bench-0000-0000-0000-000000000000"  # noqa: S105 - sandbox-only token
PORTAL_ID = DEMO_PORTAL_ID


def calls(admin: httpx.Client) -> dict[str, int]:
    """Counters from the sandbox: total API calls and 429s answered (all policies)."""
    body = admin.get("/_sandbox/calls", params={"log": 0}).json()
    return {
        "total": int(body.get("total", 0)),
        "rate_limited": sum(int(v) for v in (body.get("rate_limited") or {}).values()),
    }


def check_contacts(admin: httpx.Client, prefix: str, expected: int) -> dict[str, int]:
    got = admin.get("/_bench/contacts", params={"prefix": prefix}).json()
    return {
        "stored": got["records"],
        "lost": max(0, expected - got["distinct_emails"]),
        "duplicated": got["duplicates"],
    }


def populate(app: Any, n: int) -> None:
    from atom_hubspot.sandbox.objects import CONTACTS, iso_ms
    from atom_hubspot.sandbox.state import Record

    sb = app.state.sandbox
    portal = sb.portals[PORTAL_ID]
    now = sb.now()
    stamp = iso_ms(now)
    table = portal.records["contacts"]
    for i in range(n):
        rid = portal.next_id
        portal.next_id += 1
        table[rid] = Record(
            rid,
            {
                "email": f"seed{i:07d}@bench.example",
                "firstname": f"First{i}",
                "lastname": f"Last{i}",
                "lifecyclestage": "lead",
                "createdate": stamp,
                "lastmodifieddate": stamp,
                "hs_object_id": str(rid),
            },
            now,
            now,
        )
        note = getattr(type(portal), "_bench_note", None)
        if note is not None:
            note(portal, CONTACTS, table[rid])


def install_unique_index() -> Callable[[], None]:
    """Bench-only: index the sandbox's unique-property lookups (contact email, company
    domain). The sandbox finds them by scanning every record, which at 20k-100k contacts makes
    the sandbox itself the bottleneck of a bulk benchmark; HubSpot's lookups are indexed.
    Every record the sandbox creates or updates is indexed, so a miss means "not there"; a hit
    is re-checked against the record (archived or changed since means "not there")."""
    from atom_hubspot.sandbox.state import Portal

    scan, create, update = Portal.find_by, Portal.create, Portal.update
    index: dict[tuple[int, str, str], int] = {}

    def note(portal: Any, otype: Any, rec: Any) -> None:
        prop = otype.unique_prop
        if prop and rec.properties.get(prop):
            index[(id(portal), otype.name, rec.properties[prop].strip().lower())] = rec.id

    def find_by(self: Any, otype: Any, prop: str, value: str) -> Any:
        if prop != otype.unique_prop:
            return scan(self, otype, prop, value)
        v = value.strip().lower()
        rid = index.get((id(self), otype.name, v))
        rec = self.records[otype.name].get(rid) if rid is not None else None
        if rec is None or rec.archived or (rec.properties.get(prop) or "").lower() != v or not v:
            return None
        return rec

    def create_(self: Any, otype: Any, *args: Any, **kw: Any) -> Any:
        rec = create(self, otype, *args, **kw)
        note(self, otype, rec)
        return rec

    def update_(self: Any, otype: Any, rec: Any, *args: Any, **kw: Any) -> Any:
        out = update(self, otype, rec, *args, **kw)
        note(self, otype, rec)
        return out

    Portal.find_by, Portal.create, Portal.update = find_by, create_, update_  # type: ignore[method-assign]
    Portal._bench_note = staticmethod(note)  # type: ignore[attr-defined]

    def undo() -> None:
        Portal.find_by, Portal.create, Portal.update = scan, create, update  # type: ignore[method-assign]
        del Portal._bench_note  # type: ignore[attr-defined]

    return undo


def install_fast_list() -> Callable[[], None]:
    """Bench-only: page `GET …/objects/{type}` with a bisect over ids instead of the sandbox's
    filter-and-sort of every record per page (quadratic over 100k records). Same answer:
    records with id >= after in id order, `limit` of them, `paging.next.after` = last id + 1."""
    import bisect

    from atom_hubspot.sandbox import api_crm

    route = next(r for r in api_crm.routes.routes if r.name == "crm.objects.list")
    slow = route.handler
    cache: dict[tuple[int, str, int, int], list[int]] = {}

    async def list_objects(call: Any) -> Any:
        otype = api_crm.object_type(call, "read")
        portal = call.require_portal()
        if call.query.get("archived", "false").lower() == "true":
            return await slow(call)
        limit = call.int_query("limit", 10, low=1, high=api_crm.LIST_MAX)
        after = call.int_query("after", 0)
        table = portal.records[otype.name]
        key = (id(portal), otype.name, len(table), portal.next_id)
        ids = cache.get(key)
        if ids is None:
            cache.clear()
            ids = cache[key] = sorted(table)
        start = bisect.bisect_left(ids, after)
        page = []
        i = start
        while i < len(ids) and len(page) <= limit:
            r = table[ids[i]]
            if not r.archived:
                page.append(r)
            i += 1
        more = len(page) > limit
        page = page[:limit]
        body: dict[str, Any] = {
            "results": [
                api_crm.record_json(
                    portal, otype, r, api_crm.props_param(call), call.list_query("associations")
                )
                for r in page
            ]
        }
        if more:
            nxt = str(page[-1].id + 1)
            body["paging"] = {"next": {"after": nxt, "link": call.next_link(nxt)}}
        return api_crm.json_response(body)

    route.handler = list_objects

    def undo() -> None:
        route.handler = slow

    return undo


@contextlib.contextmanager
def speedups() -> Iterator[None]:
    """The bench-only speed-ups, for the life of a benchmark sandbox process (or a test)."""
    undo = [install_unique_index(), install_fast_list()]
    try:
        yield
    finally:
        for u in reversed(undo):
            u()


def build(rate_limit: int | None, window_s: float, contacts: int) -> Any:
    """The benchmark sandbox app (call inside `speedups()` for the bench-only speed-ups)."""
    app = create_sandbox_app(
        SandboxConfig(
            seed=False,
            requests_per_10s=rate_limit,
            window_s=window_s,
            search_per_s=None,
            private_app_tokens={BENCH_TOKEN: PORTAL_ID},
            fault_style="wire",
        )
    )
    if contacts:
        populate(app, contacts)

    async def bench_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/_bench/contacts":
            from urllib.parse import parse_qs

            q = parse_qs(scope.get("query_string", b"").decode())
            prefix = (q.get("prefix") or [""])[0]
            emails = Counter(
                (r.properties.get("email") or "").lower()
                for r in app.state.sandbox.portals[PORTAL_ID].records["contacts"].values()
                if not r.archived and (r.properties.get("email") or "").startswith(prefix)
            )
            body = json.dumps(
                {
                    "records": sum(emails.values()),
                    "distinct_emails": len(emails),
                    "duplicates": sum(c - 1 for c in emails.values()),
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    bench_app.state = app.state  # type: ignore[attr-defined]
    return bench_app


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--rate-limit", default="110")
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--contacts", type=int, default=0)
    a = ap.parse_args(argv)
    limit = None if a.rate_limit == "none" else int(a.rate_limit)
    with speedups():
        app = build(limit, a.window, a.contacts)
        uvicorn.run(
            app,
            host="127.0.0.1",
            port=a.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
