"""HubSpot's request limits: a rolling 10-second window per portal (with headers), search at
5 per second (without headers) and an optional daily budget."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from atom_hubspot.sandbox.errors import ApiError


class LimitConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requests_per_10s: int | None = Field(default=110, ge=1)
    private_app_requests_per_10s: int | None = Field(default=None, ge=1)
    window_s: float = Field(default=10.0, gt=0)
    search_per_s: int | None = Field(default=5, ge=1)
    search_window_s: float = Field(default=1.0, gt=0)
    daily_limit: int | None = Field(default=None, ge=1)
    retry_after: bool = False


def _rate_limited(message: str, policy: str, retry_after_s: float | None) -> ApiError:
    headers = {"Retry-After": str(max(1, round(retry_after_s)))} if retry_after_s else {}
    return ApiError(
        429,
        message,
        "RATE_LIMITS",
        extra={
            "errorType": "RATE_LIMIT",
            "policyName": policy,
            "groupName": f"api-calls:{policy.lower()}",
        },
        headers=headers,
    )


@dataclass
class _PortalUsage:
    window: deque[float] = field(default_factory=deque)
    search: deque[float] = field(default_factory=deque)
    day: str = ""
    day_count: int = 0


class RateLimiter:
    def __init__(self, config: LimitConfig) -> None:
        self.config = config
        self._usage: dict[int, _PortalUsage] = {}
        self.rejected: dict[str, int] = {"TEN_SECONDLY_ROLLING": 0, "SECONDLY": 0, "DAILY": 0}

    def reset(self) -> None:
        self._usage.clear()

    def _take_daily(self, u: _PortalUsage, now: float) -> None:
        day = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
        if u.day != day:
            u.day, u.day_count = day, 0
        limit = self.config.daily_limit
        if limit is not None and u.day_count >= limit:
            self.rejected["DAILY"] += 1
            midnight = (int(now // 86400) + 1) * 86400
            raise _rate_limited(
                "You have reached your daily limit.",
                "DAILY",
                midnight - now if self.config.retry_after else None,
            )

    def check(
        self, portal_id: int, now: float, *, search: bool, private_app: bool
    ) -> dict[str, str]:
        """Count one call or raise a 429; returns the headers HubSpot would send."""
        cfg = self.config
        u = self._usage.setdefault(portal_id, _PortalUsage())
        if search:
            # Search has its own per-second limit and sends no rate-limit headers at all.
            while u.search and u.search[0] <= now - cfg.search_window_s:
                u.search.popleft()
            if cfg.search_per_s is not None and len(u.search) >= cfg.search_per_s:
                self.rejected["SECONDLY"] += 1
                raise _rate_limited(
                    "You have reached your secondly limit.",
                    "SECONDLY",
                    u.search[0] + cfg.search_window_s - now if cfg.retry_after else None,
                )
            self._take_daily(u, now)
            u.search.append(now)
            u.day_count += 1
            return {}
        while u.window and u.window[0] <= now - cfg.window_s:
            u.window.popleft()
        limit = cfg.requests_per_10s
        if private_app and cfg.private_app_requests_per_10s is not None:
            limit = cfg.private_app_requests_per_10s
        headers: dict[str, str] = {}
        if limit is not None:
            if len(u.window) >= limit:
                self.rejected["TEN_SECONDLY_ROLLING"] += 1
                err = _rate_limited(
                    "You have reached your ten_secondly_rolling limit.",
                    "TEN_SECONDLY_ROLLING",
                    u.window[0] + cfg.window_s - now if cfg.retry_after else None,
                )
                err.headers.update(self._headers(limit, 0, u, private_app))
                raise err
        try:
            self._take_daily(u, now)
        except ApiError as err:
            # A daily 429 is not a search answer: it carries the rate-limit headers too.
            if limit is not None:
                err.headers.update(self._headers(limit, limit - len(u.window), u, private_app))
            raise
        u.window.append(now)
        u.day_count += 1
        if limit is not None:
            headers = self._headers(limit, limit - len(u.window), u, private_app)
        return headers

    def _headers(
        self, limit: int, remaining: int, u: _PortalUsage, private_app: bool
    ) -> dict[str, str]:
        h = {
            "X-HubSpot-RateLimit-Max": str(limit),
            "X-HubSpot-RateLimit-Remaining": str(max(0, remaining)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.config.window_s * 1000)),
        }
        if private_app and self.config.daily_limit is not None:
            h["X-HubSpot-RateLimit-Daily"] = str(self.config.daily_limit)
            h["X-HubSpot-RateLimit-Daily-Remaining"] = str(
                max(0, self.config.daily_limit - u.day_count)
            )
        return h

    def usage(self) -> dict[str, Any]:
        return {
            str(pid): {
                "window": len(u.window),
                "search": len(u.search),
                "day": u.day,
                "day_count": u.day_count,
            }
            for pid, u in self._usage.items()
        }
