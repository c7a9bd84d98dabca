"""HubSpot's own Python SDK (`hubspot-api-client`) against the sandbox, validating strictly.

A client nobody here wrote reads every answer of every endpoint the plugin uses, with the SDK's
client-side validation on (`client_side_validation=True`; off by default), so a required field
the sandbox leaves out or a value of the wrong type fails here. The SDK calls the legacy paths;
the same calls run again with their paths moved to each date release (2025-09, 2026-03,
2026-09) where the endpoint's family has that release, so every path the plugin may call is
read by the SDK's models.

Where real HubSpot answers differently from the SDK's models, the sandbox follows HubSpot and
the case is listed in ALLOWED with its source. Endpoints the SDK (12.0.0) has no API for are
listed in NOT_IN_SDK and checked against the required fields of HubSpot's published reference.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hubspot import HubSpot

from atom_hubspot.releases import DATE_RELEASE, RELEASES, effective_version
from atom_hubspot.sandbox import DEMO_PORTAL_ID, SandboxConfig, create_sandbox_app
from atom_hubspot.sandbox.config import DEMO_USER_EMAIL
from atom_hubspot.sandbox.testing import approve, query_of, serve_on_loopback

TOKEN = "pat-na1-conformance"  # noqa: S105 - the sandbox's private-app token for this test
CLIENT_ID, CLIENT_SECRET = "sandbox-client-id", "sandbox-client-secret"
REDIRECT = "http://host.local/auth/hubspot/callback"

# Where real HubSpot and the SDK's models disagree, the sandbox answers as HubSpot does and the
# SDK's validation error is expected: (what the SDK says, case) -> the source.
ALLOWED: dict[tuple[str, str], str] = {
    (
        "Invalid value for `links`, must not be `None`",
        "207 batch errors",
    ): "HubSpot's 207 answers list `errors[]` items of {status, category, message, context} "
    "without `links`, which the SDK's StandardError requires: a real 207 body in "
    "https://github.com/HubSpot/hubspot-api-ruby/issues/403, and "
    "https://developers.hubspot.com/docs/reference/api/other-resources/error-handling"
    "#multi-status-errors",
}

# Endpoints the plugin calls for which hubspot-api-client 12.0.0 has no API: checked against
# the required fields of HubSpot's reference instead.
NOT_IN_SDK: dict[str, tuple[str, set[str]]] = {
    "campaigns.list": (
        "https://developers.hubspot.com/docs/api-reference/latest/marketing/campaigns/get-campaigns",
        {"results", "total"},
    ),
    "campaigns.get": (
        "https://developers.hubspot.com/docs/api-reference/latest/marketing/campaigns/get-campaign",
        {"id", "properties", "createdAt", "updatedAt", "businessUnits", "assets"},
    ),
    "campaigns.create": (
        "https://developers.hubspot.com/docs/api-reference/latest/marketing/campaigns/create-campaign",
        {"id", "properties", "createdAt", "updatedAt", "businessUnits"},
    ),
    "campaigns.metrics": (
        "https://developers.hubspot.com/docs/api-reference/latest/marketing/campaigns/get-campaign-metrics",
        {"sessions", "newContactsFirstTouch", "newContactsLastTouch", "influencedContacts"},
    ),
    "sends.single_send": (
        "https://developers.hubspot.com/docs/api-reference/latest/marketing/single-send/send-email",
        {"status", "statusId", "requestedAt"},
    ),
    "account.details": (
        "https://developers.hubspot.com/docs/api-reference/latest/account/account-info/get-account-details",
        {
            "portalId",
            "accountType",
            "timeZone",
            "companyCurrency",
            "uiDomain",
            "dataHostingLocation",
        },
    ),
    # Workflows: https://developers.hubspot.com/docs/api-reference/legacy/automation/workflows/get-workflows
    "flows.list.result": (
        "https://developers.hubspot.com/docs/api-reference/legacy/automation/workflows/get-workflows",
        {"id", "isEnabled", "flowType", "objectTypeId", "revisionId", "createdAt", "updatedAt"},
    ),
    "flows.batch_read.result": (
        "https://developers.hubspot.com/docs/api-reference/automation-automation-v4-v4/workflows/post-automation-v4-flows-batch-read",
        {"type", "id", "isEnabled", "flowType", "revisionId", "createdAt", "updatedAt"}
        | {"actions", "timeWindows", "blockedDates", "customProperties", "suppressionListIds"}
        | {"canEnrollFromSalesforce", "objectTypeId"},
    ),
    # In HubSpot's published Automation v4 OpenAPI description, outside its reference pages:
    # results[] of {bucket, frequency, series}, all required.
    "flows.performance": (
        "Automation v4 OpenAPI, GET /automation/v4/flows/performance",
        {"results"},
    ),
    "sequences.list": (
        "https://developers.hubspot.com/docs/api-reference/latest/automation/sequences/get-sequences",
        {"results", "total"},
    ),
    "sequences.list.result": (
        "https://developers.hubspot.com/docs/api-reference/latest/automation/sequences/get-sequences",
        {"createdAt", "id", "name", "updatedAt", "userId"},
    ),
    "sequences.get": (
        "https://developers.hubspot.com/docs/api-reference/latest/automation/sequences/get-sequence",
        {"createdAt", "dependencies", "id", "name", "steps", "updatedAt", "userId"},
    ),
    "sequences.enrollment_of_contact": (
        "https://developers.hubspot.com/docs/api-reference/legacy/automation/sequences/get-enrollment",
        {"enrolledAt", "enrolledBy", "enrolledByEmail", "id", "sequenceId", "sequenceName"}
        | {"toEmail", "updatedAt"},
    ),
    "sequences.enroll": (
        "https://developers.hubspot.com/docs/api-reference/latest/automation/sequences/enroll-contact",
        {"enrolledAt", "id", "toEmail", "updatedAt"},
    ),
    "oauth.introspect": (
        "https://developers.hubspot.com/docs/api-reference/latest/authentication/oauth-tokens/token-introspect",
        {"active", "app_id", "client_id", "expires_in", "hub_id", "is_private_distribution"}
        | {"scopes", "signed_access_token", "token", "token_type", "token_use", "user_id"},
    ),
}

# Legacy path prefix the SDK calls -> (API family, date-style prefix).
DATED_PREFIXES = (
    ("/crm/v3/objects/", "crm.objects", "/crm/objects/{v}/"),
    ("/crm/v4/objects/", "crm.object_associations", "/crm/objects/{v}/"),
    ("/crm/v4/associations/", "crm.associations", "/crm/associations/{v}/"),
    ("/crm/v3/pipelines/", "crm.pipelines", "/crm/pipelines/{v}/"),
    ("/crm/v3/properties/", "crm.properties", "/crm/properties/{v}/"),
    ("/crm/v3/lists", "crm.lists", "/crm/lists/{v}"),
    ("/crm/v3/owners", "crm.owners", "/crm/owners/{v}"),
    ("/marketing/v3/emails", "marketing.emails", "/marketing/emails/{v}"),
    (
        "/marketing/v3/transactional/single-email/send",
        "marketing.transactional",
        "/marketing/transactional/{v}/single-email/send",
    ),
    ("/oauth/v1/token", "oauth", "/oauth/{v}/token"),
)


def dated(path: str, release: str) -> str:
    """The SDK's legacy path moved to `release`, where the family has it (else unchanged)."""
    for legacy, family, template in DATED_PREFIXES:
        if path.startswith(legacy):
            version = effective_version(family, release)
            if version is not None and DATE_RELEASE.match(version):
                return template.format(v=version) + path[len(legacy) :]
    return path


