"""The mirror's sync: full and incremental passes per portal, one process per portal."""

from atom_hubspot.sync.engine import PortalSyncer
from atom_hubspot.sync.objects import RECORD_TYPES, SYNC_TYPES
from atom_hubspot.sync.outcome import ObjectSyncResult, SyncProgress, SyncReport

__all__ = [
    "RECORD_TYPES",
    "SYNC_TYPES",
    "ObjectSyncResult",
    "PortalSyncer",
    "SyncProgress",
    "SyncReport",
]
