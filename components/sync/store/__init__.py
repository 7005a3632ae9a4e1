"""The offline store: the abstract interface and its SQLite implementation."""

from components.sync.store.base import (
    AddResult,
    Backlog,
    NewRecord,
    OfflineStore,
    PlannedBatch,
    StoredRecord,
    StreamLimits,
)

__all__ = [
    "AddResult",
    "Backlog",
    "NewRecord",
    "OfflineStore",
    "PlannedBatch",
    "StoredRecord",
    "StreamLimits",
]
