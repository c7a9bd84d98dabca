"""HubSpotHTTP: the one HTTP conversation with HubSpot per process.

One shared wire (client/wire.py: aiohttp's keep-alive pool for real HTTP, httpx over any
other transport; explicit timeouts, base URL from settings, `User-Agent:
atom-hubspot/<version>`), the rate-limit governor before every call, retries for calls that
are safe to repeat, HubSpot errors mapped to `atom_hubspot.errors`, and one DEBUG line per
call (method, path template, status, ms, correlationId) — never a token, never a concrete
path (it may hold an email or a token).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import httpx

from atom_hubspot.__about__ import __version__
from atom_hubspot.client.auth import TokenProvider
from atom_hubspot.client.error_mapping import correlation_id, map_error
from atom_hubspot.client.governor import INTERACTIVE, RateLimitGovernor, Sleep
from atom_hubspot.client.paths import Paths, Route
from atom_hubspot.client.wire import Wire, make_wire
from atom_hubspot.errors import (
    HubSpotError,
    OutcomeUnknown,
    RateLimited,
    Unavailable,
)
from atom_hubspot.settings import HubSpotSettings

log = logging.getLogger("atom_hubspot.client")

USER_AGENT = f"atom-hubspot/{__version__}"
DEFAULT_HEADERS = {"User-Agent": USER_AGENT, "Accept": "application/json"}
RETRY_STATUSES = frozenset({502, 503, 504})
# A plain 500 is often transient at HubSpot, but may be a bug that answers the same every time:
# reads (nothing changes) are tried again, at most this many times.
READ_RETRIES_ON_500 = 2
# Full-jitter exponential backoff for 5xx / network retries.
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0


@dataclass
class Call:
    """One HubSpot call as the resource APIs describe it.

    `repeatable`: sending it twice does no harm (GET, PUT, DELETE, PATCH by id, search, batch
    read, upsert, archive). A create or a send is not: once it may have reached HubSpot it is
    never re-sent (HubSpot has no idempotency keys).
    `portal`: the governor key; None for calls outside the per-account limits (OAuth).
    `tier`: the HubSpot tier/add-on a 403 means is missing, for tier-gated APIs.
    `secrets`: strings of the call that must never surface (form tokens, client secret).
    `lane`: the governor lane (a person waiting, or the mirror's sync).
    """

    method: str
    route: Route
    token: TokenProvider | None = None
    portal: str | None = None
    params: Mapping[str, Any] | list[tuple[str, Any]] | None = None
    json: Any = None
    data: Mapping[str, str] | None = None
    repeatable: bool = True
    search: bool = False
    tier: str | None = None
    secrets: tuple[str, ...] = ()
    ok_statuses: tuple[int, ...] = ()
    lane: str = INTERACTIVE


class _HttpxURLFilter(logging.Filter):
    """httpx logs every request's full URL at INFO. HubSpot URLs may carry an email
    (`idProperty=email` reads) or, on the legacy OAuth API, a token in the path, so those
    records are dropped; our own DEBUG line (with the path template) records the call."""

    def __init__(self) -> None:
        super().__init__("atom-hubspot-url-filter")
        self.base_urls: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        for arg in args:
            if isinstance(arg, httpx.URL | str):
                text = str(arg)
                if any(text.startswith(base) for base in self.base_urls):
                    return False
        return True


_URL_FILTER = _HttpxURLFilter()


def _install_url_filter(base_url: str) -> None:
    _URL_FILTER.base_urls.add(base_url.rstrip("/") + "/")
    httpx_log = logging.getLogger("httpx")
    if _URL_FILTER not in httpx_log.filters:
        httpx_log.addFilter(_URL_FILTER)


class _Retry(Exception):
    """An attempt failed in a way worth another try (after `wait_s` when HubSpot says)."""

    def __init__(self, error: HubSpotError, wait_s: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.wait_s = wait_s


@dataclass
class _CallState:
    secrets: set[str] = field(default_factory=set)
    started: float = 0.0
    retries_on_500: int = 0


def _is_read(call: Call) -> bool:
    """A call that only reads: GET, search, batch read."""
    return call.method == "GET" or call.search or call.route.only_reads


class HubSpotHTTP:
    """One per process. Cheap `HubSpotClient`s (one per connection) share it."""

    def __init__(
        self,
        settings: HubSpotSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        wire: Wire | None = None,
        governor: RateLimitGovernor | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Sleep | None = None,
        rng: Callable[[], float] = random.random,
        batch_concurrency: int = 4,
    ) -> None:
        self.settings = settings
        self.paths = Paths(settings.api_version)
        self.governor = governor or RateLimitGovernor.from_settings(settings)
        self.clock = clock or self.governor.clock
        self.sleep = sleep or self.governor.sleep
        self._rng = rng
        self.batch_concurrency = batch_concurrency
        timeout = httpx.Timeout(
            connect=settings.connect_timeout_s,
            read=settings.read_timeout_s,
            write=settings.read_timeout_s,
            pool=settings.total_timeout_s,
        )
        self.wire: Wire = wire or make_wire(
            settings.app.api_base_url,
            transport=transport,
            timeout=timeout,
            headers=DEFAULT_HEADERS,
        )
        _install_url_filter(settings.app.api_base_url)
        self.calls = 0  # HTTP requests sent (diagnostics, benchmarks)

    async def aclose(self) -> None:
        await self.wire.aclose()
        # Releases the governor's connections only (a shared one reconnects when used again;
        # the budget it keeps stays).
        await self.governor.aclose()

    # ------------------------------------------------------------------ public

    async def send(self, call: Call) -> httpx.Response:
        """Send `call` through the governor, retrying when safe; raise a HubSpotError else.

        A plain loop rather than a retry library: most calls succeed at once, and those pay
        for nothing but the attempt."""
        state = _CallState(secrets=set(call.secrets), started=self.clock())
        attempt = 1
        while True:
            try:
                return await self._attempt(call, state)
            except _Retry as failed:
                wait = self._wait(failed, attempt)
                spent = self.clock() - state.started
                # Give up now if the next wait would break the total time cap anyway.
                if (
                    attempt >= self.settings.retry_max_attempts
                    or spent + wait > self.settings.retry_max_seconds
                ):
                    failed.error.details.setdefault("attempts", attempt)
                    raise failed.error from None
                log.info(
                    "hubspot %s %s: retry %d in %.2f s after %s",
                    call.method,
                    call.route.template,
                    attempt,
                    wait,
                    failed.error.status or failed.error.message,
                )
            await self.sleep(wait)
            attempt += 1

    async def json(self, call: Call) -> Any:
        """`send` and decode the JSON answer ({} for an empty one, e.g. 204)."""
        response = await self.send(call)
        if not response.content.strip():
            return {}
        try:
            return response.json()
        except ValueError:
            raise Unavailable(
                f"HubSpot answered {call.method} {call.route.template} with a body that is "
                "not JSON",
                status=response.status_code,
                correlation_id=response.headers.get("x-hubspot-correlation-id"),
            ) from None

    # ------------------------------------------------------------------ retry policy

    def _wait(self, failed: _Retry, attempt: int) -> float:
        """Seconds before the next try after `attempt` failed."""
        if failed.wait_s is not None:
            # HubSpot said how long; a little jitter so the waiters do not all align.
            return float(failed.wait_s) + float(self._rng()) * 0.25
        return float(self._rng()) * min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** (attempt - 1))

    # ------------------------------------------------------------------ one attempt

    async def _attempt(self, call: Call, state: _CallState) -> httpx.Response:
        headers: dict[str, str] = {}
        if call.token is not None:
            # Before taking budget: a token refresh may take a while.
            token = await call.token.access_token()
            state.secrets.add(token)
            headers["Authorization"] = f"Bearer {token}"
        slot = (
            await self.governor.acquire_slot(call.portal, search=call.search, lane=call.lane)
            if call.portal is not None
            else None
        )
        try:
            return await self._exchange(call, state, headers)
        finally:
            if slot is not None:
                await self.governor.settle(slot)

    async def _exchange(
        self, call: Call, state: _CallState, headers: dict[str, str]
    ) -> httpx.Response:
        if call.json is not None:
            headers["Content-Type"] = "application/json"
        t0 = time.perf_counter()
        self.calls += 1
        try:
            async with asyncio.timeout(self.settings.total_timeout_s):
                response = await self.wire.request(
                    call.method,
                    call.route.path,
                    params=call.params,
                    json=call.json,
                    data=call.data,
                    headers=headers,
                )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing was sent: every call, even a create, may be tried again.
            self._log(call, None, t0, None, note=type(exc).__name__)
            raise _Retry(
                Unavailable(f"Could not connect to HubSpot ({type(exc).__name__})")
            ) from None
        except (TimeoutError, httpx.TransportError) as exc:
            name = "TotalTimeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            self._log(call, None, t0, None, note=name)
            if not call.repeatable:
                raise OutcomeUnknown(
                    f"The request ({call.method} {call.route.template}) may have reached "
                    f"HubSpot but no answer came ({name}). It was not re-sent, to avoid doing "
                    "it twice: check in HubSpot (or upsert) before trying again."
                ) from None
            retryable = isinstance(
                exc,
                (
                    TimeoutError,
                    httpx.ReadTimeout,
                    httpx.WriteTimeout,
                    httpx.ReadError,
                    httpx.RemoteProtocolError,
                    httpx.WriteError,
                ),
            )
            err = Unavailable(f"HubSpot did not answer ({name})")
            if retryable:
                raise _Retry(err) from None
            raise err from None

        cid = (
            correlation_id(response)
            if response.status_code >= 400
            else (response.headers.get("x-hubspot-correlation-id"))
        )
        self._log(call, response.status_code, t0, cid)
        if call.portal is not None and any(
            h.startswith("x-hubspot-ratelimit") for h in response.headers
        ):
            await self.governor.observe(call.portal, response.headers)

        status = response.status_code
        if 200 <= status < 300 or status in call.ok_statuses:
            return response
        secrets = tuple(state.secrets)
        mapped = map_error(response, tier=call.tier, secrets=secrets)
        if status == 429:
            assert isinstance(mapped, RateLimited)
            await self._on_rate_limited(call, mapped)
        if status >= 500 and not call.repeatable:
            raise OutcomeUnknown(
                f"HubSpot answered {status} to {call.method} {call.route.template}; the "
                "request may have been carried out. It was not re-sent, to avoid doing it "
                "twice: check in HubSpot (or upsert) before trying again.",
                status=status,
                category=mapped.category,
                correlation_id=mapped.correlation_id,
            )
        if status in RETRY_STATUSES:
            raise _Retry(mapped)
        if status == 500 and _is_read(call) and state.retries_on_500 < READ_RETRIES_ON_500:
            state.retries_on_500 += 1
            raise _Retry(mapped)
        raise mapped

    async def _on_rate_limited(self, call: Call, err: RateLimited) -> NoReturn:
        # A 429 means HubSpot refused the call without doing it, so even a create may be sent
        # again. https://developers.hubspot.com/docs/guides/apps/api-usage/usage-details
        policy = (err.policy or "").upper()
        if policy == "DAILY":
            if call.portal is not None:
                err.retry_after_s = self.governor.mark_daily_exhausted(
                    call.portal, err.retry_after_s
                )
                err.details["retry_after_s"] = round(err.retry_after_s, 3)
            raise err
        wait = err.retry_after_s
        if wait is None:
            if policy == "SECONDLY":
                wait = 1.0
            else:  # TEN_SECONDLY_ROLLING or unnamed: the rest of the rolling window
                wait = (
                    await self.governor.rest_of_window(call.portal)
                    if call.portal is not None
                    else self.governor.window_ms / 1000
                )
        if call.portal is not None:
            # Every task of the process holds off this portal, not only the one refused.
            self.governor.hold(call.portal, wait)
        raise _Retry(err, wait_s=wait)

    def _log(
        self, call: Call, status: int | None, t0: float, cid: str | None, note: str = ""
    ) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "hubspot %s %s -> %s in %.0f ms correlationId=%s",
                call.method,
                call.route.template,
                status if status is not None else note or "no answer",
                (time.perf_counter() - t0) * 1000,
                cid or "-",
            )
