"""HubSpot's tier gates: the APIs a portal's subscription must include, and the answer when it
does not (facts sheet, section 7)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from atom_hubspot.client.marketing import CAMPAIGNS_TIER, SINGLE_SEND_TIER, TRANSACTIONAL_TIER
from atom_hubspot.errors import (
    HubSpotError,
    MissingScopes,
    TierRequired,
)

# Tiers HubSpot gates these APIs behind (facts sheet, section 7): the client names them.
TIER_CAMPAIGNS = CAMPAIGNS_TIER
TIER_SINGLE_SEND = SINGLE_SEND_TIER
TIER_TRANSACTIONAL = TRANSACTIONAL_TIER


@asynccontextmanager
async def tier_gate(tier: str, what: str) -> AsyncIterator[None]:
    """Turn HubSpot's bare 403 on a tier-gated API into a 'needs <tier>' answer.

    A 403 that names missing scopes stays MissingScopes; any other 403 on these APIs means the
    portal's subscription does not include them (HubSpot answers 403 without naming the tier).
    """
    try:
        yield
    except TierRequired as err:
        if err.required_tier:
            raise
        raise TierRequired(
            f"{what} needs {tier} in this HubSpot portal.",
            required_tier=tier,
            status=err.status,
            category=err.category,
            correlation_id=err.correlation_id,
        ) from None
    except MissingScopes:
        raise
    except HubSpotError as err:
        if err.status == 403:
            raise TierRequired(
                f"{what} needs {tier} in this HubSpot portal (HubSpot answered 403: {err.message})",
                required_tier=tier,
                status=403,
                category=err.category,
                correlation_id=err.correlation_id,
            ) from None
        raise
