"""Send a marketing email to lead lists, now or at a time, the way HubSpot allows for the email.

Two ways (facts sheet §11):
- `publish`: a regular email gets the lists as its recipients (`to.contactIlsLists.include`,
  the lists API's ids) and its `publishDate`, then HubSpot publishes it — it sends now, or
  schedules it; `unpublish` cancels a scheduled one. Needs Marketing Hub Enterprise or the
  transactional email add-on.
  https://developers.hubspot.com/docs/api-reference/latest/marketing/marketing-emails/emails/publish-email
  https://developers.hubspot.com/docs/api-reference/marketing-marketing-emails-v3/guide
- `fan_out`: an automated email (HubSpot sends those one contact at a time, through the
  single-send or transactional API) goes to each member of the lists in its own call. The job
  is durable (storage/list_sends.py): a restart resumes with the contacts not yet attempted; a
  call in flight when a process died is reported `unknown`, never repeated. The calls go in the
  governor's background lane, so the portal's budget paces them and people waiting for HubSpot
  go first.
The answer says which way was used; cancelling works for both.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from atom_host_stub.contract import Principal
from atom_hubspot.client.governor import SYNC
from atom_hubspot.errors import (
    Conflict,
    HubSpotError,
    InputError,
    MissingScopes,
    NotConnected,
    ReconnectRequired,
    TierRequired,
)
from atom_hubspot.service.email_sends import EmailTemplate, Recipient
from atom_hubspot.service.leased_loop import LeasedLoop
from atom_hubspot.service.marketing import MarketingService
from atom_hubspot.service.pages import ResultsPage
from atom_hubspot.service.tier_gate import tier_gate
from atom_hubspot.storage.list_sends import ListSendStore

if TYPE_CHECKING:
    from atom_hubspot.client import HubSpotClient
    from atom_hubspot.service.marketing import SendMode
    from atom_hubspot.service.scheduler import SendsRuntime
    from atom_hubspot.storage.models import ListSend

log = logging.getLogger("atom_hubspot.list_sends")

TIER_PUBLISH = "Marketing Hub Enterprise or the transactional email add-on"
MAX_LISTS = 20
MAX_SCHEDULE_AHEAD = timedelta(days=366)
FAN_OUT_BATCH = 50
FAN_OUT_LEASE = "hubspot.list-sends"
STALE_AFTER = timedelta(minutes=5)

Way = Literal["publish", "fan_out"]
ListSendStatus = Literal[
    "pending", "running", "scheduled", "sent", "partial", "failed", "cancelled"
]


class ListSendProgress(BaseModel):
    total: int = Field(examples=[240])
    sent: int = Field(examples=[200])
    failed: int = 0
    skipped: int = 0
    unknown: int = 0
    pending: int = Field(default=0, description="Not attempted yet")
    cancelled: int = 0


class ListSendInfo(BaseModel):
    id: str = Field(examples=["3f1c2a9e-8d44-4b7a-9a51-0c7d9b0f1e22"])
    portal_id: int = Field(examples=[1234567])
    email_id: int = Field(examples=[100000011])
    list_ids: list[str] = Field(examples=[["12", "15"]])
    way: Way = Field(
        description="publish: HubSpot sends to the lists (the email's recipients are set and it "
        "is published); fan_out: one single-send call per list member, performed by the plugin"
    )
    send_mode: str | None = Field(
        default=None, description="fan_out only: single_send or transactional"
    )
    send_at: datetime
    status: ListSendStatus = Field(examples=["scheduled"])
    progress: ListSendProgress | None = Field(
        default=None, description="fan_out only: recipients per state"
    )
    error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def of(cls, row: ListSend, counts: dict[str, int] | None = None) -> ListSendInfo:
        progress = None
        if row.way == "fan_out":
            c = counts or {}
            progress = ListSendProgress(
                total=sum(c.values()),
                sent=c.get("sent", 0),
                failed=c.get("failed", 0),
                skipped=c.get("skipped", 0),
                unknown=c.get("unknown", 0),
                pending=c.get("pending", 0) + c.get("sending", 0),
                cancelled=c.get("cancelled", 0),
            )
        return cls(
            id=row.id,
            portal_id=row.portal_id,
            email_id=row.email_id,
            list_ids=[str(x) for x in row.list_ids or []],
            way=row.way,  # type: ignore[arg-type]  # str column; pydantic checks it
            send_mode=row.send_mode,
            send_at=row.send_at,
            status=row.status,  # type: ignore[arg-type]  # str column; pydantic checks it
            progress=progress,
            error=row.error,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class ListSendPage(ResultsPage[ListSendInfo]):
    """Sends to lead lists, latest first."""


def is_automated(email: EmailTemplate) -> bool:
    return "AUTOMATED" in (email.type or "").upper()


def choose_way(email: EmailTemplate) -> Way:
    """Automated emails go one contact at a time (HubSpot's single-send); regular ones are
    published to the lists. A regular email HubSpot already sent cannot be sent again."""
    if is_automated(email):
        if email.is_published is False or "DRAFT" in (email.state or "").upper():
            raise Conflict(
                f"Email {email.id} is an automated email that is not published: it must be "
                "published in HubSpot before it can be sent.",
                state=email.state,
            )
        return "fan_out"
    if (email.state or "").upper() in ("PUBLISHED", "SCHEDULED", "PROCESSING", "SENT"):
        raise Conflict(
            f"Email {email.id} was already sent or scheduled ({email.state}); clone it in "
            "HubSpot to send it again.",
            state=email.state,
        )
    return "publish"


class ListSendService:
    """Sends to lead lists for one principal's connection."""

    def __init__(
        self,
        client: HubSpotClient,
        store: ListSendStore,
        marketing: MarketingService,
        *,
        clock: Any = None,
    ) -> None:
        self.client = client
        self.store = store
        self.marketing = marketing
        self.clock = clock or (lambda: datetime.now(UTC))

    async def create(
        self,
        principal: Principal,
        *,
        portal_id: int,
        connection_id: str,
        email_id: int,
        list_ids: list[str],
        send_at: datetime | None,
    ) -> ListSendInfo:
        now = self.clock()
        when = _check_send_at(send_at, now)
        ids = list(dict.fromkeys(list_ids))
        for lid in ids:  # 404 for a list that is not a contacts list, before anything changes
            await self.marketing.get_lead_list(lid)
        email = await self.marketing.get_email_template(email_id)
        way = choose_way(email)
        if way == "publish":
            await self._publish(email_id, ids, when if when > now else None)
            row = await self.store.create(
                principal,
                portal_id=portal_id,
                connection_id=connection_id,
                email_id=email_id,
                list_ids=ids,
                way="publish",
                send_mode=None,
                send_at=when,
                status="scheduled" if when > now else "sent",
            )
            return ListSendInfo.of(row)
        row = await self.store.create(
            principal,
            portal_id=portal_id,
            connection_id=connection_id,
            email_id=email_id,
            list_ids=ids,
            way="fan_out",
            send_mode=self.marketing.send_mode,
            send_at=when,
            status="pending",
        )
        return ListSendInfo.of(row, {})

    async def _publish(self, email_id: int, list_ids: list[str], at: datetime | None) -> None:
        paths = self.client.http.paths
        body: dict[str, Any] = {
            "to": {"contactIlsLists": {"include": list_ids, "exclude": []}},
        }
        if at is not None:
            body["publishDate"] = at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        async with tier_gate(TIER_PUBLISH, "Publishing a marketing email to lists"):
            await self.client.json("PATCH", paths.email(email_id), json=body)
            # Not repeatable: a publish that got no answer may have sent the email.
            await self.client.json(
                "POST", paths.email_publish(email_id), repeatable=False, tier=TIER_PUBLISH
            )

    async def cancel(self, principal: Principal, send_id: str) -> ListSendInfo:
        row = await self.store.get(principal, send_id)
        if row.way == "publish":
            if row.status != "scheduled":
                raise Conflict(
                    f"List send {send_id} is {row.status}; only a scheduled one can be cancelled.",
                    existing_id=send_id,
                    status_now=row.status,
                )
            async with tier_gate(TIER_PUBLISH, "Cancelling a scheduled marketing email"):
                await self.client.json(
                    "POST", self.client.http.paths.email_unpublish(row.email_id), tier=TIER_PUBLISH
                )
            await self.store.cancel(principal, send_id, allowed=("scheduled",))
        else:
            await self.store.cancel(principal, send_id, allowed=("pending", "running"))
        return await info(self.store, principal, send_id)


async def info(store: ListSendStore, principal: Principal, send_id: str) -> ListSendInfo:
    row = await store.get(principal, send_id)
    counts = await store.progress(principal.tenant_id, [row.id])
    return ListSendInfo.of(row, counts.get(row.id))


async def page(
    store: ListSendStore, principal: Principal, *, portal_id: int | None, limit: int, offset: int
) -> ListSendPage:
    rows = await store.list_for(principal, portal_id=portal_id, limit=limit + 1, offset=offset)
    counts = await store.progress(principal.tenant_id, [r.id for r in rows[:limit]])
    return ListSendPage(
        results=[ListSendInfo.of(r, counts.get(r.id)) for r in rows[:limit]],
        next_after=str(offset + limit) if len(rows) > limit else None,
    )


def _check_send_at(send_at: datetime | None, now: datetime) -> datetime:
    if send_at is None:
        return now
    if send_at.tzinfo is None:
        raise InputError(
            "send_at needs a time zone (e.g. 2026-12-01T09:00:00Z)",
            errors=[{"field": "send_at", "message": "no time zone"}],
        )
    if send_at - now > MAX_SCHEDULE_AHEAD:
        raise InputError(
            "send_at is more than a year ahead",
            errors=[{"field": "send_at", "message": "too far ahead"}],
        )
    return max(send_at, now)


# --------------------------------------------------------------------------- the fan-out runner

# Errors that fail every recipient alike: the job stops, the rest stay not attempted.
_STOPS_THE_JOB = (TierRequired, MissingScopes, NotConnected, ReconnectRequired)


class ListSendRunner(LeasedLoop):
    """Performs fan-out jobs in the background of the process holding the lease."""

    def __init__(
        self,
        runtime: SendsRuntime,
        *,
        interval_s: float | None = None,
        stale_after: timedelta = STALE_AFTER,
        batch_size: int = FAN_OUT_BATCH,
        lease_ttl_s: float = 30.0,
    ) -> None:
        super().__init__(
            runtime.db,
            FAN_OUT_LEASE,
            worker_id=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
            interval_s=interval_s or runtime.settings.scheduler_interval_s,
            lease_ttl_s=lease_ttl_s,
            what="list sends",
        )
        self.runtime = runtime
        self.stale_after = stale_after
        self.batch_size = batch_size
        self.store = ListSendStore(runtime.db)

    async def run_once(self) -> bool:
        """Claim one due (or abandoned) job and perform it; False when there was none."""
        job = await self.store.claim_due(
            self.worker_id, self.stale_after, self.runtime.settings.environment.value
        )
        if job is None:
            return False
        await self.perform(job)
        return True

    async def perform(self, job: ListSend) -> None:
        principal = Principal(tenant_id=job.tenant_id, user_id=job.user_id)
        mode: SendMode = "transactional" if job.send_mode == "transactional" else "single_send"
        try:
            services = await self.runtime.services_for(
                principal, job.portal_id, lane=SYNC, send_mode=mode
            )
        except HubSpotError as err:
            await self.store.finish(job.id, self.worker_id, "failed", f"{err.code}: {err.message}")
            return
        service = services.marketing
        try:
            if not job.expanded:
                members = await _members(service, [str(x) for x in job.list_ids or []])
                await self.store.add_recipients(job.id, job.tenant_id, members)
            else:
                unknown = await self.store.in_flight_to_unknown(job.id)
                if unknown:
                    log.warning(
                        "list send %s: %d recipient(s) unknown after a restart", job.id, unknown
                    )
            await self._send_all(job, service)
        except HubSpotError as err:
            await self.store.finish(job.id, self.worker_id, "failed", f"{err.code}: {err.message}")

    async def _send_all(self, job: ListSend, service: MarketingService) -> None:
        stopped: str | None = None
        while not self._stopping.is_set():
            batch = await self.store.take_batch(job.id, self.worker_id, self.batch_size)
            if not batch:
                break
            try:
                summary = await service.send_email(
                    int(job.email_id),
                    [Recipient(contact_id=c) for c in batch],
                    raise_when_nothing_sent=True,
                    send_key=f"{job.id.replace('-', '')}{batch[0]}",
                )
            except _STOPS_THE_JOB as err:
                await self.store.release_batch(job.id, batch)
                stopped = f"{err.code}: {err.message}"
                break
            except HubSpotError as err:
                # Nothing was sent (reading the addresses failed, or every call was refused
                # alike, e.g. the daily limit): the batch goes back, the job waits for a tick.
                await self.store.release_batch(job.id, batch)
                await self.store.finish(
                    job.id, self.worker_id, "pending", f"{err.code}; will retry"
                )
                log.info("list send %s: batch put back (%s)", job.id, err.code)
                return
            await self.store.record(
                job.id,
                [(c, r.status, r.error) for c, r in zip(batch, summary.results, strict=True)],
            )
        if self._stopping.is_set():
            return  # another holder (or this one after a restart) resumes it
        counts = (await self.store.progress(job.tenant_id, [job.id]))[job.id]
        if stopped is not None:
            await self.store.finish(job.id, self.worker_id, "failed", stopped)
            return
        if counts.get("pending", 0) or counts.get("sending", 0):
            return  # cancelled meanwhile, or the claim moved on
        sent = counts.get("sent", 0)
        total = sum(counts.values())
        status = (
            "sent" if sent == total else ("partial" if sent or counts.get("unknown") else "failed")
        )
        error = (
            None if status == "sent" else ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        )
        await self.store.finish(job.id, self.worker_id, status, error)
        log.info("list send %s performed: %s (%d of %d sent)", job.id, status, sent, total)


async def _members(service: MarketingService, list_ids: list[str]) -> list[str]:
    out: list[str] = []
    for lid in list_ids:
        after: str | None = None
        while True:
            pg = await service.list_members(lid, limit=100, after=after)
            out += [str(x) for x in pg.results]
            after = pg.next_after
            if not after:
                break
    return out
