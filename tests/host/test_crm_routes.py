"""The host's own CRM routes, /api/crm/..., served by whichever plugin provides `crm`: the
in-memory example plugin here (HubSpot's side: tests/contract/test_provider_swap.py). Built with
the host's test kit, as a plugin author's tests would be."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from atom_host_stub.contract import Principal
from tests.host.conftest import plugin_modules


@pytest.fixture
def atom_plugins(memory_crm_example: Path) -> list[str]:
    return ["memory"]


@pytest.fixture
def atom_env(atom_env: dict[str, str]) -> dict[str, str]:
    return {**atom_env, "ATOM_CRM_PROVIDER": "memory"}


async def test_records_round_trip_in_the_envelope_naming_the_provider(
    atom_client: httpx.AsyncClient, atom_auth_headers: dict[str, str]
) -> None:
    created = await atom_client.post(
        "/api/crm/contacts",
        json={"email": "ada@example.com", "first_name": "Ada"},
        headers=atom_auth_headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["ok"], body["meta"]) == (True, {"provider": "memory"})
    contact = body["data"]
    assert contact["email"] == "ada@example.com" and "raw" not in contact
    path = f"/api/crm/contacts/{contact['id']}"
    read = (await atom_client.get(path, headers=atom_auth_headers)).json()
    # A read says where it came from: the in-memory CRM is its own source, read live.
    assert read["meta"]["provider"] == "memory" and read["meta"]["source"] == "live"
    assert read["meta"]["as_of"] and "origin" not in read["data"]
    listed = (await atom_client.get("/api/crm/contacts", headers=atom_auth_headers)).json()
    assert listed["meta"]["source"] == "live" and listed["data"]["total"] == 1
    updated = await atom_client.patch(
        path, json={"last_name": "Lovelace"}, headers=atom_auth_headers
    )
    assert (updated.json()["data"]["first_name"], updated.json()["data"]["last_name"]) == (
        "Ada",
        "Lovelace",
    )
    assert (await atom_client.get(path, headers=atom_auth_headers)).json()["data"] == (
        updated.json()["data"]
    )
    deleted = await atom_client.delete(path, headers=atom_auth_headers)
    assert deleted.json()["data"] == {"id": contact["id"], "archived": True}
    gone = await atom_client.get(path, headers=atom_auth_headers)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


async def test_lists_page_with_after_and_search_filters(
    atom_client: httpx.AsyncClient, atom_auth_headers: dict[str, str]
) -> None:
    for n in range(3):
        await atom_client.post(
            "/api/crm/companies",
            json={"name": f"Acme {n}", "domain": f"acme{n}.example"},
            headers=atom_auth_headers,
        )
    seen: list[str] = []
    after = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 2, **({"after": after} if after else {})}
        page = (
            await atom_client.get("/api/crm/companies", params=params, headers=atom_auth_headers)
        ).json()["data"]
        assert set(page) == {"results", "next_after", "total"}
        seen += [c["name"] for c in page["results"]]
        after = page["next_after"]
        if after is None:
            break
    assert seen == ["Acme 0", "Acme 1", "Acme 2"]
    found = await atom_client.post(
        "/api/crm/companies/search",
        json={"filters": [{"field": "domain", "op": "eq", "value": "acme1.example"}]},
        headers=atom_auth_headers,
    )
    assert [c["name"] for c in found.json()["data"]["results"]] == ["Acme 1"]
    pipelines = (await atom_client.get("/api/crm/pipelines", headers=atom_auth_headers)).json()
    assert pipelines["data"][0]["stages"] and pipelines["meta"] == {"provider": "memory"}


async def test_errors_answer_in_the_envelope_with_stable_codes(
    atom_client: httpx.AsyncClient, atom_auth_headers: dict[str, str]
) -> None:
    async def error(method: str, path: str, **kw: Any) -> tuple[int, str]:
        answer = await atom_client.request(method, path, headers=atom_auth_headers, **kw)
        assert answer.json()["ok"] is False
        return answer.status_code, answer.json()["error"]["code"]

    await atom_client.post(
        "/api/crm/contacts", json={"email": "dup@example.com"}, headers=atom_auth_headers
    )
    assert await error("POST", "/api/crm/contacts", json={"email": "dup@example.com"}) == (
        409,
        "conflict",
    )
    assert await error("POST", "/api/crm/contacts", json={"emial": "x"}) == (422, "invalid_input")
    assert await error("POST", "/api/crm/contacts", content=b"{not json") == (422, "invalid_input")
    assert await error("GET", "/api/crm/deals", params={"limit": 1000}) == (422, "invalid_input")
    assert await error("GET", "/api/crm/deals/9999") == (404, "not_found")
    assert await error(
        "POST", "/api/crm/contacts", json={"email": "c@example.com", "custom_fields": {"x": "1"}}
    ) == (422, "validation_error")
    assert await error(
        "POST", "/api/crm/deals/search", json={"filters": [{"field": "nope", "op": "eq"}]}
    ) == (422, "validation_error")
    anonymous = await atom_client.get("/api/crm/contacts")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"


async def test_each_tenant_reads_only_its_own_records(
    atom_client: httpx.AsyncClient,
    atom_headers_for: Any,
    atom_principal: Principal,
    atom_other_principal: Principal,
) -> None:
    mine = await atom_client.post(
        "/api/crm/contacts",
        json={"email": "mine@example.com"},
        headers=atom_headers_for(atom_principal),
    )
    theirs = atom_headers_for(atom_other_principal)
    record_id = mine.json()["data"]["id"]
    assert (
        await atom_client.get(f"/api/crm/contacts/{record_id}", headers=theirs)
    ).status_code == 404
    assert (await atom_client.get("/api/crm/contacts", headers=theirs)).json()["data"][
        "results"
    ] == []


async def test_the_openapi_types_the_routes_by_the_contract(atom_client: httpx.AsyncClient) -> None:
    spec = (await atom_client.get("/openapi.json")).json()
    paths = {p for p in spec["paths"] if p.startswith("/api/crm/")}
    assert paths == {
        *(
            f"/api/crm/{kind}{tail}"
            for kind in ("contacts", "companies", "deals")
            for tail in ("", "/search", "/{record_id}")
        ),
        "/api/crm/pipelines",
    }
    schemas = spec["components"]["schemas"]
    ok = spec["paths"]["/api/crm/contacts"]["get"]["responses"]["200"]["content"]
    assert ok["application/json"]["schema"]["$ref"].endswith("Envelope_RecordList_ContactRecord__")
    contact = schemas["ContactRecord"]["properties"]
    assert {"id", "email", "first_name", "custom_fields", "created_at"} <= set(contact)
    assert "raw" not in contact
    assert "/Money" in schemas["DealRecord"]["properties"]["amount"]["anyOf"][0]["$ref"]
    created = spec["paths"]["/api/crm/deals"]["post"]
    assert created["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/DealFields"
    )
    assert set(created["responses"]) >= {"201", "401", "404", "409", "422", "503"}


async def test_the_dashboard_and_report_show_the_active_provider(
    atom_client: httpx.AsyncClient,
) -> None:
    report = (await atom_client.get("/api/integrations")).json()
    (crm,) = [p for p in report["host"]["providers"] if p["capability"] == "crm"]
    assert (crm["provider"], crm["route"], crm["reason"]) == ("memory", "/api/crm", "")
    page = (await atom_client.get("/")).text
    assert '<tr data-capability="crm">' in page
    assert '<span class="pill ok">active</span> <code>memory</code>' in page


# --------------------------------------------------------------------------- no or two providers


PLUGINS = {
    "good": {"ATOM_DISABLE_PLUGIN_AUTOLOAD": "1", "ATOM_EXTRA_PLUGINS": plugin_modules("good")},
    "memory,second_crm": {
        "ATOM_PLUGINS": "memory",
        "ATOM_EXTRA_PLUGINS": plugin_modules("second_crm"),
    },
}


@pytest.mark.parametrize(
    ("plugins", "provider", "reason", "check"),
    [
        (
            "good",
            "",
            "no running plugin provides 'crm'",
            ("warning", "no loaded plugin declares the capability 'crm'; /api/crm answers 503"),
        ),
        (
            "memory,second_crm",
            "",
            "capability 'crm' is provided by both 'memory' and 'second_crm'; set "
            "ATOM_CRM_PROVIDER to choose one",
            (
                "error",
                "capability 'crm' is provided by both 'memory' and 'second_crm'; "
                "/api/crm answers 503",
            ),
        ),
        (
            "good",
            "nobody",
            "ATOM_CRM_PROVIDER=nobody but that plugin does not provide 'crm'",
            (
                "error",
                "ATOM_CRM_PROVIDER=nobody but no loaded plugin of that name provides 'crm'; "
                "/api/crm answers 503",
            ),
        ),
    ],
)
class TestWithoutOneProvider:
    @pytest.fixture
    def atom_env(
        self, atom_env: dict[str, str], plugins: str, provider: str, memory_crm_example: Path
    ) -> dict[str, str]:
        env = {key: value for key, value in atom_env.items() if key != "ATOM_CRM_PROVIDER"}
        env |= PLUGINS[plugins]
        env["GOOD_TOKEN"] = "a-good-token"  # noqa: S105 - the test plugin's required setting
        return env | ({"ATOM_CRM_PROVIDER": provider} if provider else {})

    async def test_the_routes_answer_503_with_the_reason_and_check_config_names_it(
        self,
        atom_client: httpx.AsyncClient,
        atom_auth_headers: dict[str, str],
        reason: str,
        check: tuple[str, str],
    ) -> None:
        answer = await atom_client.get("/api/crm/contacts", headers=atom_auth_headers)
        assert answer.status_code == 503
        error = answer.json()["error"]
        assert error["code"] == "service_unavailable" and error["message"].startswith(reason)
        report = (await atom_client.get("/api/integrations")).json()
        (crm,) = [p for p in report["host"]["providers"] if p["capability"] == "crm"]
        assert crm["provider"] is None and crm["reason"].startswith(reason)
        issues = [
            (i["severity"], i["message"])
            for i in report["host"]["issues"]
            if i["key"] == "ATOM_CRM_PROVIDER"
        ]
        assert issues == [check]
        assert (
            '<td><span class="pill down">none</span></td><td>' in (await atom_client.get("/")).text
        )


class TestChoosingAmongProviders:
    @pytest.fixture
    def atom_env(self, atom_env: dict[str, str], memory_crm_example: Path) -> dict[str, str]:
        return atom_env | PLUGINS["memory,second_crm"] | {"ATOM_CRM_PROVIDER": "second_crm"}

    async def test_the_chosen_one_answers(
        self, atom_client: httpx.AsyncClient, atom_auth_headers: dict[str, str]
    ) -> None:
        answer = await atom_client.get("/api/crm/contacts", headers=atom_auth_headers)
        assert answer.status_code == 200 and answer.json()["meta"]["provider"] == "second_crm"
        report = (await atom_client.get("/api/integrations")).json()
        (crm,) = [p for p in report["host"]["providers"] if p["capability"] == "crm"]
        assert (crm["provider"], crm["candidates"]) == ("second_crm", ["memory", "second_crm"])
        assert not [i for i in report["host"]["issues"] if i["key"] == "ATOM_CRM_PROVIDER"]
