"""What the plugin holds while the host serves: one HTTP client, one database, the connection
manager, the OAuth flow and the scheduled-send runner. Built at startup, closed at shutdown.

`transport` and `governor` are seams: demo mode and tests point the HTTP client at the
in-process sandbox (and may lift the rate budget) through them; production passes neither.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from atom_host_stub.contract import HostContext
from atom_hubspot.settings import HubSpotSettings

if TYPE_CHECKING:
    from atom_hubspot.client import HubSpotHTTP, RateLimitGovernor
    from atom_hubspot.oauth import ConnectionManager, OAuthFlow
    from atom_hubspot.service.crm import PortalProperties
    from atom_hubspot.storage.db import Database

log = logging.getLogger("atom_hubspot.runtime")


@dataclass
class HubSpotRuntime:
    settings: HubSpotSettings
    http: HubSpotHTTP
    db: Database
    connections: ConnectionManager
    oauth: OAuthFlow
    scheduler: Any = None
    # Per-portal facts worth keeping between requests (e.g. the account currency).
    portal_currency: dict[int, str | None] = field(default_factory=dict)
    # Custom property names in use per (portal, object kind), so reads can name them.
    custom_properties: dict[tuple[int | None, str], set[str]] = field(default_factory=dict)
    # Custom property names HubSpot's Properties API listed per (portal, object kind), with
    # their expiry: UI-made properties read back without a definitions call on every read.
    portal_properties: dict[tuple[int, str], PortalProperties] = field(default_factory=dict)

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
        from atom_hubspot.oauth import ConnectionManager, OAuthFlow
        from atom_hubspot.storage.db import Database

        if governor is None:
            # The PostgreSQL-shared budget lives in the plugin's own database.
            governor = RateLimitGovernor.from_settings(settings, database_url=context.database_url)
        http = HubSpotHTTP(settings, transport=transport, governor=governor)
        db: Database | None = None
        try:
            db = Database(context.database_url)
            await db.check_migrated()
            connections = ConnectionManager(settings, db, http)
            oauth = OAuthFlow(settings, connections, public_url=context.public_url)
            runtime = cls(settings=settings, http=http, db=db, connections=connections, oauth=oauth)
            if start_scheduler:
                runtime.scheduler = _start_scheduler(runtime)
            return runtime
        except BaseException:
            await http.aclose()
            if db is not None:
                await db.dispose()
            raise

    async def aclose(self) -> None:
        """Stop the scheduler first (it uses the client and the database), then close both."""
        scheduler, self.scheduler = self.scheduler, None
        try:
            if scheduler is not None:
                await scheduler.aclose()
        finally:
            try:
                await self.http.aclose()
            finally:
                await self.db.dispose()


def _start_scheduler(runtime: HubSpotRuntime) -> Any:
    try:
        from atom_hubspot.service.scheduler import ScheduledSendRunner
    except ImportError as exc:  # the marketing part is optional for the CRM routes
        log.info("scheduled sends are off: %s", exc)
        return None
    runner = ScheduledSendRunner(runtime)
    runner.start()
    return runner
