"""The path map: both version styles, and no HubSpot path anywhere else in the package."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import atom_hubspot
from atom_hubspot.client.paths import FamilyUnavailable, Paths
from atom_hubspot.releases import FAMILIES, RELEASES, effective_versions

DATED = Paths("2026-03")
LEGACY = Paths("v3")

CASES = [
    (lambda p: p.objects("contacts"), "/crm/objects/2026-03/contacts", "/crm/v3/objects/contacts"),
    (lambda p: p.object("deals", 7), "/crm/objects/2026-03/deals/7", "/crm/v3/objects/deals/7"),
    (
        lambda p: p.objects_search("companies"),
        "/crm/objects/2026-03/companies/search",
        "/crm/v3/objects/companies/search",
    ),
    (
        lambda p: p.objects_batch("contacts", "upsert"),
        "/crm/objects/2026-03/contacts/batch/upsert",
        "/crm/v3/objects/contacts/batch/upsert",
    ),
    (
        lambda p: p.association_default("contacts", 1, "companies", 2),
        "/crm/objects/2026-03/contacts/1/associations/default/companies/2",
        "/crm/v4/objects/contacts/1/associations/default/companies/2",
    ),
    (
        lambda p: p.associations_of("deals", 5, "contacts"),
        "/crm/objects/2026-03/deals/5/associations/contacts",
        "/crm/v4/objects/deals/5/associations/contacts",
    ),
    (
        lambda p: p.associations_batch("contacts", "companies", "read"),
        "/crm/associations/2026-03/contacts/companies/batch/read",
        "/crm/v4/associations/contacts/companies/batch/read",
    ),
    (lambda p: p.pipelines("deals"), "/crm/pipelines/2026-03/deals", "/crm/v3/pipelines/deals"),
    (
        lambda p: p.pipeline_stages("deals", "default"),
        "/crm/pipelines/2026-03/deals/default/stages",
        "/crm/v3/pipelines/deals/default/stages",
    ),
    (
        lambda p: p.properties("contacts"),
        "/crm/properties/2026-03/contacts",
        "/crm/v3/properties/contacts",
    ),
    (lambda p: p.lists(), "/crm/lists/2026-03", "/crm/v3/lists"),
    (lambda p: p.lists_search(), "/crm/lists/2026-03/search", "/crm/v3/lists/search"),
    (
        lambda p: p.list_memberships_change(9, "add"),
        "/crm/lists/2026-03/9/memberships/add",
        "/crm/v3/lists/9/memberships/add",
    ),
    (
        lambda p: p.list_memberships(9),
        "/crm/lists/2026-03/9/memberships",
        "/crm/v3/lists/9/memberships",
    ),
    (lambda p: p.campaigns(), "/marketing/campaigns/2026-03", "/marketing/v3/campaigns"),
    (
        lambda p: p.campaign_metrics("g-1"),
        "/marketing/campaigns/2026-03/g-1/reports/metrics",
        "/marketing/v3/campaigns/g-1/reports/metrics",
    ),
    (lambda p: p.emails(), "/marketing/emails/2026-03", "/marketing/v3/emails"),
    (
        lambda p: p.email_statistics(),
        "/marketing/emails/2026-03/statistics/list",
        "/marketing/v3/emails/statistics/list",
    ),
    (
        lambda p: p.email_statistics_histogram(),
        "/marketing/emails/2026-03/statistics/histogram",
        "/marketing/v3/emails/statistics/histogram",
    ),
    (
        lambda p: p.email_publish(7),
        "/marketing/emails/2026-03/7/publish",
        "/marketing/v3/emails/7/publish",
    ),
    (
        lambda p: p.email_unpublish(7),
        "/marketing/emails/2026-03/7/unpublish",
        "/marketing/v3/emails/7/unpublish",
    ),
    (
        lambda p: p.single_send(),
        "/marketing/email-campaigns/2026-03/single-send",
        "/marketing/v4/email/single-send",
    ),
    (
        lambda p: p.transactional_send(),
        "/marketing/transactional/2026-03/single-email/send",
        "/marketing/v3/transactional/single-email/send",
    ),
    (lambda p: p.account_details(), "/account-info/2026-03/details", "/account-info/v3/details"),
    (lambda p: p.oauth_token(), "/oauth/2026-03/token", "/oauth/v1/token"),
]


@pytest.mark.parametrize(("build", "dated", "legacy"), CASES)
def test_both_version_styles(build, dated: str, legacy: str) -> None:
    assert build(DATED).path == dated
    assert build(LEGACY).path == legacy


def test_other_date_versions_follow_the_same_pattern() -> None:
    assert Paths("2026-09").objects("contacts").path == "/crm/objects/2026-09/contacts"
    assert Paths("2026-09").objects("0-1").path == "/crm/objects/2026-09/0-1"
    assert Paths("2025-09").objects("deals").path == "/crm/objects/2025-09/deals"


def test_a_release_is_a_ceiling_per_family() -> None:
    """Each family takes its newest release not later than the configured one; legacy only
    where it has none; unavailable where it has neither."""
    newest, first = Paths("2026-09"), Paths("2025-09")
    # single-send exists as 2026-03 only; flows have no date release; OAuth starts at 2026-03.
    assert newest.single_send().path == "/marketing/email-campaigns/2026-03/single-send"
    assert first.single_send().path == "/marketing/v4/email/single-send"
    assert newest.flows().path == first.flows().path == "/automation/v4/flows"
    assert newest.oauth_token().path == "/oauth/2026-09/token"
    assert first.oauth_token().path == "/oauth/v1/token" and first.is_legacy("oauth")
    assert not first.is_legacy("crm.objects") and LEGACY.is_legacy("crm.objects")
    assert first.account_details().path == "/account-info/2025-09/details"
    assert newest.sequences().path == "/automation/sequences/2026-09"
    assert LEGACY.sequences().path == "/automation/v4/sequences"
    assert newest.webhooks_settings(7).path == "/webhooks/2026-09/7/settings"
    assert LEGACY.webhooks_subscriptions(7).path == "/webhooks/v3/7/subscriptions"
    # The Webhooks Journal: 2026-03 only, no legacy path.
    assert newest.journal_next(5).path == "/webhooks-journal/journal/2026-03/offset/5/next"
    assert DATED.journal_latest(local=True).path == "/webhooks-journal/journal-local/2026-03/latest"
    for paths in (first, LEGACY):
        with pytest.raises(FamilyUnavailable, match="Webhooks Journal"):
            paths.journal_earliest()
    assert first.effective("webhooks.journal") is None


def test_effective_versions_table() -> None:
    table = {v: effective_versions(v) for v in (*RELEASES, "v3")}
    assert table["2026-09"]["crm.objects"] == "2026-09"
    assert table["2026-09"]["marketing.single_send"] == "2026-03"
    assert table["2026-09"]["webhooks.journal"] == "2026-03"
    assert table["2026-09"]["automation.flows"] == "v4"
    assert table["2026-03"]["oauth"] == "2026-03" and table["2025-09"]["oauth"] == "v1"
    assert table["v3"]["crm.associations"] == "v4" and table["v3"]["crm.objects"] == "v3"
    assert table["v3"]["webhooks.journal"] is None
    # Every release's resolution is a release the family really has (or its legacy path).
    for chosen, row in table.items():
        for family, eff in row.items():
            fam = FAMILIES[family]
            assert eff in (*fam.releases, fam.legacy), (chosen, family, eff)
            if eff in fam.releases:
                assert eff <= chosen


def test_oauth_date_style_and_legacy_introspection_revocation() -> None:
    assert DATED.oauth_introspect().path == "/oauth/2026-03/token/introspect"
    assert DATED.oauth_revoke().path == "/oauth/2026-03/token/revoke"
    assert LEGACY.oauth_access_token_info("tok").path == "/oauth/v1/access-tokens/tok"
    assert LEGACY.oauth_refresh_token("tok").path == "/oauth/v1/refresh-tokens/tok"


def test_templates_hide_values_and_segments_are_encoded() -> None:
    route = DATED.object("contacts", "ann@example.com")
    assert route.path == "/crm/objects/2026-03/contacts/ann%40example.com"
    assert "ann" not in route.template and str(route) == route.template
    assert route.template == "/crm/objects/2026-03/{objectType}/{objectId}"
    secret = LEGACY.oauth_access_token_info("abc/def")
    assert secret.path.endswith("abc%2Fdef") and "abc" not in secret.template


def test_bad_versions_and_actions_are_refused() -> None:
    with pytest.raises(ValueError):
        Paths("v4")
    with pytest.raises(ValueError):
        Paths("2026-09-beta")
    with pytest.raises(ValueError):
        DATED.objects_batch("contacts", "merge")


# A HubSpot API path fragment: a family followed by a version or a resource, or a
# HubSpot-specific endpoint tail.
HUBSPOT_PATH = re.compile(
    r"/(?:crm|marketing|account-info|oauth|automation|cms|events|communication-preferences)/"
    r"(?:v\d+\b|\d{4}-\d{2}\b|objects|associations|pipelines|properties|lists|campaigns|"
    r"emails?\b|"
    r"email-campaigns|transactional|details|token|access-tokens|refresh-tokens)"
    r"|/(?:single-send|single-email/send|memberships/add|token/introspect|token/revoke|"
    r"associations/default|batch/(?:read|create|update|upsert|archive))\b"
)
# Configuration defaults that are HubSpot URLs but not API paths (the authorize page).
ALLOWED = {"https://app.hubspot.com/oauth/authorize"}


def test_no_module_outside_the_path_map_holds_a_hubspot_path() -> None:
    root = Path(atom_hubspot.__file__).parent
    offenders: list[str] = []
    for file in sorted(root.rglob("*.py")):
        rel = file.relative_to(root)
        if rel.parts[0] == "sandbox" or rel == Path("client/paths.py"):
            continue  # the sandbox is an independent implementation of HubSpot's API
        text = file.read_text(encoding="utf-8")
        for allowed in ALLOWED:
            text = text.replace(allowed, "")
        for n, line in enumerate(text.splitlines(), 1):
            if HUBSPOT_PATH.search(line):
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert not offenders, "HubSpot paths outside client/paths.py:\n" + "\n".join(offenders)


def test_the_grep_pattern_catches_paths() -> None:
    # A grep that never matches would pass forever: check it against the real map's output.
    for _build, dated, legacy in CASES:
        assert HUBSPOT_PATH.search(dated), dated
        assert HUBSPOT_PATH.search(legacy), legacy
    assert not HUBSPOT_PATH.search("/api/hubspot/contacts")
    assert not HUBSPOT_PATH.search("/auth/hubspot/callback")
