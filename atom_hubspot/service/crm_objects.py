"""HubSpot records in HubSpot's own terms, for one principal's connection.

`HubSpotObjects` holds what every CRM operation shares: the client, the per-portal caches of
custom property names and account currency, and the mirror that writes' answers go to. Its
methods speak HubSpot's property names and answer the client's models; `crm.HubSpotCRMService`
builds the host's `crm` capability and the routes' record answers on top of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from atom_host_stub.contract import ObjectKind, Pipeline, Stage
from atom_hubspot.client import HubSpotClient, ObjectsAPI, inline_association
from atom_hubspot.client.models import CrmObject
from atom_hubspot.client.search import FilterGroup
from atom_hubspot.errors import HubSpotError, MissingScopes, NotFound
from atom_hubspot.service import mapping
from atom_hubspot.service.crm_requests import (
    SortSpec,
    build_search_request,
    existing_record_id,
    page_limit,
)
from atom_hubspot.service.mirror import (
    MirrorAccess,
)
from atom_hubspot.service.scoring import ScoreProperty, score_properties

log = logging.getLogger("atom_hubspot.service.crm")

MAX_CUSTOM_READ = 200  # custom property names added to a read, at most (URL length)
# Custom properties made in HubSpot's UI show up on reads within this time.
PROPERTY_NAMES_TTL_S = 300.0
# After a failure other than a refusal, ask again this soon (not on every read meanwhile).
PROPERTY_NAMES_RETRY_S = 30.0


@dataclass(frozen=True)
class PortalProperties:
    """The custom property names of one (portal, object type), from HubSpot's Properties API.

    `readable` is False while the token may not read property definitions (403): reads then
    name only the custom properties written through the plugin.
    """

    names: frozenset[str]
    expires_at: float  # on the service's clock (monotonic)
    readable: bool = True
    # The score properties among the definitions (contacts; see service/scoring.py).
    scores: tuple[ScoreProperty, ...] = ()


@dataclass
class ObjectsPage:
    """One page of HubSpot records; `next_after` is HubSpot's `after` cursor."""

    results: list[CrmObject]
    next_after: str | None
    total: int | None = None


def email_lookup(kind: ObjectKind, groups: Sequence[FilterGroup]) -> str | None:
    """The e-mail address when the query is exactly "the contact with this e-mail"."""
    live = [g for g in groups if g.filters]
    if kind != "contact" or len(live) != 1 or len(live[0].filters) != 1:
        return None
    only = live[0].filters[0]
    if only.property_name != "email" or only.operator != "EQ" or not only.value:
        return None
    return only.value


