"""Walk every route the HubSpot plugin documents, in demo mode, the way a client would.

The host runs exactly as `atom-host serve --demo` does (in-process sandbox, demo portal connected
through OAuth). Each operation in the OpenAPI is called once, in an order that makes the ids it
needs, and must give the answer its documentation promises; the last check is that the walk
covered every documented operation, so a new route without a walk step fails here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from atom_host_stub.contract import HostContext
from atom_hubspot.demo import SANDBOX_MOUNT, demo_env
from atom_hubspot.sandbox import DEMO_PORTAL_ID
from atom_hubspot.sandbox.config import DEMO_USER_EMAIL

KEY = {"Authorization": "Bearer k-walk-0123456789abcdef"}
SECOND_PORTAL = 7_654_321


def _demo_client(tmp_path: Path, version: str | None = None) -> Any:
    from fastapi.testclient import TestClient

    from atom_host_stub.app import create_app

    env = {
        "ATOM_DATA_DIR": str(tmp_path),
        "ATOM_API_KEYS": "k-walk-0123456789abcdef:acme:alice",
        "ATOM_PUBLIC_URL": "http://testserver",
        "ATOM_PLUGINS": "hubspot",
    }
    if version is not None:
        env["HUBSPOT_API_VERSION"] = version
    ctx = HostContext(env=env, data_dir=tmp_path, database_url="", public_url="http://testserver")
    env.update(demo_env(ctx))
    return TestClient(create_app(env=env, demo=True), client=("127.0.0.1", 50000))


# What HubSpot paths each configured release must produce: one family on its own release,
# one held back to an older release or to its legacy path (None: the default release).
RELEASE_PATHS = {
    None: ("/crm/objects/2026-09/", "/marketing/email-campaigns/2026-03/single-send"),
    "2026-03": ("/crm/objects/2026-03/", "/oauth/2026-03/token"),
    "2025-09": ("/crm/objects/2025-09/", "/oauth/v1/token"),
    "v3": ("/crm/v3/objects/", "/marketing/v4/email/single-send"),
}


@pytest.mark.parametrize("version", list(RELEASE_PATHS), ids=lambda v: v or "default")
def test_every_documented_route_answers_as_documented_in_demo_mode(
    tmp_path: Path, version: str | None
) -> None:
    walked: set[tuple[str, str]] = set()

    with _demo_client(tmp_path, version) as c:

        def call(
            method: str, template: str, expect: int, *, path: str | None = None, **kw: Any
        ) -> Any:
            kw.setdefault("headers", KEY)
            r = c.request(method, path or template, follow_redirects=False, **kw)
            assert r.status_code == expect, f"{method} {template}: {r.status_code} {r.text}"
            walked.add((method.lower(), template))
            if r.headers.get("content-type", "").startswith("application/json"):
                body = r.json()
                assert body["ok"] is (expect < 400), body
                return body.get("data", body.get("error"))
            return r  # redirects and pages

        # --- connection and health
        status = call("GET", "/api/hubspot/auth/status", 200)
        assert status["default_portal_id"] == DEMO_PORTAL_ID
        assert not {"access_token", "refresh_token"} & set(status["connections"][0])
        assert call("GET", "/api/hubspot/health", 200)["status"] == "ok"
        # The demo portal was mirrored on start.
        mirror = call("GET", "/api/hubspot/sync", 200)["portals"][0]
        assert mirror["portal_id"] == DEMO_PORTAL_ID
        contacts_state = next(o for o in mirror["objects"] if o["object_type"] == "contacts")
        assert contacts_state["status"] == "current" and contacts_state["records"] >= 300

        # --- contacts, companies, deals: create, read, list/search, update (PATCH, PUT), archive
        cid = call(
            "POST",
            "/api/hubspot/contacts",
            201,
            json={"email": "walker@example.com", "firstname": "Wal"},
        )["id"]
        co = call(
            "POST",
            "/api/hubspot/companies",
            201,
            json={"name": "Walk Ltd", "domain": "walk.example"},
        )["id"]
        deal = call(
            "POST",
            "/api/hubspot/deals",
            201,
            json={
                "dealname": "Walk deal",
                "amount": "1250.50",
                "pipeline": "default",
                "dealstage": "appointmentscheduled",
                "closedate": "2026-12-31",
                "contact_ids": [cid],
                "company_ids": [co],
            },
        )["id"]
        for many, rid, change in (
            ("contacts", cid, {"lastname": "Ker"}),
            ("companies", co, {"city": "Leeds"}),
            ("deals", deal, {"amount": "1300"}),
        ):
            one = f"/api/hubspot/{many}/{{record_id}}"
            got = call("GET", one, 200, path=f"/api/hubspot/{many}/{rid}")
            assert got["id"] == rid
            listed = call("GET", f"/api/hubspot/{many}", 200, params={"limit": 5})
            assert listed["results"] and len(listed["results"]) <= 5
            updated = call("PATCH", one, 200, path=f"/api/hubspot/{many}/{rid}", json=change)
            key, value = next(iter(change.items()))
            assert updated["properties"][key] == value
            call("PUT", one, 200, path=f"/api/hubspot/{many}/{rid}", json=change)
        found = call("GET", "/api/hubspot/contacts", 200, params={"email": "walker@example.com"})
        assert [r["id"] for r in found["results"]] == [cid]

        # --- lead scores: the portal's score properties, contacts by score, score bands
        scores = call("GET", "/api/hubspot/contacts/score-properties", 200)
        assert scores["default"] == "hubspotscore"
        assert {"hubspotscore", "lead_fit_score"} <= {p["name"] for p in scores["results"]}
        top = call(
            "GET",
            "/api/hubspot/contacts",
            200,
            params={"score_min": "90", "sort": "-hubspotscore", "properties": "hubspotscore"},
        )
        top_scores = [int(r["properties"]["hubspotscore"]) for r in top["results"]]
        assert top_scores and top_scores == sorted(top_scores, reverse=True)
        assert min(top_scores) >= 90
        bands = call(
            "GET",
            "/api/hubspot/analytics/contacts/score-bands",
            200,
            params={"property": "hubspotscore", "bands": "0,25,50,75,100"},
        )
        assert len(bands["bands"]) == 4 and bands["total_contacts"] >= 300

        # --- pipelines
        pipelines = call("GET", "/api/hubspot/pipelines", 200)
        assert any(p["id"] == "default" for p in pipelines["results"])
        stages = call(
            "GET",
            "/api/hubspot/pipelines/{pipeline_id}/stages",
            200,
            path="/api/hubspot/pipelines/default/stages",
        )
        assert "closedwon" in {s["id"] for s in stages["results"]}

        # --- campaigns and analytics
        assert call("GET", "/api/hubspot/campaigns", 200, params={"limit": 2})["results"]
        camp = call(
            "POST",
            "/api/hubspot/campaigns",
            201,
            json={"name": "Walk campaign", "start_date": "2026-12-01"},
        )["id"]
        assert (
            call(
                "GET",
                "/api/hubspot/campaigns/{campaign_id}",
                200,
                path=f"/api/hubspot/campaigns/{camp}",
            )["id"]
            == camp
        )
        deals = call("GET", "/api/hubspot/analytics/deals", 200)
        # The seed's 160 deals; the walk's own may not be counted yet: analytics count through
        # HubSpot search, which trails writes by a few seconds (the sandbox's default lag).
        assert deals["total_count"] >= 160
        contacts = call(
            "GET", "/api/hubspot/analytics/contacts", 200, params={"granularity": "week"}
        )
        assert contacts["total_contacts"] >= 300
        call(
            "GET",
            "/api/hubspot/analytics/campaigns/{campaign_id}",
            200,
            path=f"/api/hubspot/analytics/campaigns/{camp}",
            params={"start_date": "2026-01-01", "end_date": "2026-01-31"},
        )

        # --- lead lists and members
        assert call("GET", "/api/hubspot/lead-lists", 200)["results"]
        lst = call("POST", "/api/hubspot/lead-lists", 201, json={"name": "Walk list"})["id"]
        assert (
            call(
                "GET",
                "/api/hubspot/lead-lists/{list_id}",
                200,
                path=f"/api/hubspot/lead-lists/{lst}",
            )["name"]
            == "Walk list"
        )
        members = "/api/hubspot/lead-lists/{list_id}/members"
        added = call(
            "POST",
            members,
            200,
            path=f"/api/hubspot/lead-lists/{lst}/members",
            json={"contact_ids": [cid]},
        )
        assert added["added"] == [cid]
        page = call("GET", members, 200, path=f"/api/hubspot/lead-lists/{lst}/members")
        assert cid in [str(m) for m in page["results"]]
        removed = call(
            "DELETE",
            members,
            200,
            path=f"/api/hubspot/lead-lists/{lst}/members",
            json={"contact_ids": [cid]},
        )
        assert removed["removed"] == [cid]

        # --- email: templates, send now, schedule, list, read, cancel
        email_id = int(call("GET", "/api/hubspot/email-templates", 200)["results"][0]["id"])
        sent = call(
            "POST",
            "/api/hubspot/send-email",
            200,
            json={"email_id": email_id, "contact_ids": [cid]},
        )
        assert sent["summary"]["sent"] == 1
        later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        sched = call(
            "POST",
            "/api/hubspot/send-email",
            202,
            json={"email_id": email_id, "contact_ids": [cid], "send_at": later},
        )
        sid = sched["scheduled"]["id"]
        assert sid in [s["id"] for s in call("GET", "/api/hubspot/scheduled-sends", 200)["results"]]
        one_send = "/api/hubspot/scheduled-sends/{send_id}"
        assert call("GET", one_send, 200, path=f"/api/hubspot/scheduled-sends/{sid}")["id"] == sid
        cancelled = call("DELETE", one_send, 200, path=f"/api/hubspot/scheduled-sends/{sid}")
        assert cancelled["status"] == "cancelled"

        # --- sends to lead lists: a draft regular email is published to the list; an
        # automated one fans out (scheduled here, then cancelled)
        call(
            "POST",
            members,
            200,
            path=f"/api/hubspot/lead-lists/{lst}/members",
            json={"contact_ids": [cid]},
        )
        drafts = call(
            "GET", "/api/hubspot/email-templates", 200, params={"include_unpublished": "true"}
        )["results"]
        regular = next(e for e in drafts if e["state"] == "DRAFT" and "AUTOMATED" not in e["type"])
        automated = next(e for e in drafts if e["is_published"] and "AUTOMATED" in e["type"])
        published = call(
            "POST",
            "/api/hubspot/list-sends",
            201,
            json={"email_id": int(regular["id"]), "list_ids": [lst]},
        )
        assert (published["way"], published["status"]) == ("publish", "sent")
        fan_out = call(
            "POST",
            "/api/hubspot/list-sends",
            202,
            json={"email_id": int(automated["id"]), "list_ids": [lst], "send_at": later},
        )
        assert fan_out["way"] == "fan_out" and fan_out["status"] == "pending"
        one_list_send = "/api/hubspot/list-sends/{send_id}"
        lsid = fan_out["id"]
        assert lsid in [s["id"] for s in call("GET", "/api/hubspot/list-sends", 200)["results"]]
        got = call("GET", one_list_send, 200, path=f"/api/hubspot/list-sends/{lsid}")
        assert got["progress"]["total"] == 0  # members are listed when it starts
        stopped = call("DELETE", one_list_send, 200, path=f"/api/hubspot/list-sends/{lsid}")
        assert stopped["status"] == "cancelled"

        # --- email performance: every email over a range by month, and one email
        stats = call(
            "GET",
            "/api/hubspot/email-stats",
            200,
            params={"start_date": "2025-06-01", "end_date": "2026-12-31", "interval": "month"},
        )
        assert stats["totals"]["sent"] >= 1 and stats["intervals"]
        sent_id = stats["email_ids"][0]
        one = call(
            "GET",
            "/api/hubspot/email-stats/{email_id}",
            200,
            path=f"/api/hubspot/email-stats/{sent_id}",
            params={"start_date": "2025-06-01", "end_date": "2026-12-31"},
        )
        assert one["email_ids"] == [sent_id]
        filtered = call("GET", "/api/hubspot/campaigns", 200, params={"status": "active"})
        assert all(c["properties"]["hs_campaign_status"] == "active" for c in filtered["results"])

        # --- lead nurturing: workflows (enroll through the list a workflow enrolls from),
        # performance, sequences (enroll; unenroll is not offered by HubSpot)
        flows = call("GET", "/api/hubspot/nurture/flows", 200)["results"]
        nurture = next(f for f in flows if f["enrollment"]["list_ids"] and f["enabled"])
        fid = nurture["id"]
        one_flow = "/api/hubspot/nurture/flows/{flow_id}"
        assert call("GET", one_flow, 200, path=f"/api/hubspot/nurture/flows/{fid}")["id"] == fid
        enrollments = "/api/hubspot/nurture/flows/{flow_id}/enrollments"
        enrolled = call(
            "POST",
            enrollments,
            200,
            path=f"/api/hubspot/nurture/flows/{fid}/enrollments",
            json={"contact_ids": [cid]},
        )
        assert enrolled["added"] == [cid] and fid in [f["id"] for f in enrolled["feeds_flows"]]
        perf = call(
            "GET",
            "/api/hubspot/nurture/flows/{flow_id}/performance",
            200,
            path=f"/api/hubspot/nurture/flows/{fid}/performance",
        )
        assert perf["source"] == "hubspot" and perf["totals"]["ENROLLED"] >= 1
        left = call(
            "DELETE",
            enrollments,
            200,
            path=f"/api/hubspot/nurture/flows/{fid}/enrollments",
            json={"contact_ids": [cid]},
        )
        assert left["removed"] == [cid]
        seqs = call(
            "GET", "/api/hubspot/nurture/sequences", 200, params={"user_email": DEMO_USER_EMAIL}
        )["results"]
        seq_enroll = "/api/hubspot/nurture/sequences/{sequence_id}/enrollments"
        in_seq = call(
            "POST",
            seq_enroll,
            200,
            path=f"/api/hubspot/nurture/sequences/{seqs[0]['id']}/enrollments",
            json={"contact_ids": [cid], "sender_email": DEMO_USER_EMAIL},
        )
        assert in_seq["enrolled"] == 1
        where = call(
            "GET",
            "/api/hubspot/nurture/contacts/{contact_id}/sequence-enrollment",
            200,
            path=f"/api/hubspot/nurture/contacts/{cid}/sequence-enrollment",
        )
        assert where["enrolled"] and where["sequence_id"] == seqs[0]["id"]
        not_offered = call(
            "DELETE",
            seq_enroll,
            501,
            path=f"/api/hubspot/nurture/sequences/{seqs[0]['id']}/enrollments",
        )
        assert not_offered["code"] == "not_supported_by_hubspot"

        # --- archive what the walk made
        for many, rid in (("deals", deal), ("contacts", cid), ("companies", co)):
            call(
                "DELETE",
                f"/api/hubspot/{many}/{{record_id}}",
                200,
                path=f"/api/hubspot/{many}/{rid}",
            )
            gone = c.get(f"/api/hubspot/{many}/{rid}", headers=KEY)
            assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"

        # --- a privacy deletion: HubSpot and the mirror forget the contact
        private = call(
            "POST", "/api/hubspot/contacts", 201, json={"email": "forget-me@example.com"}
        )["id"]
        call(
            "POST",
            "/api/hubspot/contacts/{record_id}/gdpr-delete",
            200,
            path=f"/api/hubspot/contacts/{private}/gdpr-delete",
        )
        forgotten = c.get(f"/api/hubspot/contacts/{private}", headers=KEY)
        assert forgotten.status_code == 404

        # --- connecting: JSON start, browser redirect, a declined callback, refresh
        start = call("POST", "/auth/hubspot", 200, json={})
        state = parse_qs(urlsplit(start["url"]).query)["state"][0]
        redirect = call("GET", "/auth/hubspot", 302)
        assert redirect.headers["location"].startswith(f"http://testserver{SANDBOX_MOUNT}/oauth")
        # HubSpot's redirect reaches the browser, which carries the host's session, no key.
        signed_in = c.post(
            "/sign-in",
            data={"api_key": "k-walk-0123456789abcdef"},
            headers={"sec-fetch-site": "same-origin"},
            follow_redirects=False,
        )
        assert signed_in.status_code == 303
        declined = call(
            "GET",
            "/auth/hubspot/callback",
            400,
            headers={},
            params={"error": "access_denied", "state": state},
        )
        assert declined["code"] == "oauth_access_denied"
        assert call("POST", "/auth/hubspot/refresh", 200)["portal_id"] == DEMO_PORTAL_ID

        # --- a second portal by private-app token, made the default, then both disconnected
        assert (
            c.post(
                f"{SANDBOX_MOUNT}/_sandbox/portals", json={"portal_id": SECOND_PORTAL}
            ).status_code
            == 201
        )
        token = c.post(
            f"{SANDBOX_MOUNT}/_sandbox/private-app-tokens", json={"portal_id": SECOND_PORTAL}
        ).json()["token"]
        saved = call("POST", "/api/hubspot/auth/save", 200, json={"token": token})
        assert saved["portal_id"] == SECOND_PORTAL and token not in str(saved)
        made = call("POST", "/api/hubspot/auth/default", 200, json={"portal_id": SECOND_PORTAL})
        assert made["is_default"] is True
        gone_portal = call("DELETE", "/auth/hubspot", 200, params={"portal_id": SECOND_PORTAL})
        assert gone_portal["revocation"] == "not_applicable"
        call("DELETE", "/auth/hubspot", 200)
        after = c.get("/api/hubspot/contacts", headers=KEY)
        assert after.status_code == 401 and after.json()["error"]["code"] == "not_connected"

        spec = c.get("/openapi.json").json()
        log = c.get(f"{SANDBOX_MOUNT}/_sandbox/calls", params={"log": 5000}).json()["log"]

    # The walk really went through the configured release, family by family.
    paths = [e["path"] for e in log]
    for expected in RELEASE_PATHS[version]:
        assert any(p.startswith(expected) for p in paths), (version, expected)
    assert all(e["status"] != 404 or e["route"] for e in log), "unrouted HubSpot path"

    documented = {
        (method, path)
        for path, ops in spec["paths"].items()
        if path.startswith(("/api/hubspot", "/auth/hubspot"))
        for method in ops
    }
    assert documented - walked == set(), "documented routes the walk did not call"
    assert len(documented) >= 35


def test_every_mcp_authorization_route_answers_as_the_readme_says(tmp_path: Path) -> None:
    """The OAuth routes of /mcp (README, "Connecting with OAuth"), walked the way an MCP client
    and the user's browser do; the last check is that no such route was left out."""
    import base64
    import hashlib
    import re
    from urllib.parse import urlencode

    from fastapi.routing import APIRoute
    from fastapi.testclient import TestClient
    from starlette.routing import Mount, Route

    from atom_host_stub.app import create_app

    base, redirect, key = "http://localhost:8000", "http://localhost:3030/cb", KEY["Authorization"]
    env = {
        "ATOM_DATA_DIR": str(tmp_path),
        "ATOM_API_KEYS": "k-walk-0123456789abcdef:acme:alice",
        "ATOM_PUBLIC_URL": base,
        "ATOM_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    app = create_app(env=env)
    walked: set[tuple[str, str]] = set()
    with TestClient(app, base_url=base) as c:

        def call(method: str, path: str, expect: int, **kw: Any) -> Any:
            r = c.request(method, path, follow_redirects=False, **kw)
            assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text}"
            walked.add((method, path.split("?")[0]))
            return r

        unauthorized = call("POST", "/mcp", 401, json={"jsonrpc": "2.0", "id": 1})
        assert "resource_metadata=" in unauthorized.headers["www-authenticate"]
        prm = call("GET", "/.well-known/oauth-protected-resource/mcp", 200).json()
        assert prm["resource"] == f"{base}/mcp"
        call("GET", "/.well-known/oauth-authorization-server", 200)
        client_id = call(
            "POST",
            "/register",
            201,
            json={"redirect_uris": [redirect], "token_endpoint_auth_method": "none"},
        ).json()["client_id"]
        verifier = "v" * 64
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        query = urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": redirect,
                "code_challenge": challenge.decode().rstrip("="),
                "code_challenge_method": "S256",
                "resource": f"{base}/mcp",
            }
        )
        consent = call("GET", f"/authorize?{query}", 302).headers["location"]
        posted = call("POST", "/authorize", 302, data=dict(parse_qs(query, max_num_fields=10)))
        assert posted.headers["location"].startswith(f"{base}/oauth/consent?")
        assert "/sign-in" in call("GET", consent.removeprefix(base), 303).headers["location"]
        c.post(
            "/sign-in",
            data={"api_key": key.removeprefix("Bearer ")},
            headers={"sec-fetch-site": "same-origin"},
            follow_redirects=False,
        )
        page = call("GET", consent.removeprefix(base), 200).text
        sealed = re.search(r'name="request" value="([^"]+)"', page)
        assert sealed is not None
        back = call(
            "POST",
            "/oauth/consent",
            303,
            data={"request": sealed.group(1), "decision": "allow"},
            headers={"sec-fetch-site": "same-origin"},
        ).headers["location"]
        code = parse_qs(urlsplit(back).query)["code"][0]
        tokens = call(
            "POST",
            "/token",
            200,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect,
                "client_id": client_id,
                "code_verifier": verifier,
            },
        ).json()
        assert call(
            "POST",
            "/mcp",
            200,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={
                "Authorization": f"Bearer {tokens['access_token']}",
                "Accept": "application/json, text/event-stream",
                "MCP-Protocol-Version": "2025-11-25",
            },
        ).json()["result"]["tools"]
        # The SDK's revocation form wants a client_secret field even from a public client.
        call(
            "POST",
            "/revoke",
            200,
            data={"token": tokens["access_token"], "client_id": client_id, "client_secret": ""},
        )
        gone = c.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        )
        assert gone.status_code == 401
    # Every plain route the app serves beside its documented API (the OAuth routes and /mcp),
    # each method of it, was walked.
    docs = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
    served = {
        (method, route.path)
        for route in app.router.routes
        if isinstance(route, Route)
        and not isinstance(route, (APIRoute, Mount))
        and route.path not in docs
        for method in (route.methods or set()) - {"HEAD", "OPTIONS"}
    }
    # /mcp is stateless: GET (a standalone stream) and DELETE (end a session) have nothing to do.
    assert served - walked - {("GET", "/mcp"), ("DELETE", "/mcp")} == set()
