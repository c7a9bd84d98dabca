"""A small in-memory HubSpot client and runtime for route and service tests.

It records every call, so tests can assert the exact HubSpot request a route built (filters,
associations, properties), which the end-to-end tests against the sandbox cannot see.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from atom_host_stub.contract import Principal
from atom_hubspot.client.models import (
    AccountDetails,
    CrmObject,
    ObjectPage,
    PipelineModel,
    PropertyDefinition,
    StageModel,
)
from atom_hubspot.errors import Conflict, NotConnected, NotFound
from atom_hubspot.runtime import HubSpotRuntime
from atom_hubspot.settings import HubSpotSettings

_ids = itertools.count(101)


def _num(v: Any) -> Decimal | None:
    try:
        return Decimal(str(v))
    except (InvalidOperation, ValueError):
        return None


def _ms(v: str | None) -> Decimal | None:
    if v is None:
        return None
    if v.isdigit():
        return Decimal(v)
    try:
        return Decimal(int(datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp() * 1000))
    except ValueError:
        return None


def _match(props: dict[str, str | None], f: Any) -> bool:
    v = props.get(f.property_name)
    op = f.operator
    if op == "HAS_PROPERTY":
        return v not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return v in (None, "")
    if v is None:
        return op == "NEQ"
    if op == "EQ":
        return v.lower() == (f.value or "").lower()
    if op == "NEQ":
        return v.lower() != (f.value or "").lower()
    if op == "IN":
        return v.lower() in [x.lower() for x in f.values or []]
    if op == "CONTAINS_TOKEN":
        return (f.value or "").strip("*").lower() in v.lower()
    date_like = f.property_name in ("createdate", "closedate", "hs_lastmodifieddate")
    a = _ms(v) if date_like else _num(v)
    b = _ms(f.value) if date_like else _num(f.value)
    if a is None or b is None:
        return False
    return {"LT": a < b, "LTE": a <= b, "GT": a > b, "GTE": a >= b}.get(op, False)


class FakeObjects:
    def __init__(self, client: FakeClient, type_name: str):
        self.client = client
        self.type_name = type_name
        self.records: dict[str, dict[str, Any]] = {}

    def _obj(
        self, rid: str, properties: list[str] | None = None, associations: list[str] | None = None
    ) -> CrmObject:
        r = self.records[rid]
        props = dict(r["properties"])
        if properties:
            props = {k: v for k, v in props.items() if k in properties or k == "hs_object_id"}
        assoc = {}
        for t in associations or []:
            ids = sorted(self.client.links.get((self.type_name, rid, t), set()))
            assoc[t] = {"results": [{"id": i, "type": f"{self.type_name}_to_{t}"} for i in ids]}
        return CrmObject.model_validate(
            {
                "id": rid,
                "properties": props,
                "createdAt": r["created"],
                "updatedAt": r["updated"],
                "archived": False,
                "associations": assoc,
            }
        )

    def add(self, properties: dict[str, str], created: str = "2026-01-10T10:00:00Z") -> str:
        rid = str(next(_ids))
        props = {
            "hs_object_id": rid,
            "createdate": created,
            "hs_lastmodifieddate": created,
            **properties,
        }
        self.records[rid] = {"properties": props, "created": created, "updated": created}
        return rid

    async def list(
        self,
        *,
        limit: int = 10,
        after: str | None = None,
        properties: list[str] | None = None,
        associations: Any = None,
        archived: bool = False,
    ) -> ObjectPage:
        self.client.calls.append(
            ("list", self.type_name, {"limit": limit, "after": after, "properties": properties})
        )
        ids = sorted(self.records, key=int)
        start = int(after or 0)
        chunk = ids[start : start + limit]
        nxt = str(start + limit) if start + limit < len(ids) else None
        return ObjectPage(results=[self._obj(i, properties) for i in chunk], next_after=nxt)

    async def search(self, req: Any) -> ObjectPage:
        body = req.to_json()
        self.client.calls.append(("search", self.type_name, body))
        ids = sorted(self.records, key=int)
        if req.filter_groups:
            ids = [
                i
                for i in ids
                if any(
                    all(_match(self.records[i]["properties"], f) for f in g.filters)
                    for g in req.filter_groups
                )
            ]
        if req.sorts:
            s = req.sorts[0]
            ids.sort(
                key=lambda i: self.records[i]["properties"].get(s.property_name) or "",
                reverse=s.direction == "DESCENDING",
            )
        start = int(req.after or 0)
        chunk = ids[start : start + req.limit]
        nxt = str(start + req.limit) if start + req.limit < len(ids) else None
        return ObjectPage(
            results=[self._obj(i, req.properties) for i in chunk], next_after=nxt, total=len(ids)
        )

    def _need(self, rid: str) -> None:
        if rid not in self.records:
            raise NotFound(
                f"{self.type_name} {rid} not found", status=404, correlation_id="fake-correlation"
            )

    async def get(
        self,
        rid: str,
        *,
        properties: list[str] | None = None,
        id_property: str | None = None,
        associations: Any = None,
    ) -> CrmObject:
        self.client.calls.append(
            (
                "get",
                self.type_name,
                {"id": rid, "properties": properties, "associations": associations},
            )
        )
        self._need(rid)
        return self._obj(rid, properties, associations)

    async def create(
        self, properties: dict[str, str], associations: list[dict[str, Any]] | None = None
    ) -> CrmObject:
        self.client.calls.append(
            ("create", self.type_name, {"properties": properties, "associations": associations})
        )
        if self.type_name == "contacts" and properties.get("email"):
            for rid, r in self.records.items():
                if r["properties"].get("email") == properties["email"]:
                    raise Conflict(
                        f"Contact already exists. Existing ID: {rid}", existing_id=rid, status=409
                    )
        rid = self.add(properties)
        for a in associations or []:
            type_id = a["types"][0]["associationTypeId"]
            to_type = {3: "contacts", 341: "companies", 279: "companies"}[type_id]
            self.client.link(self.type_name, rid, to_type, a["to"]["id"])
        return self._obj(rid)

    async def update(self, rid: str, properties: dict[str, str]) -> CrmObject:
        self.client.calls.append(("update", self.type_name, {"id": rid, "properties": properties}))
        self._need(rid)
        self.records[rid]["properties"].update(properties)
        return self._obj(rid)

    async def archive(self, rid: str) -> None:
        self.client.calls.append(("archive", self.type_name, {"id": rid}))
        self.records.pop(rid, None)


class FakePipelines:
    PIPELINES: ClassVar[list[dict[str, Any]]] = [
        {
            "id": "default",
            "label": "Sales Pipeline",
            "displayOrder": 0,
            "archived": False,
            "stages": [
                {
                    "id": "closedwon",
                    "label": "Closed won",
                    "displayOrder": 5,
                    "metadata": {"probability": "1.0", "isClosed": "true"},
                },
                {
                    "id": "appointmentscheduled",
                    "label": "Appointment scheduled",
                    "displayOrder": 0,
                    "metadata": {"probability": "0.2", "isClosed": "false"},
                },
            ],
        },
    ]

    async def list(self, object_type: str = "deals") -> list[PipelineModel]:
        return [PipelineModel.model_validate(p) for p in self.PIPELINES]

    async def stages(self, pipeline_id: str) -> list[StageModel]:
        for p in await self.list():
            if p.id == pipeline_id:
                return p.stages
        raise NotFound(f"pipeline {pipeline_id} not found", status=404)


class FakeAssociations:
    def __init__(self, client: FakeClient):
        self.client = client

    async def link_default(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        self.client.calls.append(
            ("link", from_type, {"from": from_id, "to_type": to_type, "to": to_id})
        )
        getattr(self.client, to_type)._need(to_id)
        self.client.link(from_type, from_id, to_type, to_id)


class FakeAccount:
    def __init__(self, currency: str | None = "EUR"):
        self.currency = currency
        self.calls = 0

    async def details(self) -> AccountDetails:
        self.calls += 1
        return AccountDetails(portal_id=1, company_currency=self.currency)


class FakeProperties:
    """Property definitions per object type; `error` makes every call fail with it."""

    def __init__(self) -> None:
        self.by_type: dict[str, list[PropertyDefinition]] = {}
        self.error: Exception | None = None
        self.calls: list[str] = []

    def add(self, object_type: str, name: str, *, hubspot_defined: bool | None = False) -> None:
        self.by_type.setdefault(object_type, []).append(
            PropertyDefinition(name=name, type="string", hubspot_defined=hubspot_defined)
        )

    async def list(self, object_type: str) -> list[PropertyDefinition]:
        self.calls.append(object_type)
        if self.error is not None:
            raise self.error
        return list(self.by_type.get(object_type, []))


class FakeClient:
    def __init__(self, portal_id: int = 1, currency: str | None = "EUR"):
        self.portal_id = portal_id
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.links: dict[tuple[str, str, str], set[str]] = {}
        self.contacts = FakeObjects(self, "contacts")
        self.companies = FakeObjects(self, "companies")
        self.deals = FakeObjects(self, "deals")
        self.pipelines = FakePipelines()
        self.associations = FakeAssociations(self)
        self.account = FakeAccount(currency)
        self.properties = FakeProperties()

    def link(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        self.links.setdefault((from_type, from_id, to_type), set()).add(to_id)
        self.links.setdefault((to_type, to_id, from_type), set()).add(from_id)


@dataclass
class FakeConnection:
    portal_id: int
    hub_domain: str | None = "fake.hubspot.com"
    auth_kind: str = "private_app"
    id: str = "c1"


@dataclass
class FakeConnections:
    """principal user id -> (client, connection)."""

    by_user: dict[str, FakeClient] = field(default_factory=dict)

    async def client_for(self, principal: Principal, portal_id: int | None = None) -> Any:
        client = self.by_user.get(principal.user_id)
        if client is None or (portal_id is not None and portal_id != client.portal_id):
            raise NotConnected(
                "No HubSpot connection for this user: connect HubSpot first (POST /auth/hubspot)."
            )
        return client, FakeConnection(portal_id=client.portal_id)


def runtime_over(connections: FakeConnections) -> HubSpotRuntime:
    """The plugin's real runtime (it builds the services) over the fake connections: no HTTP
    client, database or OAuth flow behind it."""
    return HubSpotRuntime(
        settings=HubSpotSettings(_env_file=None),  # type: ignore[call-arg]
        http=None,  # type: ignore[arg-type]
        db=None,  # type: ignore[arg-type]
        connections=connections,  # type: ignore[arg-type]
        oauth=None,  # type: ignore[arg-type]
    )


def now() -> datetime:
    return datetime.now(UTC)
