"""The mirror's sync: full and incremental passes per portal, one process per portal."""

from atom_hubspot.sync.engine import (
    RECORD_TYPES,
    SYNC_TYPES,
    ObjectSyncResult,
    PortalSyncer,
    SyncProgress,
    SyncReport,
)

__all__ = [
    "RECORD_TYPES",
    "SYNC_TYPES",
    "ObjectSyncResult",
    "PortalSyncer",
    "SyncProgress",
    "SyncReport",
]
