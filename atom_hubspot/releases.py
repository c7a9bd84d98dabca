"""HubSpot's API releases per API family: the one table the client and the sandbox read.

Since March 2026 HubSpot publishes date-versioned APIs, a release each March and September, next
to the legacy numbered paths (v1 to v4; the path map is `atom_hubspot.client.paths`). Not every
family is in every release: single-send and the Webhooks Journal
exist only as 2026-03, automation flows have no date release yet. A configured release is
therefore a ceiling: each family uses its newest release not later than the choice, falls back
to its legacy path only where it has no such release, and is unavailable where it has neither.

Sources (`-beta` releases left out):
https://developers.hubspot.com/changelog (date-based versioning; the 2025-09, 2026-03 and 2026-09
releases), https://developers.hubspot.com/docs/developer-tooling/platform/versioning (the March
and September schedule, "Current" for 6 months, unsupported 18 months after release), and the
per-version reference at https://developers.hubspot.com/docs/api-reference/latest/overview.

This module is plain data: it imports nothing, so the sandbox may read it without importing
the client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Every date release HubSpot has published that some family here has, oldest first.
RELEASES: tuple[str, ...] = ("2025-09", "2026-03", "2026-09")
# The HUBSPOT_API_VERSION value that asks for the legacy numbered paths everywhere.
LEGACY = "v3"
# The release used when HUBSPOT_API_VERSION is not set (README, "API versions", says why).
DEFAULT_RELEASE = "2026-09"

DATE_RELEASE = re.compile(r"[0-9]{4}-[0-9]{2}")  # with fullmatch: `$` would let "\n" through

_CRM = RELEASES  # CRM objects, associations, pipelines, properties, lists, schemas


@dataclass
class ApiFamily:
    """One API family: the date releases HubSpot has published of it, and its legacy path
    version (None when it has no legacy path)."""

    key: str
    title: str
    releases: tuple[str, ...]
    legacy: str | None


_TABLE = (
    ApiFamily("crm.objects", "CRM objects (contacts, companies, deals)", _CRM, "v3"),
    ApiFamily("crm.object_associations", "CRM associations of one record", _CRM, "v4"),
    ApiFamily("crm.associations", "CRM associations, batch", _CRM, "v4"),
    ApiFamily("crm.pipelines", "CRM pipelines", _CRM, "v3"),
    ApiFamily("crm.properties", "CRM properties", _CRM, "v3"),
    ApiFamily("crm.lists", "CRM lists", _CRM, "v3"),
    ApiFamily("crm.schemas", "CRM schemas", _CRM, "v3"),
    # https://developers.hubspot.com/docs/api-reference/2026-03/crm/owners/get-owners.md
    ApiFamily("crm.owners", "CRM owners", ("2026-03", "2026-09"), "v3"),
    ApiFamily("account", "Account info", ("2025-09", "2026-03", "2026-09"), "v3"),
    ApiFamily("oauth", "OAuth", ("2026-03", "2026-09"), "v1"),
    ApiFamily("marketing.campaigns", "Marketing campaigns", RELEASES, "v3"),
    ApiFamily("marketing.emails", "Marketing emails", RELEASES, "v3"),
    ApiFamily("marketing.transactional", "Transactional single-send", RELEASES, "v3"),
    ApiFamily("marketing.single_send", "Marketing single-send", ("2026-03",), "v4"),
    ApiFamily("webhooks", "Webhooks settings and subscriptions", RELEASES, "v3"),
    ApiFamily("webhooks.journal", "Webhooks Journal", ("2026-03",), None),
    ApiFamily("automation.sequences", "Sequences", RELEASES, "v4"),
    ApiFamily("automation.flows", "Automation flows", (), "v4"),
)
FAMILIES: dict[str, ApiFamily] = {f.key: f for f in _TABLE}


def is_known_choice(version: str) -> bool:
    """Whether `version` is a value HUBSPOT_API_VERSION may take: a release or `v3`."""
    return version == LEGACY or version in RELEASES


def effective_version(family: str, chosen: str) -> str | None:
    """The version `family` is called with when `chosen` is configured: its newest date
    release not later than `chosen`, else its legacy version, else None (unavailable)."""
    fam = FAMILIES[family]
    if chosen != LEGACY:
        # Date releases are YYYY-MM strings, so string order is date order.
        eligible = [r for r in fam.releases if r <= chosen]
        if eligible:
            return max(eligible)
    return fam.legacy


def effective_versions(chosen: str) -> dict[str, str | None]:
    """family → the version it uses under `chosen` (None: not available)."""
    return {key: effective_version(key, chosen) for key in FAMILIES}
