"""The mirror of each connected portal: the one way in (upsert, archive, merge, purge) and the
reads (one record, a filtered and sorted page, figures, sync state).

Everything that changes the mirror — the full and incremental sync, a write made through the
plugin (read-your-writes), a change feed — goes through `MirrorStore`, so the rules live in one
place. Its parts, by subject (each imports `records` and nothing else of the mirror):

- `records`: the tables, a record as the mirror holds it, the properties kept in real columns
- `writes`: upsert, archive, merge, purge of records (with `state`: a page and its cursor)
- `state`: the sync state of each object type, and a short-lived copy for reads
- `portal_data`: associations, pipelines, lists, campaigns
- `queries`: one record, a page as HubSpot search answers it, counts
- `analytics`: contacts and deals counted and summed in SQL
"""

from __future__ import annotations

from atom_hubspot.storage.mirror.analytics import DealGroup, MirrorFigures
from atom_hubspot.storage.mirror.portal_data import PortalData
from atom_hubspot.storage.mirror.queries import MirrorPage, RecordQueries
from atom_hubspot.storage.mirror.records import (
    MirroredRecord,
    SyncStateView,
    instant_text,
    iso,
    merged_ids,
    parse_ts,
    record_columns,
)
from atom_hubspot.storage.mirror.writes import RecordWrites

__all__ = [
    "DealGroup",
    "MirrorPage",
    "MirrorStore",
    "MirroredRecord",
    "SyncStateView",
    "instant_text",
    "iso",
    "merged_ids",
    "parse_ts",
    "record_columns",
]


class MirrorStore(RecordWrites, PortalData, RecordQueries, MirrorFigures):
    """Writes and reads of the mirror. Each method is one transaction; `tenant_id` scopes
    PostgreSQL row-level security (None: work that spans tenants, such as the sync).
    `MirrorStore(db, state_ttl_s=…)`: see `state.SyncStates`."""
