"""What the plugin holds while the host serves: one HTTP client, one database, the connection
manager, the OAuth flow and the scheduled-send runner. Built at startup, closed at shutdown.

It is the one place services are built: `services_for(principal, portal_id)` answers the CRM,
marketing, analytics, sends and scoring services of the caller's connection, sharing the
per-portal caches kept here. Routes, the plugin's service factories and the scheduler all go
through it.

`transport` and `governor` are seams: demo mode and tests point the HTTP client at the
in-process sandbox (and may lift the rate budget) through them; production passes neither.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, cast

from atom_host_stub.contract import HostContext, Principal
from atom_hubspot.errors import StorageError
from atom_hubspot.settings import HubSpotSettings

if TYPE_CHECKING:
    import httpx

    from atom_hubspot.client import HubSpotClient, HubSpotHTTP, RateLimitGovernor
    from atom_hubspot.feed.receiver import WebhookReceiver
    from atom_hubspot.feed.runner import ChangeFeed
    from atom_hubspot.oauth import ConnectionManager, OAuthFlow
    from atom_hubspot.oauth.connections import ConnectionInfo
    from atom_hubspot.service.analytics import AnalyticsCache, AnalyticsService
    from atom_hubspot.service.crm import HubSpotCRMService
    from atom_hubspot.service.crm_objects import PortalProperties
    from atom_hubspot.service.list_sends import ListSendRunner, ListSendService
    from atom_hubspot.service.marketing import MarketingService, SendMode
    from atom_hubspot.service.mirror import MirrorAccess
    from atom_hubspot.service.nurture import NurtureService
    from atom_hubspot.service.scheduler import ScheduledSendRunner, ScheduledSends
    from atom_hubspot.service.scoring import ScoringService
    from atom_hubspot.service.sends import SendService
    from atom_hubspot.storage.db import Database
    from atom_hubspot.storage.mirror import MirrorStore
    from atom_hubspot.sync.runner import MirrorSyncRunner

log = logging.getLogger("atom_hubspot.runtime")

# Where the host context keeps the running plugin's runtime; `<STATE_KEY>.transport` and
# `<STATE_KEY>.governor` are the seams demo mode and tests fill before startup.
STATE_KEY = "hubspot"


def runtime_in(context: HostContext) -> HubSpotRuntime | None:
    """The running plugin's runtime, or None before startup and after shutdown."""
    return cast("HubSpotRuntime | None", context.state.get(STATE_KEY))


def runtime_of(context: HostContext) -> HubSpotRuntime:
    """The running plugin's runtime; Unavailable (503) when the plugin is not started."""
    from atom_hubspot.errors import Unavailable

    runtime = runtime_in(context)
    if runtime is None:
        raise Unavailable("The HubSpot plugin is not started; try again shortly.")
    return runtime


@dataclass(frozen=True)
class PortalServices:
    """The services of one principal's connection to one portal.

    The CRM service is made at once (nearly every route uses it); the others on first use, so
    a read that needs only the CRM does not build the marketing, sends and scoring services
    on every request."""

    principal: Principal
    connection: ConnectionInfo
    client: HubSpotClient
    crm: HubSpotCRMService
    runtime: HubSpotRuntime = field(repr=False, compare=False)
    send_mode: SendMode | None = field(default=None, repr=False, compare=False)

    @cached_property
    def marketing(self) -> MarketingService:
        from atom_hubspot.service.marketing import MarketingService
        from atom_hubspot.service.scheduler import send_mode_for

        settings = self.runtime.settings
        return MarketingService(
            self.client,
            send_concurrency=settings.send_concurrency,
            send_mode=self.send_mode or send_mode_for(settings),
        )

    @cached_property
    def analytics(self) -> AnalyticsService:
        from atom_hubspot.service.analytics import AnalyticsService

        return AnalyticsService(
            self.client,
            self.runtime.analytics_cache(),
            scope_key=self.connection.id,
            mirror=self.crm.mirror,
        )

    @cached_property
    def sends(self) -> SendService:
        from atom_hubspot.service.sends import SendService

        return SendService(
            self.marketing, self.runtime.scheduled_sends(), self.principal, self.connection
        )

    @cached_property
    def nurture(self) -> NurtureService:
        from atom_hubspot.service.nurture import NurtureService

        return NurtureService(self.client, self.marketing)

    @cached_property
    def list_sends(self) -> ListSendService:
        from atom_hubspot.service.list_sends import ListSendService
        from atom_hubspot.storage.list_sends import ListSendStore

        return ListSendService(self.client, ListSendStore(self.runtime.db), self.marketing)

    @cached_property
    def scoring(self) -> ScoringService:
        from atom_hubspot.service.scoring import ScoringService

        return ScoringService(
            self.client,
            self.crm,
            self.runtime.analytics_cache(),
            scope_key=self.connection.id,
            mirror=self.crm.mirror,
        )