class HubSpotObjects:
    """HubSpot records of one principal's connection, in HubSpot's own terms: the caches of
    property names and currency, reads and writes, associations, pipelines."""

    def __init__(
        self,
        client: HubSpotClient,
        *,
        portal_id: int | None = None,
        account_currency: str | None = None,
        currency_cache: dict[int, str | None] | None = None,
        custom_properties: dict[tuple[int | None, str], set[str]] | None = None,
        property_names: dict[tuple[int, str], PortalProperties] | None = None,
        clock: Callable[[], float] = time.monotonic,
        mirror: MirrorAccess | None = None,
    ) -> None:
        self.client = client
        # The portal's mirror: reads with source mirror/auto, and writes' answers go there.
        self.mirror = mirror
        self.portal_id = portal_id if portal_id is not None else client.portal_id
        self._currency = account_currency
        self._currency_known = account_currency is not None
        # Shared between services of a process: the account currency rarely changes.
        self._currency_cache = currency_cache if currency_cache is not None else {}
        # HubSpot returns only the properties a read names. Custom properties written through
        # the plugin are remembered per (portal, object type) and named on later reads, so
        # they read back (HubSpot ignores names that do not exist on reads).
        self._custom = custom_properties if custom_properties is not None else {}
        # Custom properties made in HubSpot's UI are only known from the Properties API; its
        # answer is shared per portal between services of a process for PROPERTY_NAMES_TTL_S.
        self._property_names = property_names if property_names is not None else {}
        self._clock = clock

    async def read_properties(self, kind: ObjectKind) -> list[str]:
        """The properties a read asks for when the caller did not choose: the mapped ones and
        the portal's custom ones — those written through the plugin first, then those HubSpot's
        Properties API lists (HubSpot ignores names that do not exist on reads)."""
        written = self._custom.get((self.portal_id, kind), set())
        portal = await self._portal_properties(kind)
        listed = portal.names
        default = set(mapping.DEFAULT_PROPERTIES[kind])
        # The portal's scores are read too (HubSpot's `hubspotscore` is not custom).
        scores = [s.name for s in portal.scores if s.name not in default]
        extra = [n for n in sorted(written) if n not in default]
        extra += [n for n in sorted(listed - written) if n not in default]
        extra += [n for n in scores if n not in extra]
        return mapping.DEFAULT_PROPERTIES[kind] + extra[:MAX_CUSTOM_READ]

    async def score_properties(self) -> tuple[tuple[ScoreProperty, ...], bool]:
        """The portal's contact score properties, and whether its property definitions could
        be read at all (from the same cached Properties API answer as the custom names)."""
        portal = await self._portal_properties("contact")
        return portal.scores, portal.readable

    async def _listed_custom_properties(self, kind: ObjectKind) -> frozenset[str]:
        return (await self._portal_properties(kind)).names

    async def _portal_properties(self, kind: ObjectKind) -> PortalProperties:
        """Custom (not HubSpot-defined, not archived) property names of `kind` in this portal,
        and its score properties, cached. Never fails a read: on an error what was last known
        (or nothing) is used."""
        key = (self.portal_id, kind) if self.portal_id is not None else None
        now = self._clock()
        cached = self._property_names.get(key) if key is not None else None
        if cached is not None and cached.expires_at > now:
            return cached
        object_type = mapping.OBJECT_TYPES[kind]
        try:
            definitions = await self.client.properties.list(object_type)
        except HubSpotError as exc:
            stale = cached.names if cached is not None else frozenset()
            stale_scores = cached.scores if cached is not None else ()
            if isinstance(exc, MissingScopes) or exc.status == 403:
                # A connection made before the plugin asked for crm.schemas.*.read: say so
                # once (not on every read), and retry after the usual lifetime, in case the
                # user reconnected with the scope.
                if cached is None or cached.readable:
                    log.info(
                        "HubSpot portal %s: cannot read %s property definitions (%s); only "
                        "custom properties written through the plugin are read back until "
                        "the user reconnects with the scope",
                        self.portal_id,
                        object_type,
                        ", ".join(getattr(exc, "required_scopes", None) or [])
                        or f"crm.schemas.{object_type}.read",
                    )
                entry = PortalProperties(
                    stale, now + PROPERTY_NAMES_TTL_S, readable=False, scores=stale_scores
                )
            else:
                log.warning(
                    "HubSpot portal %s: %s property definitions unavailable (%s, correlation "
                    "id %s); using the names known so far",
                    self.portal_id,
                    object_type,
                    exc.code,
                    exc.correlation_id,
                )
                readable = cached.readable if cached is not None else True
                entry = PortalProperties(
                    stale, now + PROPERTY_NAMES_RETRY_S, readable=readable, scores=stale_scores
                )
        else:
            names = frozenset(d.name for d in definitions if d.is_custom and not d.archived)
            scores = score_properties(definitions) if kind == "contact" else ()
            entry = PortalProperties(names, now + PROPERTY_NAMES_TTL_S, scores=scores)
        if key is not None:
            self._property_names[key] = entry
        return entry

    def _remember(self, kind: ObjectKind, properties: Mapping[str, str]) -> None:
        names = set(properties) - set(mapping.DEFAULT_PROPERTIES[kind])
        if names:
            self._custom.setdefault((self.portal_id, kind), set()).update(names)

    def _api(self, kind: ObjectKind) -> ObjectsAPI:
        apis = {
            "contact": self.client.contacts,
            "company": self.client.companies,
            "deal": self.client.deals,
        }
        return apis[kind]

    async def _mirror_wrote(self, kind: ObjectKind, obj: CrmObject) -> None:
        """Read-your-writes: HubSpot's answer goes into the mirror before the caller has it.
        A mirror that cannot take it must not fail a write HubSpot made: it is logged, and the
        next sync brings the record."""
        if self.mirror is None:
            return
        from atom_hubspot.sync.objects import to_mirrored

        try:
            await self.mirror.wrote(mapping.OBJECT_TYPES[kind], to_mirrored(obj))
        except HubSpotError as exc:
            log.warning(
                "portal %s: a write's answer did not reach the mirror (%s)",
                self.portal_id,
                exc.code,
            )

    # ------------------------------------------------------------------ HubSpot-shaped

    async def list_objects(
        self,
        kind: ObjectKind,
        *,
        limit: int = 20,
        after: str | None = None,
        properties: Sequence[str] | None = None,
        groups: Sequence[FilterGroup] = (),
        sorts: Sequence[SortSpec] = (),
        query: str | None = None,
    ) -> ObjectsPage:
        """A page of records. Plain listing when nothing narrows or orders it (cheaper, and
        not subject to search's 5 requests/s); HubSpot search otherwise."""
        limit = page_limit(limit)
        props = list(properties) if properties else await self.read_properties(kind)
        api = self._api(kind)
        email = email_lookup(kind, groups) if not sorts and not query and not after else None
        if email is not None:
            # A contact by e-mail is a read by unique property, not a search: HubSpot's search
            # index trails writes by seconds, so a contact made a moment ago is found this way.
            try:
                one = await api.get(email, id_property="email", properties=props)
            except NotFound:
                return ObjectsPage(results=[], next_after=None, total=0)
            return ObjectsPage(results=[one], next_after=None, total=1)
        if not any(g.filters for g in groups) and not sorts and not query:
            page = await api.list(limit=limit, after=after, properties=props)
        else:
            req = build_search_request(
                groups,
                sorts=sorts,
                properties=props,
                limit=limit,
                after=after,
                query=query,
            )
            page = await api.search(req)
        return ObjectsPage(results=list(page.results), next_after=page.next_after, total=page.total)

    async def get_object(
        self,
        kind: ObjectKind,
        record_id: str,
        *,
        properties: Sequence[str] | None = None,
        associations: Sequence[str] | None = None,
    ) -> CrmObject:
        props = list(properties) if properties else await self.read_properties(kind)
        return await self._api(kind).get(
            existing_record_id(record_id),
            properties=props,
            associations=list(associations or []) or None,
        )

    async def create_object(
        self,
        kind: ObjectKind,
        properties: Mapping[str, str],
        *,
        contact_ids: Sequence[str] = (),
        company_ids: Sequence[str] = (),
    ) -> CrmObject:
        """Create a record; a deal's contacts and companies are associated inline (one call)."""
        from_type = mapping.OBJECT_TYPES[kind]
        assoc = [inline_association(from_type, "contacts", i) for i in contact_ids]
        assoc += [inline_association(from_type, "companies", i) for i in company_ids]
        obj = await self._api(kind).create(dict(properties), associations=assoc or None)
        self._remember(kind, properties)
        await self._mirror_wrote(kind, obj)
        return obj

    async def update_object(
        self,
        kind: ObjectKind,
        record_id: str,
        properties: Mapping[str, str],
        *,
        contact_ids: Sequence[str] = (),
        company_ids: Sequence[str] = (),
    ) -> CrmObject:
        rid = existing_record_id(record_id)
        api = self._api(kind)
        if properties:
            obj = await api.update(rid, dict(properties))
            self._remember(kind, properties)
        else:
            obj = await api.get(rid, properties=await self.read_properties(kind))
        from_type = mapping.OBJECT_TYPES[kind]
        for to_type, ids in (("contacts", contact_ids), ("companies", company_ids)):
            for to_id in ids:
                await self.client.associations.link_default(from_type, rid, to_type, to_id)
        await self._mirror_wrote(kind, obj)
        return obj

    async def associate(
        self, kind: ObjectKind, record_id: str, to_kind: ObjectKind, to_id: str
    ) -> None:
        """Link two records with HubSpot's default (unlabelled) association; repeatable. Both
        are read first, so an id this portal does not have answers 404, not a dangling link."""
        rid, tid = existing_record_id(record_id), existing_record_id(to_id)
        await self._api(kind).get(rid, properties=["hs_object_id"])
        await self._api(to_kind).get(tid, properties=["hs_object_id"])
        await self.client.associations.link_default(
            mapping.OBJECT_TYPES[kind], rid, mapping.OBJECT_TYPES[to_kind], tid
        )

    async def archive_object(self, kind: ObjectKind, record_id: str) -> None:
        """Archive (HubSpot keeps it restorable for 90 days). HubSpot answers 204 even for an
        id that does not exist, so the record is read first to answer 404 honestly."""
        rid = existing_record_id(record_id)
        api = self._api(kind)
        await api.get(rid, properties=["hs_object_id"])
        await api.archive(rid)
        if self.mirror is not None:
            await self.mirror.archived(mapping.OBJECT_TYPES[kind], int(rid))

    async def pipelines(self) -> list[Pipeline]:
        return [mapping.to_pipeline(p) for p in await self.client.pipelines.list("deals")]

    async def stages(self, pipeline_id: str) -> list[Stage]:
        stages = [mapping.to_stage(s) for s in await self.client.pipelines.stages(pipeline_id)]
        stages.sort(key=lambda s: s.display_order)
        return stages

    async def account_currency(self) -> str | None:
        """The portal's company currency (for deal amounts without their own), cached."""
        if self._currency_known:
            return self._currency
        if self.portal_id is not None and self.portal_id in self._currency_cache:
            self._currency = self._currency_cache[self.portal_id]
        else:
            try:
                details = await self.client.account.details()
                self._currency = details.company_currency or None
            except HubSpotError:
                # Not worth failing a read over: the currency is then reported as unknown.
                self._currency = None
                self._currency_known = True
                return None
            if self.portal_id is not None:
                self._currency_cache[self.portal_id] = self._currency
        self._currency_known = True
        return self._currency