class SdkRun:
    """The SDK pointed at the sandbox, its paths moved to one release; records every path."""

    def __init__(self, base: str, release: str) -> None:
        self.base, self.release = base, release
        self.hubspot = HubSpot(access_token=TOKEN, host=base, client_side_validation=True)
        self.paths: list[str] = []
        self.allowed: list[str] = []

    def api(self, api: Any) -> Any:
        client = api.api_client
        assert client.configuration.client_side_validation is True
        assert client.configuration.host == self.base
        if getattr(client, "_conformance", None) is not self:
            original = client.call_api

            def call_api(resource_path: str, *args: Any, **kwargs: Any) -> Any:
                path = resource_path
                if self.release != "legacy":
                    path = dated(resource_path, self.release)
                self.paths.append(path)
                return original(path, *args, **kwargs)

            client.call_api = call_api
            client._conformance = self
        return api

    def expect_allowed(self, case: str, call: Callable[[], Any]) -> None:
        """`call` must fail SDK validation with a message listed in ALLOWED for `case`."""
        with pytest.raises(ValueError) as info:
            call()
        reasons = [msg for (msg, c) in ALLOWED if c == case and msg in str(info.value)]
        assert reasons, f"{case}: not an allowed difference: {info.value}"
        self.allowed.append(case)


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[tuple[str, Any]]:
    app = create_sandbox_app(
        SandboxConfig(
            private_app_tokens={TOKEN: DEMO_PORTAL_ID},
            requests_per_10s=None,
            search_per_s=None,
            search_lag_s=0.0,  # read-after-write below is not what this test checks
            fault_style="wire",
        )
    )
    with serve_on_loopback(app) as base:
        yield base, app.state.sandbox


