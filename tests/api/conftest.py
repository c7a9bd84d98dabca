"""Fixtures for the route tests: a bare FastAPI app over the fake client (fast, inspectable)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Header, HTTPException

from atom_host_stub.contract import HostContext, Principal
from atom_hubspot.api import crm_routes, health_routes
from tests.api.fakes import FakeClient, FakeConnections, FakeRuntime


def _principal(authorization: str = Header(default="")) -> Principal:
    # Stands in for the host's API-key dependency: "Bearer <user>" -> tenant t-<user>.
    user = authorization.removeprefix("Bearer ").strip()
    if not user:
        raise HTTPException(status_code=401, detail="missing API key")
    return Principal(tenant_id=f"t-{user}", user_id=user)


@pytest.fixture
def fake_clients() -> dict[str, FakeClient]:
    return {"alice": FakeClient(portal_id=111), "bob": FakeClient(portal_id=222)}


@pytest.fixture
def fake_context(fake_clients: dict[str, FakeClient], tmp_path: Path) -> HostContext:
    ctx = HostContext(env={}, data_dir=tmp_path, database_url="sqlite://",
                      principal_dependency=_principal)
    ctx.state["hubspot"] = FakeRuntime(connections=FakeConnections(by_user=fake_clients))
    return ctx


@pytest.fixture
def fake_app(fake_context: HostContext) -> FastAPI:
    app = FastAPI()
    app.include_router(crm_routes.build_router(fake_context), prefix="/api/hubspot")
    app.include_router(health_routes.build_router(fake_context), prefix="/api/hubspot")
    return app


@pytest.fixture
async def fake_http(fake_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fake_app), base_url="http://test",
        headers={"Authorization": "Bearer alice"},
    ) as c:
        yield c
