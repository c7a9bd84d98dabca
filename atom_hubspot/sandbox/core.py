"""The state of one sandbox: portals, tokens, limits, faults and the call record.

The ASGI application in `app.py` serves it through the endpoint tables; the endpoints see it
as `Call.sandbox`. Nothing here imports the endpoints or the routing.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from typing import Any

from atom_hubspot.sandbox.changes import WebhookDispatcher
from atom_hubspot.sandbox.config import (
    DEMO_HUB_DOMAIN,
    DEMO_PORTAL_ID,
    DEMO_USER_EMAIL,
    FaultConfig,
    PortalConfig,
    SandboxConfig,
)
from atom_hubspot.sandbox.errors import ApiError
from atom_hubspot.sandbox.limits import LimitConfig, RateLimiter
from atom_hubspot.sandbox.seed import seed_portal
from atom_hubspot.sandbox.state import Portal
from atom_hubspot.sandbox.tokens import TokenGrant, random_uuid

# Every scope the sandbox knows; private-app tokens get all of them unless told otherwise.
ALL_SCOPES = [
    "oauth",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.schemas.contacts.read",
    "crm.schemas.contacts.write",
    "crm.schemas.companies.read",
    "crm.schemas.companies.write",
    "crm.schemas.deals.read",
    "crm.schemas.deals.write",
    "crm.lists.read",
    "crm.lists.write",
    "marketing.campaigns.read",
    "marketing.campaigns.write",
    "content",
    "marketing-email",
    "transactional-email",
    "automation",
    "automation.sequences.read",
    "automation.sequences.enrollments.write",
    "crm.objects.owners.read",
]
_SEEDED: dict[tuple[object, ...], Portal] = {}
TIER_ORDER = {"free": 0, "starter": 1, "professional": 2, "enterprise": 3}


class Sandbox:
    """All state of one sandbox: portals, tokens, limits, faults and the call record."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock = config.clock
        self.offset = 0.0
        self.limits = RateLimiter(
            LimitConfig(
                requests_per_10s=config.requests_per_10s,
                window_s=config.window_s,
                private_app_requests_per_10s=config.private_app_requests_per_10s,
                search_per_s=config.search_per_s,
                search_window_s=config.search_window_s,
                daily_limit=config.daily_limit,
                retry_after=config.retry_after,
            )
        )
        self.set_faults(config.faults)
        self.portals: dict[int, Portal] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, TokenGrant] = {}
        self.access_tokens: dict[str, TokenGrant] = {}
        self.private_tokens: dict[str, TokenGrant] = {}
        # Client-credentials (app) tokens: token -> (scopes, expires at).
        self.app_tokens: dict[str, tuple[list[str], float]] = {}
        self.calls: Counter[str] = Counter()
        self.log: deque[dict[str, Any]] = deque(maxlen=5000)
        self.faults_injected: Counter[str] = Counter()
        self.reset_data()
        self.webhooks = WebhookDispatcher(self)
        for token, portal_id in config.private_app_tokens.items():
            self.add_private_app_token(portal_id, token)

    # ------------------------------------------------------------------ time

    def now(self) -> float:
        return float(self.clock.now()) + self.offset

    # ------------------------------------------------------------------ state

    def portal_configs(self) -> list[PortalConfig]:
        if self.config.portals is not None:
            return self.config.portals
        return [
            PortalConfig(
                portal_id=DEMO_PORTAL_ID, hub_domain=DEMO_HUB_DOMAIN, seed=self.config.seed
            )
        ]

    def reset_data(self) -> None:
        """Back to the initial portals and seed data; tokens stay valid."""
        self.portals = {}
        for pc in self.portal_configs():
            self.add_portal(pc)
        self.limits.reset()

    def add_portal(self, pc: PortalConfig) -> Portal:
        portal = Portal(
            portal_id=pc.portal_id,
            hub_domain=pc.hub_domain or f"portal-{pc.portal_id}.hubspot.sandbox",
            account_type=pc.account_type,
            time_zone=pc.time_zone,
            company_currency=pc.company_currency,
            data_hosting_location=pc.data_hosting_location,
            ui_domain=pc.ui_domain,
            marketing_tier=pc.marketing_tier,
            transactional_addon=pc.transactional_addon,
            sales_tier=pc.sales_tier,
            user_email=DEMO_USER_EMAIL
            if pc.portal_id == DEMO_PORTAL_ID
            else f"owner@portal-{pc.portal_id}.example",
            extra_properties={k: set(v) for k, v in self.config.extra_properties.items()},
        )
        portal.seed_default_pipeline(self.now())
        if pc.seed:
            # Seeding is deterministic, so a seeded portal is built once per (seed, day) and
            # copied afterwards: tests create many sandboxes. (Seed dates are relative to the
            # day; times clamped to "now" at build time stay in the past for later copies.)
            key = (
                self.config.seed_value,
                int(self.now() // 86_400),
                repr(pc),
                repr(sorted(self.config.extra_properties.items())),
            )
            template = _SEEDED.get(key)
            if template is None:
                seed_portal(
                    portal,
                    random.Random(self.config.seed_value + pc.portal_id),  # noqa: S311
                    self.now(),
                )
                _SEEDED.clear()
                _SEEDED[key] = template = portal
            portal = template.clone()
        self.portals[pc.portal_id] = portal
        return portal

    def portal(self, portal_id: int) -> Portal:
        p = self.portals.get(portal_id)
        if p is None:
            raise ApiError(
                404, f"Portal {portal_id} does not exist in the sandbox", "OBJECT_NOT_FOUND"
            )
        return p

    # ------------------------------------------------------------------ tokens

    def new_token(self, prefix: str) -> str:
        return prefix + random_uuid().hex

    def add_private_app_token(
        self, portal_id: int, token: str | None = None, scopes: list[str] | None = None
    ) -> str:
        token = token or "pat-na1-" + str(random_uuid())
        self.private_tokens[token] = TokenGrant(
            portal_id,
            list(scopes or ALL_SCOPES),
            7000001,
            f"owner@portal-{portal_id}",
            "private_app",
        )
        return token

    def bearer(self, headers: dict[str, str]) -> TokenGrant:
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )
        grant = self.private_tokens.get(token) or self.access_tokens.get(token)
        if grant is None:
            raise ApiError(
                401,
                "Authentication credentials not found. The token is not valid "
                "or not known to this sandbox.",
                "INVALID_AUTHENTICATION",
            )
        if grant.expires_at is not None and grant.expires_at <= self.now():
            ago = int(self.now() - grant.expires_at)
            raise ApiError(
                401,
                f"The OAuth token used to make this call expired {ago} second(s) ago.",
                "EXPIRED_AUTHENTICATION",
                context={"expiredTimestamp": [str(grant.expires_at)]},
            )
        if grant.portal_id not in self.portals:
            raise ApiError(401, "The portal of this token does not exist", "INVALID_AUTHENTICATION")
        return grant

    # ------------------------------------------------------------------ faults

    def set_faults(self, faults: FaultConfig) -> None:
        self.faults = faults.model_copy(deep=True)
        self._fault_rng = random.Random(faults.seed)  # noqa: S311 - repeatable faults

    def draw_fault(self, method: str, path: str) -> str | None:
        f = self.faults
        if f.paths is not None and not any(p in path for p in f.paths):
            return None
        if f.methods is not None and method.upper() not in [m.upper() for m in f.methods]:
            return None
        if f.script:
            return f.script.pop(0)
        r = self._fault_rng.random()
        for kind, rate in (
            ("5xx", f.error_rate_5xx),
            ("timeout", f.timeout_rate),
            ("reset", f.reset_rate),
            ("lost_answer", f.lost_answer_rate),
        ):
            if kind == "lost_answer" and method == "GET":
                continue
            if r < rate:
                return kind
            r -= rate
        return None

    def latency_s(self) -> float:
        f = self.faults
        if not f.latency_ms and not f.latency_jitter_ms:
            return 0.0
        return (f.latency_ms + self._fault_rng.random() * f.latency_jitter_ms) / 1000.0

    def sends(self, portal_id: int | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for p in self.portals.values():
            if portal_id is None or p.portal_id == portal_id:
                out += p.sends
        return sorted(out, key=lambda s: s["requestedAt"])