def _required(name: str, body: Any) -> None:
    source, fields = NOT_IN_SDK[name]
    missing = fields - set(body)
    assert not missing, f"{name} lacks {sorted(missing)} required by {source}"


@pytest.mark.parametrize("release", ["legacy", *RELEASES])
def test_the_sdk_decodes_every_answer_the_plugin_relies_on(
    sandbox_url: tuple[str, Any], release: str
) -> None:
    base, sandbox = sandbox_url
    run = SdkRun(base, release)
    crm = run.hubspot.crm
    objects, batch = run.api(crm.objects.basic_api), run.api(crm.objects.batch_api)
    search = run.api(crm.objects.search_api)
    tag = release.replace("-", "")

    # --- CRM objects: list, get (also by email), create, update, archive, search, batch
    page = objects.get_page("contacts", limit=5, properties=["email"], associations=["companies"])
    assert len(page.results) == 5 and page.paging.next.after
    contact = objects.create(
        "contacts",
        {"properties": {"email": f"sdk-{tag}@example.com", "firstname": "Sdk"}},
    )
    assert contact.id and contact.properties["email"] == f"sdk-{tag}@example.com"
    by_email = objects.get_by_id("contacts", f"sdk-{tag}@example.com", id_property="email")
    assert by_email.id == contact.id
    company = objects.create("companies", {"properties": {"name": f"Sdk {tag}"}})
    deal = objects.create(
        "deals",
        {
            "properties": {"dealname": f"Sdk {tag}", "pipeline": "default", "amount": "10"},
            "associations": [
                {
                    "to": {"id": contact.id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
                }
            ],
        },
    )
    got = objects.get_by_id("deals", deal.id, associations=["contacts"])
    assert got.associations["contacts"].results[0].id == contact.id
    assert objects.update("contacts", contact.id, {"properties": {"lastname": "Kit"}}).id
    found = search.do_search(
        "contacts",
        {
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "email",
                            "operator": "EQ",
                            "value": by_email.properties["email"],
                        }
                    ]
                }
            ],
            "properties": ["email", "lastname"],
            "limit": 10,
        },
    )
    assert [r.id for r in found.results] == [contact.id] and found.total == 1
    assert search.do_search("deals", {}).total >= 1

    read = batch.read("contacts", {"inputs": [{"id": contact.id}], "properties": ["email"]})
    assert read.status == "COMPLETE" and read.results[0].id == contact.id
    made = batch.create(
        "contacts",
        {"inputs": [{"properties": {"email": f"sdk-batch-{tag}@example.com"}}]},
    )
    assert made.results[0].id
    assert batch.update(
        "contacts", {"inputs": [{"id": made.results[0].id, "properties": {"firstname": "B"}}]}
    ).results
    upserted = batch.upsert(
        "contacts",
        {
            "inputs": [
                {
                    "id": f"sdk-up-{tag}@example.com",
                    "idProperty": "email",
                    "properties": {"firstname": "Up"},
                }
            ]
        },
    )
    assert upserted.results[0].id
    # A partial failure: HubSpot's 207 lists the errors next to the successes, without `links`.
    run.expect_allowed(
        "207 batch errors",
        lambda: batch.read(
            "contacts", {"inputs": [{"id": contact.id}, {"id": "999999999"}], "properties": []}
        ),
    )
    batch.archive("contacts", {"inputs": [{"id": made.results[0].id}]})

    # --- associations (v4): default link, read one record's, batch read
    assoc = run.api(crm.associations.v4.basic_api)
    assoc.create_default("deals", deal.id, "companies", company.id)
    linked = assoc.get_page("deals", deal.id, "companies", limit=10)
    assert [str(r.to_object_id) for r in linked.results] == [company.id]
    batch_assoc = run.api(crm.associations.v4.batch_api)
    pairs = batch_assoc.get_page("deals", "contacts", {"inputs": [{"id": deal.id}]})
    assert pairs.results[0]._from.id == deal.id

    # --- pipelines and stages
    pipelines = run.api(crm.pipelines.pipelines_api).get_all("deals")
    assert "default" in [p.id for p in pipelines.results]
    stages = run.api(crm.pipelines.pipeline_stages_api).get_all("deals", "default")
    assert "closedwon" in [s.id for s in stages.results]

    # --- properties: read all (the mirror and custom properties), create a custom one
    core = run.api(crm.properties.core_api)
    props = core.get_all("contacts")
    by_name = {p.name: p for p in props.results}
    assert by_name["hs_object_id"].modification_metadata.read_only_value is True
    created = core.create(
        "contacts",
        {
            "name": f"sdk_{tag}_score",
            "label": "Sdk score",
            "type": "number",
            "fieldType": "number",
            "groupName": "contactinformation",
        },
    )
    assert created.name == f"sdk_{tag}_score"

    # --- lists: create, find, read, members add/remove/page
    lists, members = run.api(crm.lists.lists_api), run.api(crm.lists.memberships_api)
    made_list = lists.create(
        {"name": f"Sdk list {tag}", "objectTypeId": "0-1", "processingType": "MANUAL"}
    )
    list_id = made_list.list.list_id
    assert lists.do_search({"query": f"Sdk list {tag}"}).lists[0].list_id == list_id
    assert lists.get_by_id(list_id).list.name == f"Sdk list {tag}"
    added = members.add(list_id, [contact.id])
    assert added.records_ids_added == [contact.id]
    assert [m.record_id for m in members.get_page(list_id).results] == [contact.id]
    assert members.remove(list_id, [contact.id]).record_ids_removed == [contact.id]

    # --- marketing emails and their statistics
    emails = run.api(run.hubspot.marketing.emails.marketing_emails_api)
    listed = emails.get_page(limit=20, include_stats=True)
    published = next(e for e in listed.results if e.is_published)
    assert emails.get_by_id(published.id).id == published.id
    stats = run.api(run.hubspot.marketing.emails.statistics_api).get_emails_list(
        start_timestamp="2020-01-01T00:00:00Z", end_timestamp="2030-01-01T00:00:00Z"
    )
    assert stats.emails and all(isinstance(i, int) for i in stats.emails)

    # --- transactional single-send
    sent = run.api(run.hubspot.marketing.transactional.single_send_api).send_email(
        {"emailId": int(published.id), "message": {"to": f"sdk-{tag}@example.com"}}
    )
    assert sent.status == "COMPLETE" and sent.status_id

    # --- owners: who a sequence is read and sent as (found by e-mail)
    owners = run.api(run.hubspot.crm.owners.owners_api).get_page(email=DEMO_USER_EMAIL)
    assert [o.user_id for o in owners.results] == [sandbox.portal(DEMO_PORTAL_ID).user_id]

    # --- the endpoints the SDK has no API for, against HubSpot's reference
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}) as h:
        v = release if release != "legacy" else None

        def path(legacy: str, family: str, template: str) -> str:
            version = effective_version(family, v) if v else None
            if version and DATE_RELEASE.match(version):
                return template.format(v=version)
            return legacy

        camp = path("/marketing/v3/campaigns", "marketing.campaigns", "/marketing/campaigns/{v}")
        _required("campaigns.list", h.get(camp).json())
        new = h.post(camp, json={"properties": {"hs_name": f"Sdk campaign {tag}"}})
        assert new.status_code == 201
        _required("campaigns.create", new.json())
        one = h.get(f"{camp}/{new.json()['id']}").json()
        _required("campaigns.get", one)
        metrics = h.get(f"{camp}/{new.json()['id']}/reports/metrics").json()
        _required("campaigns.metrics", metrics)
        send = path(
            "/marketing/v4/email/single-send",
            "marketing.single_send",
            "/marketing/email-campaigns/{v}/single-send",
        )
        _required(
            "sends.single_send",
            h.post(
                send, json={"emailId": int(published.id), "message": {"to": "a@b.example"}}
            ).json(),
        )
        account = path("/account-info/v3/details", "account", "/account-info/{v}/details")
        _required("account.details", h.get(account).json())

        flows = h.get("/automation/v4/flows").json()
        assert flows["results"]
        for one_flow in flows["results"]:
            _required("flows.list.result", one_flow)
        whole = h.post(
            "/automation/v4/flows/batch/read",
            json={"inputs": [{"flowId": f["id"], "type": "FLOW_ID"} for f in flows["results"]]},
        ).json()
        for one_flow in whole["results"]:
            _required("flows.batch_read.result", one_flow)
        perf = h.get(f"/automation/v4/flows/performance/{flows['results'][0]['id']}").json()
        _required("flows.performance", perf)
        assert all({"bucket", "frequency", "series"} <= set(p) for p in perf["results"])
        seq = path("/automation/v4/sequences", "automation.sequences", "/automation/sequences/{v}")
        user = {"userId": str(sandbox.portal(DEMO_PORTAL_ID).user_id)}
        seqs = h.get(seq, params=user).json()
        _required("sequences.list", seqs)
        for one_seq in seqs["results"]:
            _required("sequences.list.result", one_seq)
        _required("sequences.get", h.get(f"{seq}/{seqs['results'][0]['id']}", params=user).json())
        enrolled = h.post(
            f"{seq}/enrollments",
            params=user,
            json={
                "sequenceId": seqs["results"][0]["id"],
                "contactId": contact.id,
                "senderEmail": sandbox.portal(DEMO_PORTAL_ID).user_email,
            },
        )
        assert enrolled.status_code == 200, enrolled.text
        _required("sequences.enroll", enrolled.json())
        _required(
            "sequences.enrollment_of_contact",
            h.get(f"{seq}/enrollments/contact/{contact.id}").json(),
        )

    if release != "legacy":  # every path whose family has the release was moved to it
        assert not [p for p in run.paths if _has_dated_release(p, release)], run.paths