@dataclass
class HubSpotRuntime:
    settings: HubSpotSettings
    http: HubSpotHTTP
    db: Database
    connections: ConnectionManager
    oauth: OAuthFlow
    scheduler: ScheduledSendRunner | None = None
    # Performs sends to lead lists that go one contact at a time (service/list_sends.py).
    list_sends: ListSendRunner | None = None
    # The mirror of each connected portal (storage/mirror/) and the sync that fills it.
    mirror: MirrorStore | None = None
    mirror_sync: MirrorSyncRunner | None = None
    # HubSpot's change events (webhooks, or the Webhooks Journal) applied to the mirror.
    feed: ChangeFeed | None = None
    # Per-portal facts worth keeping between requests (e.g. the account currency).
    portal_currency: dict[int, str | None] = field(default_factory=dict)
    # Custom property names in use per (portal, object kind), so reads can name them.
    custom_properties: dict[tuple[int | None, str], set[str]] = field(default_factory=dict)
    # Custom property names HubSpot's Properties API listed per (portal, object kind), with
    # their expiry: UI-made properties read back without a definitions call on every read.
    portal_properties: dict[tuple[int, str], PortalProperties] = field(default_factory=dict)
    # Analytics figures, briefly, keyed per connection (a portal's figures are never served to
    # a principal who has not connected it); made on first use.
    _analytics_cache: AnalyticsCache | None = field(default=None, repr=False)

    async def services_for(
        self,
        principal: Principal,
        portal_id: int | None = None,
        *,
        lane: str | None = None,
        send_mode: SendMode | None = None,
    ) -> PortalServices:
        """The services of `principal`'s connection to `portal_id` (default: their default
        portal); NotConnected when there is none. `lane`: the rate budget's lane their calls
        take (default interactive; `assistant` for agent tools, `sync` for background work).
        `send_mode`: how sends go out (default: as the settings say; a stored job keeps the
        mode it was created with)."""
        client, connection = await self.connections.client_for(principal, portal_id)
        if lane is not None:
            client = client.in_lane(lane)
        return self.services(principal, client, connection, send_mode=send_mode)

    def services(
        self,
        principal: Principal,
        client: HubSpotClient,
        connection: ConnectionInfo,
        *,
        send_mode: SendMode | None = None,
    ) -> PortalServices:
        """The services over a client already made for `connection` (the CRM service now,
        the others on first use)."""
        from atom_hubspot.service.crm import HubSpotCRMService

        crm = HubSpotCRMService(
            client,
            portal_id=connection.portal_id,
            currency_cache=self.portal_currency,
            custom_properties=self.custom_properties,
            property_names=self.portal_properties,
            mirror=self.mirror_access(principal, connection),
        )
        return PortalServices(principal, connection, client, crm, self, send_mode)

    def analytics_cache(self) -> AnalyticsCache:
        """The analytics figures kept briefly, shared by every connection (keyed per one)."""
        from atom_hubspot.service.analytics import AnalyticsCache

        if self._analytics_cache is None:
            self._analytics_cache = AnalyticsCache(self.settings.analytics_cache_s)
        return self._analytics_cache

    def webhooks(self) -> WebhookReceiver:
        """What takes HubSpot's webhook deliveries into the change feed's inbox."""
        from atom_hubspot.feed.receiver import WebhookReceiver

        return WebhookReceiver(self.settings, self.db, self.feed)

    def mirror_access(
        self, principal: Principal, connection: ConnectionInfo
    ) -> MirrorAccess | None:
        """The principal's view of the connection's portal mirror (None before start)."""
        from atom_hubspot.service.mirror import MirrorAccess

        if self.mirror is None:
            return None
        return MirrorAccess(
            self.mirror, connection.portal_id, principal.tenant_id, self.settings.mirror_max_lag_s
        )

    def scheduled_sends(self) -> ScheduledSends:
        """The scheduled sends table: a principal's own rows, and the runner's claims."""
        from atom_hubspot.service.scheduler import ScheduledSends

        return ScheduledSends(self.db)

    @classmethod
    async def start(
        cls,
        settings: HubSpotSettings,
        context: HostContext,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        governor: RateLimitGovernor | None = None,
        start_scheduler: bool = True,
    ) -> HubSpotRuntime:
        """Open the HTTP client and database, refuse an unmigrated database (the message says
        to run `atom-host migrate`), and start the scheduled-send runner."""
        from atom_hubspot.client import HubSpotHTTP, RateLimitGovernor
        from atom_hubspot.feed.runner import ChangeFeed
        from atom_hubspot.oauth import ConnectionManager, OAuthFlow
        from atom_hubspot.storage.db import Database
        from atom_hubspot.storage.mirror import MirrorStore
        from atom_hubspot.sync.runner import MirrorSyncRunner

        if governor is None:
            # The PostgreSQL-shared budget lives in the plugin's own database.
            governor = RateLimitGovernor.from_settings(settings, database_url=context.database_url)
        http = HubSpotHTTP(settings, transport=transport, governor=governor)
        db: Database | None = None
        try:
            cross = settings.cross_tenant_database_url
            db = Database(
                context.database_url,
                cross_tenant_url=cross.get_secret_value() if cross else None,
            )
            await db.check_migrated()
            problem = await db.cross_tenant_role_problem()
            if problem:
                raise StorageError(f"PostgreSQL: {problem}.")
            connections = ConnectionManager(settings, db, http)
            oauth = OAuthFlow(settings, connections, public_url=context.public_url)
            runtime = cls(settings=settings, http=http, db=db, connections=connections, oauth=oauth)
            runtime.mirror = MirrorStore(db)
            runtime.mirror_sync = MirrorSyncRunner(settings, db, connections)
            runtime.feed = ChangeFeed(settings, db, http, runtime.mirror, runtime.mirror_sync)
            if start_scheduler:
                runtime.scheduler = _start_scheduler(runtime)
                runtime.list_sends = _start_list_sends(runtime)
                if settings.sync_interval_s > 0:
                    runtime.mirror_sync.start()
                runtime.feed.start()
            return runtime
        except BaseException:
            await http.aclose()
            if db is not None:
                await db.dispose()
            raise

    async def aclose(self) -> None:
        """Stop the scheduler and the sync first (they use the client and the database), then
        close both."""
        scheduler, self.scheduler = self.scheduler, None
        list_sends, self.list_sends = self.list_sends, None
        try:
            if list_sends is not None:
                await list_sends.aclose()
            if self.feed is not None:
                await self.feed.aclose()
            if self.mirror_sync is not None:
                await self.mirror_sync.aclose()
            if scheduler is not None:
                await scheduler.aclose()
        finally:
            try:
                await self.http.aclose()
            finally:
                await self.db.dispose()


def _start_scheduler(runtime: HubSpotRuntime) -> ScheduledSendRunner | None:
    try:
        from atom_hubspot.service.scheduler import ScheduledSendRunner
    except ImportError as exc:  # the marketing part is optional for the CRM routes
        log.info("scheduled sends are off: %s", exc)
        return None
    runner = ScheduledSendRunner(runtime)
    runner.start()
    return runner


def _start_list_sends(runtime: HubSpotRuntime) -> ListSendRunner | None:
    try:
        from atom_hubspot.service.list_sends import ListSendRunner
    except ImportError as exc:  # the marketing part is optional for the CRM routes
        log.info("sends to lead lists are off: %s", exc)
        return None
    runner = ListSendRunner(runtime)
    runner.start()
    return runner
