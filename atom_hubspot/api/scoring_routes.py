"""Lead scoring routes under `/api/hubspot`: the portal's contact score properties, and how
many contacts fall in each score band (service/scoring.py).

Filtering and sorting contacts by a score is part of the contacts list route itself
(`score_property`, `score_min`, `score_max`, `score`, `sort=-hubspotscore`).

Mount this router before the CRM routes: `/contacts/score-properties` must be matched before
`/contacts/{record_id}` would take it.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from atom_host_stub.contract import HostContext
from atom_hubspot.api.deps import RequestScope, SourceQuery, answer, scope_dependency, source_meta
from atom_hubspot.api.envelope import Envelope, envelope_router
from atom_hubspot.service.scoring import (
    DEFAULT_BANDS,
    MAX_BANDS,
    SCORE_BANDS_EXAMPLE,
    SCORE_PROPERTY_EXAMPLE,
    ScoreBands,
    ScorePropertyList,
)

TAG_CRM = "HubSpot CRM"
TAG_ANALYTICS = "HubSpot analytics"

_PROPERTIES_EXAMPLE = {
    "results": [
        SCORE_PROPERTY_EXAMPLE,
        {
            **SCORE_PROPERTY_EXAMPLE,
            "name": "lead_fit_score",
            "label": "Contact fit score",
            "group": "scoring",
            "hubspot_defined": False,
            "default": False,
        },
    ],
    "default": "hubspotscore",
    "readable": True,
    "note": "Scores are calculated by HubSpot and read-only. …",
}


def _example(data: Any, **meta: Any) -> dict[str, Any]:
    return {
        "content": {
            "application/json": {
                "example": {"ok": True, "data": data, "meta": {"portal_id": 1234567, **meta}}
            }
        }
    }


def build_router(context: HostContext) -> APIRouter:
    """The lead scoring routes; mount under the prefix `/api/hubspot`, before the CRM ones."""
    router = envelope_router()
    Scope = Annotated[RequestScope, Depends(scope_dependency(context))]

    @router.get(
        "/contacts/score-properties",
        response_model=Envelope[ScorePropertyList],
        operation_id="list_contact_score_properties",
        tags=[TAG_CRM],
        summary="The portal's contact score properties, and which is the default score",
        description="Score properties are the calculated numbers HubSpot marks with "
        "`fieldType: calculation_score`: HubSpot's legacy `hubspotscore` and the scores the "
        "lead scoring tool publishes. Read from HubSpot's property definitions, cached for a "
        "few minutes per portal. Filter contacts by one with `GET /api/hubspot/contacts"
        "?score_min=50` (and `score_property`), sort with `sort=-hubspotscore`.",
        responses={200: _example(_PROPERTIES_EXAMPLE)},
    )
    async def list_contact_score_properties(scope: Scope) -> dict[str, Any]:
        return answer(scope, await scope.services.scoring.score_properties())

    @router.get(
        "/analytics/contacts/score-bands",
        response_model=Envelope[ScoreBands],
        operation_id="contact_score_bands",
        tags=[TAG_ANALYTICS],
        summary="How many contacts have a score in each band",
        description="Bands run from one edge up to the next (the last one includes its upper "
        "edge); contacts below the first edge, above the last and without a score are counted "
        "apart. From the mirror while it is current (`meta.source`, `meta.as_of`); otherwise "
        f"from HubSpot search totals — one search call per band plus three (at most {MAX_BANDS} "
        "bands), from the portal's search budget of 5 calls a second; `data.search_calls` "
        "says how many this answer spent. Live figures are cached briefly (`meta.cached`).",
        responses={
            200: _example(
                SCORE_BANDS_EXAMPLE, source="mirror", as_of="2026-12-02T07:59:30Z", cached=False
            )
        },
    )
    async def contact_score_bands(
        scope: Scope,
        property: Annotated[
            str | None,
            Query(
                pattern=r"^[a-z][a-z0-9_]{0,99}$",
                description="The score property (default: the portal's default score)",
                examples=["hubspotscore"],
            ),
        ] = None,
        bands: Annotated[
            str | None,
            Query(
                max_length=300,
                description=f"Increasing band edges, comma-separated (2 to {MAX_BANDS + 1})",
                examples=[DEFAULT_BANDS],
            ),
        ] = None,
        source: SourceQuery = "auto",
    ) -> dict[str, Any]:
        data, cached, sourced = await scope.services.scoring.score_bands(
            source, property_name=property, bands=bands
        )
        return answer(scope, data, cached=cached, **source_meta(sourced))

    return router