def _has_dated_release(path: str, release: str) -> bool:
    """Whether a legacy-looking `path` belongs to a family that has a release under `release`
    (it should then have been moved)."""
    for legacy, family, _ in DATED_PREFIXES:
        if path.startswith(legacy):
            version = effective_version(family, release)
            return version is not None and bool(DATE_RELEASE.match(version))
    return False


@pytest.mark.parametrize("release", ["legacy", *RELEASES])
def test_the_sdk_decodes_the_oauth_answers(sandbox_url: tuple[str, Any], release: str) -> None:
    base, _sandbox = sandbox_url
    run = SdkRun(base, release)
    oauth = run.hubspot.oauth
    url = (
        f"{base}/oauth/authorize?client_id={CLIENT_ID}&redirect_uri={REDIRECT}"
        "&scope=oauth%20crm.objects.contacts.read&state=s"
    )
    location = asyncio.run(approve(url, httpx.AsyncHTTPTransport()))
    tokens = run.api(oauth.tokens_api).create(
        grant_type="authorization_code",
        code=query_of(location)["code"],
        redirect_uri=REDIRECT,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    assert tokens.access_token and tokens.refresh_token and tokens.expires_in == 1800
    refreshed = run.api(oauth.tokens_api).create(
        grant_type="refresh_token",
        refresh_token=tokens.refresh_token,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    assert refreshed.access_token != tokens.access_token
    # The v1 metadata reads (the plugin's introspection under v3 and 2025-09).
    info = run.api(oauth.access_tokens_api).get(refreshed.access_token)
    assert info.hub_id == DEMO_PORTAL_ID and info.token == refreshed.access_token
    rinfo = run.api(oauth.refresh_tokens_api).get(refreshed.refresh_token)
    assert rinfo.client_id == CLIENT_ID
    expected = "/oauth/v1/token" if release in ("legacy", "2025-09") else f"/oauth/{release}/token"
    assert run.paths[0] == expected
    # The date-style introspection the SDK has no API for, against HubSpot's reference.
    version = effective_version("oauth", release) if release != "legacy" else "v1"
    if version and DATE_RELEASE.match(version):
        form = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "token": refreshed.access_token,
        }
        answer = httpx.post(f"{base}/oauth/{version}/token/introspect", data=form).json()
        _required("oauth.introspect", answer)
        assert re.fullmatch(r"access_token", answer["token_use"])
    run.api(oauth.refresh_tokens_api).archive(refreshed.refresh_token)
