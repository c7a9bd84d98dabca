"""The one place that knows HubSpot's URL paths: (API family, version) → path.

HubSpot publishes date-versioned APIs since March 2026 (`/crm/objects/2026-03/contacts`) next
to the legacy numbered ones (`/crm/v3/objects/contacts`, v4 associations, v1 OAuth), with the
same request and response bodies. The configured release (HUBSPOT_API_VERSION) is a ceiling:
each family uses its newest release not later than it, as `atom_hubspot.releases` tabulates
(single-send stays on 2026-03 under 2026-09, flows on v4). No other module of the package
builds a HubSpot path (a test greps for them).
https://developers.hubspot.com/changelog (date-based versioning)

Every method returns a `Route`: the concrete path to send to and its template, which is what
logs show (a record id, an email used as `idProperty` or a token never lands in a log line).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from atom_hubspot.releases import (
    DATE_RELEASE,
    DEFAULT_RELEASE,
    FAMILIES,
    LEGACY,
    effective_version,
)

# path base → (API family, date-style template with {v} or None, legacy path or None).
# Sunsets: v1 OAuth 2027-02-16, v4 paths 2027-03-30, v1 to v3 September 2027.
_BASES: dict[str, tuple[str, str | None, str | None]] = {
    "crm.objects": ("crm.objects", "/crm/objects/{v}", "/crm/v3/objects"),
    # Per-record association reads/links: v4 under /crm/v4/objects in the legacy style.
    "crm.object_associations": ("crm.object_associations", "/crm/objects/{v}", "/crm/v4/objects"),
    "crm.associations": ("crm.associations", "/crm/associations/{v}", "/crm/v4/associations"),
    "crm.pipelines": ("crm.pipelines", "/crm/pipelines/{v}", "/crm/v3/pipelines"),
    "crm.properties": ("crm.properties", "/crm/properties/{v}", "/crm/v3/properties"),
    "crm.lists": ("crm.lists", "/crm/lists/{v}", "/crm/v3/lists"),
    "crm.owners": ("crm.owners", "/crm/owners/{v}", "/crm/v3/owners"),
    "marketing.campaigns": (
        "marketing.campaigns",
        "/marketing/campaigns/{v}",
        "/marketing/v3/campaigns",
    ),
    "marketing.emails": ("marketing.emails", "/marketing/emails/{v}", "/marketing/v3/emails"),
    "marketing.single_send": (
        "marketing.single_send",
        "/marketing/email-campaigns/{v}/single-send",
        "/marketing/v4/email/single-send",
    ),
    "marketing.transactional": (
        "marketing.transactional",
        "/marketing/transactional/{v}/single-email/send",
        "/marketing/v3/transactional/single-email/send",
    ),
    "account": ("account", "/account-info/{v}", "/account-info/v3"),
    "oauth": ("oauth", "/oauth/{v}", "/oauth/v1"),
    "webhooks": ("webhooks", "/webhooks/{v}", "/webhooks/v3"),
    # The Webhooks Journal has date releases only (2026-03); no legacy path.
    "webhooks.journal": ("webhooks.journal", "/webhooks-journal/journal/{v}", None),
    "webhooks.journal_local": ("webhooks.journal", "/webhooks-journal/journal-local/{v}", None),
    "webhooks.journal_subscriptions": (
        "webhooks.journal",
        "/webhooks-journal/subscriptions/{v}",
        None,
    ),
    "webhooks.journal_snapshots": ("webhooks.journal", "/webhooks-journal/snapshots/{v}", None),
    "automation.sequences": (
        "automation.sequences",
        "/automation/sequences/{v}",
        "/automation/v4/sequences",
    ),
    # Flows have no date release yet: v4 whatever the configured release.
    "automation.flows": ("automation.flows", None, "/automation/v4/flows"),
}


class FamilyUnavailable(ValueError):
    """The configured release has no version of this API family (e.g. the Webhooks Journal,
    2026-03 only and without a legacy path, under 2025-09 or v3)."""


def _seg(value: object) -> str:
    """One path segment, percent-encoded (ids by email, GUIDs, tokens)."""
    return quote(str(value), safe="")


@dataclass(frozen=True)
class Route:
    """A HubSpot path to call and the template logged in its place."""

    path: str
    template: str
    family: str

    def __str__(self) -> str:  # never the concrete path: it may carry an email or a token
        return self.template

    @property
    def only_reads(self) -> bool:
        """A POST to it reads and changes nothing (search, batch read)."""
        return self.template.endswith(("/search", "/batch/read"))


class Paths:
    """Paths for one configured release: a date release such as `2026-09` (a ceiling per
    family), or `v3` (the legacy paths everywhere)."""

    def __init__(self, version: str = DEFAULT_RELEASE) -> None:
        if version != LEGACY and not DATE_RELEASE.fullmatch(version):
            raise ValueError("API version must be a date release such as 2026-09, or v3")
        self.version = version

    @property
    def legacy(self) -> bool:
        """Whether the legacy paths were asked for everywhere (`v3`)."""
        return self.version == LEGACY

    def effective(self, family: str) -> str | None:
        """The version `family` is called with (a date release or a legacy `vN`; None when
        the configured release has none)."""
        return effective_version(family, self.version)

    def is_legacy(self, family: str) -> bool:
        """Whether `family` uses its legacy path under the configured release."""
        eff = self.effective(family)
        return eff is not None and not DATE_RELEASE.fullmatch(eff)

    def base(self, base: str) -> str:
        family, dated, legacy = _BASES[base]
        eff = self.effective(family)
        if eff is not None and DATE_RELEASE.fullmatch(eff) and dated is not None:
            return dated.format(v=eff)
        if eff is not None and legacy is not None:
            return legacy
        fam = FAMILIES[family]
        raise FamilyUnavailable(
            f"{fam.title} has no legacy path and no release at or before "
            f"HUBSPOT_API_VERSION={self.version}: it exists as {', '.join(fam.releases)}"
        )

    def _route(self, base: str, suffix_template: str, **values: object) -> Route:
        prefix = self.base(base)
        path = suffix_template.format(**{k: _seg(v) for k, v in values.items()})
        return Route(path=prefix + path, template=prefix + suffix_template, family=_BASES[base][0])

    # ------------------------------------------------------------------ CRM objects
    # https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/guide
    def objects(self, object_type: str) -> Route:
        return self._route("crm.objects", "/{objectType}", objectType=object_type)

    def object(self, object_type: str, object_id: str | int) -> Route:
        return self._route(
            "crm.objects", "/{objectType}/{objectId}", objectType=object_type, objectId=object_id
        )

    def objects_search(self, object_type: str) -> Route:
        return self._route("crm.objects", "/{objectType}/search", objectType=object_type)

    def objects_gdpr_delete(self, object_type: str) -> Route:
        # https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/gdpr/post-crm-v3-objects-contacts-gdpr-delete
        return self._route("crm.objects", "/{objectType}/gdpr-delete", objectType=object_type)

    def objects_batch(self, object_type: str, action: str) -> Route:
        if action not in ("read", "create", "update", "upsert", "archive"):
            raise ValueError(f"unknown batch action {action!r}")
        return self._route("crm.objects", "/{objectType}/batch/" + action, objectType=object_type)

    # ------------------------------------------------------------------ associations (v4)
    # https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide
    def association_default(
        self, from_type: str, from_id: str | int, to_type: str, to_id: str | int
    ) -> Route:
        return self._route(
            "crm.object_associations",
            "/{fromObjectType}/{fromObjectId}/associations/default/{toObjectType}/{toObjectId}",
            fromObjectType=from_type,
            fromObjectId=from_id,
            toObjectType=to_type,
            toObjectId=to_id,
        )

    def associations_of(self, from_type: str, from_id: str | int, to_type: str) -> Route:
        return self._route(
            "crm.object_associations",
            "/{fromObjectType}/{fromObjectId}/associations/{toObjectType}",
            fromObjectType=from_type,
            fromObjectId=from_id,
            toObjectType=to_type,
        )

    def associations_batch(self, from_type: str, to_type: str, action: str) -> Route:
        if action not in ("read", "create", "archive", "associate/default"):
            raise ValueError(f"unknown association batch action {action!r}")
        return self._route(
            "crm.associations",
            "/{fromObjectType}/{toObjectType}/batch/" + action,
            fromObjectType=from_type,
            toObjectType=to_type,
        )

    # ------------------------------------------------------------------ pipelines
    def pipelines(self, object_type: str) -> Route:
        return self._route("crm.pipelines", "/{objectType}", objectType=object_type)

    def pipeline_stages(self, object_type: str, pipeline_id: str) -> Route:
        return self._route(
            "crm.pipelines",
            "/{objectType}/{pipelineId}/stages",
            objectType=object_type,
            pipelineId=pipeline_id,
        )

    # ------------------------------------------------------------------ properties
    # https://developers.hubspot.com/docs/api-reference/2026-03/crm/properties/get-properties
    def properties(self, object_type: str) -> Route:
        return self._route("crm.properties", "/{objectType}", objectType=object_type)

    # ------------------------------------------------------------------ lists
    # https://developers.hubspot.com/docs/api-reference/crm-lists-v3/guide
    def lists(self) -> Route:
        return self._route("crm.lists", "")

    def lists_search(self) -> Route:
        return self._route("crm.lists", "/search")

    def list(self, list_id: str | int) -> Route:
        return self._route("crm.lists", "/{listId}", listId=list_id)

    def list_memberships(self, list_id: str | int) -> Route:
        return self._route("crm.lists", "/{listId}/memberships", listId=list_id)

    def list_memberships_change(self, list_id: str | int, action: str) -> Route:
        if action not in ("add", "remove", "add-and-remove"):
            raise ValueError(f"unknown membership action {action!r}")
        return self._route("crm.lists", "/{listId}/memberships/" + action, listId=list_id)

    # ------------------------------------------------------------------ owners
    # https://developers.hubspot.com/docs/api-reference/crm-crm-owners-v3/guide
    def owners(self) -> Route:
        return self._route("crm.owners", "")

    # ------------------------------------------------------------------ marketing
    def campaigns(self) -> Route:
        return self._route("marketing.campaigns", "")

    def campaign(self, guid: str) -> Route:
        return self._route("marketing.campaigns", "/{campaignGuid}", campaignGuid=guid)

    def campaign_metrics(self, guid: str) -> Route:
        return self._route(
            "marketing.campaigns", "/{campaignGuid}/reports/metrics", campaignGuid=guid
        )

    def emails(self) -> Route:
        return self._route("marketing.emails", "")

    def email(self, email_id: str | int) -> Route:
        return self._route("marketing.emails", "/{emailId}", emailId=email_id)

    def email_publish(self, email_id: str | int) -> Route:
        """Publish (send, or schedule at its publishDate) a marketing email.
        https://developers.hubspot.com/docs/api-reference/latest/marketing/marketing-emails/emails/publish-email"""
        return self._route("marketing.emails", "/{emailId}/publish", emailId=email_id)

    def email_unpublish(self, email_id: str | int) -> Route:
        """Unpublish (cancel a scheduled send of) a marketing email."""
        return self._route("marketing.emails", "/{emailId}/unpublish", emailId=email_id)

    def email_statistics(self) -> Route:
        return self._route("marketing.emails", "/statistics/list")

    def email_statistics_histogram(self) -> Route:
        """Email statistics in intervals.
        https://developers.hubspot.com/docs/api-reference/2026-03/marketing/marketing-emails/statistics/get-histogram"""
        return self._route("marketing.emails", "/statistics/histogram")

    def single_send(self) -> Route:
        return self._route("marketing.single_send", "")

    def transactional_send(self) -> Route:
        return self._route("marketing.transactional", "")

    # ------------------------------------------------------------------ account
    def account_details(self) -> Route:
        return self._route("account", "/details")

    # ------------------------------------------------------------------ OAuth
    # https://developers.hubspot.com/docs/api-reference/auth-oauth-v1/guide
    def oauth_token(self) -> Route:
        return self._route("oauth", "/token")

    def oauth_introspect(self) -> Route:
        """Date style only: POST form introspection. Legacy uses `oauth_access_token_info`."""
        return self._route("oauth", "/token/introspect")

    def oauth_revoke(self) -> Route:
        """Date style only: POST form revocation. Legacy uses `oauth_refresh_token`."""
        return self._route("oauth", "/token/revoke")

    def oauth_access_token_info(self, token: str) -> Route:
        """Legacy `GET /oauth/v1/access-tokens/{token}` (the token is in the path)."""
        return self._route("oauth", "/access-tokens/{token}", token=token)

    def oauth_refresh_token(self, token: str) -> Route:
        """Legacy `GET|DELETE /oauth/v1/refresh-tokens/{token}`."""
        return self._route("oauth", "/refresh-tokens/{token}", token=token)

    # ------------------------------------------------------------------ webhooks (push)
    # https://developers.hubspot.com/docs/api-reference/webhooks-webhooks-v3/guide
    def webhooks_settings(self, app_id: str | int) -> Route:
        return self._route("webhooks", "/{appId}/settings", appId=app_id)

    def webhooks_subscriptions(self, app_id: str | int) -> Route:
        return self._route("webhooks", "/{appId}/subscriptions", appId=app_id)

    # ------------------------------------------------------------------ Webhooks Journal
    def journal_next(self, offset: str | int, *, local: bool = False) -> Route:
        return self._route(
            "webhooks.journal_local" if local else "webhooks.journal",
            "/offset/{offset}/next",
            offset=offset,
        )

    def journal_earliest(self, *, local: bool = False) -> Route:
        return self._route("webhooks.journal_local" if local else "webhooks.journal", "/earliest")

    def journal_latest(self, *, local: bool = False) -> Route:
        return self._route("webhooks.journal_local" if local else "webhooks.journal", "/latest")

    def journal_subscriptions(self) -> Route:
        return self._route("webhooks.journal_subscriptions", "")

    def journal_snapshots(self) -> Route:
        return self._route("webhooks.journal_snapshots", "/crm")

    # ------------------------------------------------------------------ automation
    # https://developers.hubspot.com/docs/api-reference/automation-automation-v4-v4/guide
    def flows(self) -> Route:
        return self._route("automation.flows", "")

    def flow(self, flow_id: str | int) -> Route:
        return self._route("automation.flows", "/{flowId}", flowId=flow_id)

    def flows_batch_read(self) -> Route:
        return self._route("automation.flows", "/batch/read")

    def flow_performance(self, flow_id: str | int) -> Route:
        return self._route("automation.flows", "/performance/{flowId}", flowId=flow_id)

    def sequences(self) -> Route:
        return self._route("automation.sequences", "")

    def sequence(self, sequence_id: str | int) -> Route:
        return self._route("automation.sequences", "/{sequenceId}", sequenceId=sequence_id)

    def sequence_enrollments(self) -> Route:
        return self._route("automation.sequences", "/enrollments")

    def sequence_enrollments_of_contact(self, contact_id: str | int) -> Route:
        return self._route(
            "automation.sequences", "/enrollments/contact/{contactId}", contactId=contact_id
        )
