"""Lead scoring: the portal's score properties, and how its contacts spread over score bands.

Which properties are scores, HubSpot's Properties API says: a score is a calculated number,
`type: number` with `fieldType: calculation_score` — `hubspotscore` (HubSpot's default, legacy
score property) as well as the score properties the lead scoring tool makes when a score is
published. https://developers.hubspot.com/docs/api-reference/crm-properties-v3/guide (types
and field types), https://knowledge.hubspot.com/scoring/build-lead-scores (the tool sets "a
score property"), https://knowledge.hubspot.com/crm-setup/set-up-score-properties-to-qualify-leads
("the default HubSpot score contact property"). HubSpot stopped updating legacy score
properties on 2025-08-31: `hubspotscore` stays readable, with the values it had then.

The score properties are read with the portal's other property definitions (one Properties
API call, cached per portal: `HubSpotCRMService.score_properties`). Score bands are counted
in the mirror while it is current (one count per band), otherwise by HubSpot search totals —
one search call per band plus three, from the portal's search budget (5 requests/s).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from atom_hubspot.client.models import PropertyDefinition
from atom_hubspot.client.search import Filter, FilterGroup
from atom_hubspot.errors import InputError
from atom_hubspot.service import mapping
from atom_hubspot.service.mirror import MirrorAccess, Source, Sourced

if TYPE_CHECKING:
    from atom_hubspot.client import HubSpotClient
    from atom_hubspot.service.analytics import AnalyticsCache

SCORE_FIELD_TYPE = "calculation_score"
DEFAULT_SCORE = "hubspotscore"
DEFAULT_BANDS = "0,25,50,75,100"
MAX_BANDS = 10  # live: each band is one search call (plus three), at 5 calls/s per portal
MAX_EDGE = Decimal(1_000_000)  # lead scores reach ±10,000 at most; far beyond is a typo
COUNT_CONCURRENCY = 4
BANDS_FIELD = "bands"
PROPERTY_FIELD = "property"


# --------------------------------------------------------------------------- score properties


SCORE_PROPERTY_EXAMPLE: JsonDict = {
    "name": "hubspotscore",
    "label": "HubSpot Score",
    "type": "number",
    "field_type": "calculation_score",
    "group": "contactinformation",
    "hubspot_defined": True,
    "default": True,
}


class ScoreProperty(BaseModel):
    """One score property of the portal's contacts, as HubSpot's Properties API lists it."""

    model_config = ConfigDict(json_schema_extra={"examples": [SCORE_PROPERTY_EXAMPLE]})

    name: str
    label: str | None = None
    type: str = Field(default="number", description="HubSpot's property type: always number")
    field_type: str = Field(default=SCORE_FIELD_TYPE, description="calculation_score")
    group: str | None = Field(default=None, description="HubSpot's property group")
    hubspot_defined: bool = Field(
        default=False,
        description="True for HubSpot's own (hubspotscore); False for the portal's own, such "
        "as those the lead scoring tool makes",
    )
    default: bool = Field(
        default=False,
        description="The score used when none is named: hubspotscore when the portal has it",
    )


def is_score_property(definition: PropertyDefinition) -> bool:
    """A calculated number HubSpot marks as a score (module docstring has the pages)."""
    return (
        definition.archived is not True
        and definition.type == "number"
        and definition.field_type == SCORE_FIELD_TYPE
    )


def score_properties(definitions: Iterable[PropertyDefinition]) -> tuple[ScoreProperty, ...]:
    """The score properties among `definitions`: the default first, the rest by name."""
    found = sorted(
        (d for d in definitions if is_score_property(d)),
        key=lambda d: (d.name != DEFAULT_SCORE, d.name),
    )
    return tuple(
        ScoreProperty(
            name=d.name,
            label=d.label,
            group=d.group_name,
            hubspot_defined=d.hubspot_defined is True,
            default=i == 0,
        )
        for i, d in enumerate(found)
    )


def pick_score(
    scores: Sequence[ScoreProperty], readable: bool, name: str | None, *, field: str
) -> ScoreProperty:
    """The score property `name` (default: the portal's default score) among `scores`;
    InputError naming `field` when the portal has no such score property. Without readable
    definitions only `hubspotscore` is taken on trust."""
    default = next((s.name for s in scores if s.default), None)
    wanted = (name or "").strip() or default or DEFAULT_SCORE
    for s in scores:
        if s.name == wanted:
            return s
    if not readable and wanted == DEFAULT_SCORE:
        return ScoreProperty(name=DEFAULT_SCORE, hubspot_defined=True, default=True)
    known = ", ".join(s.name for s in scores) or "none"
    message = (
        f"{wanted[:100]!r} is not a score property of this portal (its score properties: "
        f"{known}; GET /api/hubspot/contacts/score-properties lists them)"
    )
    raise InputError(
        f"Invalid input in: {field}. {message}", errors=[{"field": field, "message": message}]
    )


class ScorePropertyList(BaseModel):
    """The portal's contact score properties."""

    results: list[ScoreProperty]
    default: str | None = Field(
        description="The default score's name (None: the portal has no score property)",
        examples=["hubspotscore"],
    )
    readable: bool = Field(
        default=True,
        description="False when the connection may not read property definitions (scope "
        "crm.schemas.contacts.read): then only hubspotscore is assumed",
    )
    note: str = (
        "Scores are calculated by HubSpot and read-only. hubspotscore is HubSpot's legacy "
        "default score: HubSpot stopped updating it on 2025-08-31; the lead scoring tool's "
        "scores replace it."
    )


# --------------------------------------------------------------------------- bands


@dataclass(frozen=True)
class Band:
    """[low, high) — the last band also takes `high` itself."""

    low: Decimal
    high: Decimal
    last: bool


def parse_bands(raw: str | None, *, field: str = BANDS_FIELD) -> list[Band]:
    """Comma-separated, strictly increasing band edges (`0,25,50,75,100` makes four bands),
    2 to MAX_BANDS + 1 of them, each within ±MAX_EDGE; problems name `field`."""
    text = DEFAULT_BANDS if raw is None or not raw.strip() else raw

    def refuse(message: str) -> InputError:
        return InputError(
            f"Invalid input in: {field}. {message}",
            errors=[{"field": field, "message": message}],
        )

    parts = [p.strip() for p in text.split(",")]
    if len(parts) > MAX_BANDS + 1:
        raise refuse(f"at most {MAX_BANDS + 1} edges ({MAX_BANDS} bands)")
    edges: list[Decimal] = []
    for part in parts:
        value = mapping.parse_decimal(part) if part else None
        if value is None or abs(value) > MAX_EDGE:
            raise refuse(
                f"{part[:20]!r} is not a number between -{MAX_EDGE} and {MAX_EDGE}; give "
                "increasing numbers separated by commas, e.g. 0,25,50,75,100"
            )
        edges.append(value)
    if len(edges) < 2:
        raise refuse("give at least two edges (one band), e.g. 0,50,100")
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise refuse("edges must be strictly increasing, e.g. 0,25,50,75,100")
    return [
        Band(lo, hi, last=i == len(edges) - 2)
        for i, (lo, hi) in enumerate(itertools.pairwise(edges))
    ]


def _number(d: Decimal) -> str:
    return mapping.format_decimal(d)


def band_groups(prop: str, bands: Sequence[Band]) -> dict[str, list[FilterGroup]]:
    """The search filter groups counting each part: every band, below the first edge, above
    the last, and contacts without a score. Together they count every contact once."""
    out: dict[str, list[FilterGroup]] = {}
    for i, b in enumerate(bands):
        upper = Filter.lte(prop, _number(b.high)) if b.last else Filter.lt(prop, _number(b.high))
        out[f"band:{i}"] = [FilterGroup.of(Filter.gte(prop, _number(b.low)), upper)]
    out["below"] = [FilterGroup.of(Filter.lt(prop, _number(bands[0].low)))]
    out["above"] = [FilterGroup.of(Filter.gt(prop, _number(bands[-1].high)))]
    out["without_score"] = [FilterGroup.of(Filter(property_name=prop, operator="NOT_HAS_PROPERTY"))]
    return out


class ScoreBand(BaseModel):
    low: float = Field(examples=[25])
    high: float = Field(examples=[50])
    includes_high: bool = Field(description="Only the last band includes its upper edge")
    count: int = Field(examples=[42])


SCORE_BANDS_EXAMPLE: JsonDict = {
    "property": "hubspotscore",
    "label": "HubSpot Score",
    "bands": [
        {"low": 0, "high": 25, "includes_high": False, "count": 61},
        {"low": 25, "high": 50, "includes_high": False, "count": 70},
        {"low": 50, "high": 75, "includes_high": False, "count": 66},
        {"low": 75, "high": 100, "includes_high": True, "count": 71},
    ],
    "below": 0,
    "above": 0,
    "without_score": 32,
    "total_contacts": 300,
    "search_calls": 0,
    "computed_at": "2026-12-02T08:00:00Z",
    "note": "Counted in the portal's mirror (as of meta.as_of).",
}


class ScoreBands(BaseModel):
    """How many contacts have a score in each band."""

    model_config = ConfigDict(json_schema_extra={"examples": [SCORE_BANDS_EXAMPLE]})

    property: str
    label: str | None = None
    bands: list[ScoreBand]
    below: int = Field(description="Contacts scored below the first edge")
    above: int = Field(description="Contacts scored above the last edge")
    without_score: int = Field(description="Contacts with no value for the score")
    total_contacts: int = Field(description="The sum of all the parts above")
    search_calls: int = Field(
        description="HubSpot search calls this answer spent (0 from the mirror or the cache)"
    )
    computed_at: datetime
    note: str


# --------------------------------------------------------------------------- the service


class ScoreSource(Protocol):
    """Where the score properties come from: the CRM service's cached property definitions
    (`HubSpotCRMService` is one)."""

    async def score_properties(self) -> tuple[tuple[ScoreProperty, ...], bool]: ...


class ScoringService:
    """Score properties and score bands for one connection; band counts cached under
    `scope_key` like the other analytics."""

    def __init__(
        self,
        client: HubSpotClient,
        crm: ScoreSource,
        cache: AnalyticsCache,
        *,
        scope_key: str,
        mirror: MirrorAccess | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.crm = crm
        self.cache = cache
        self.scope_key = scope_key
        self.mirror = mirror
        self.now = now

    async def score_properties(self) -> ScorePropertyList:
        """The portal's contact score properties (cached with its property definitions)."""
        scores, readable = await self.crm.score_properties()
        default = next((s.name for s in scores if s.default), None)
        return ScorePropertyList(results=list(scores), default=default, readable=readable)

    async def score_bands(
        self, source: Source, *, property_name: str | None, bands: str | None
    ) -> tuple[ScoreBands, bool, Sourced]:
        """(figures, from the cache, where they came from)."""
        parsed = parse_bands(bands)
        scores, readable = await self.crm.score_properties()
        score = pick_score(scores, readable, property_name, field=PROPERTY_FIELD)
        groups = band_groups(score.name, parsed)
        if self.mirror is not None:
            chosen, as_of = await self.mirror.decide("contacts", source)
            if chosen == "mirror":
                counts = await self._mirror_counts(score.name, groups)
                data = self._figures(score, parsed, counts, calls=0, source="mirror")
                return data, False, Sourced(source="mirror", as_of=as_of)
        key = (self.scope_key, "score-bands", score.name, tuple(parsed))

        async def compute() -> ScoreBands:
            counts = await self._live_counts(groups)
            return self._figures(score, parsed, counts, calls=len(groups), source="live")

        data, cached = await self.cache.get_or_compute(key, compute)
        if cached:
            data = data.model_copy(update={"search_calls": 0})
        return data, cached, Sourced(source="live", as_of=data.computed_at)

    async def _live_counts(self, groups: dict[str, list[FilterGroup]]) -> dict[str, int]:
        sem = asyncio.Semaphore(COUNT_CONCURRENCY)

        async def count(g: list[FilterGroup]) -> int:
            async with sem:
                return int(await self.client.contacts.count(g))

        results = await asyncio.gather(*(count(g) for g in groups.values()))
        return dict(zip(groups, results, strict=True))

    async def _mirror_counts(
        self, prop: str, groups: dict[str, list[FilterGroup]]
    ) -> dict[str, int]:
        """The same filter groups, answered by the mirror's search (its `total`)."""
        assert self.mirror is not None
        out: dict[str, int] = {}
        for part, g in groups.items():
            page = await self.mirror.page(
                "contacts",
                filter_groups=[[f.to_json() for f in grp.filters] for grp in g],
                sorts=[],
                query=None,
                limit=1,
                after=None,
                numbers=(prop,),
            )
            out[part] = int(page.total or 0)
        return out

    def _figures(
        self,
        score: ScoreProperty,
        bands: list[Band],
        counts: dict[str, int],
        *,
        calls: int,
        source: str,
    ) -> ScoreBands:
        parts = [
            ScoreBand(
                low=float(b.low),
                high=float(b.high),
                includes_high=b.last,
                count=counts[f"band:{i}"],
            )
            for i, b in enumerate(bands)
        ]
        note = (
            "Counted in the portal's mirror (as of meta.as_of)."
            if source == "mirror"
            else f"Counted by HubSpot search totals: {calls} search calls from the portal's "
            "search budget (5 per second); search results can trail very recent changes."
        )
        return ScoreBands(
            property=score.name,
            label=score.label,
            bands=parts,
            below=counts["below"],
            above=counts["above"],
            without_score=counts["without_score"],
            total_contacts=sum(counts.values()),
            search_calls=calls,
            computed_at=self.now(),
            note=note,
        )
