"""What the sync component needs from a durable store, independent of the database behind it.

A record enters with :meth:`OfflineStore.add` (one transaction per group commit), leaves either
through a planned batch (bulk streams: :meth:`plan_batch`, upload, :meth:`complete_batch`) or
one by one (IoT Core streams: :meth:`next_records`, publish, :meth:`delete_delivered`), or is
dropped by a policy (size limit, TTL), which is counted per stream.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# Counter names kept per stream (also reported in the shadow).
STORED = "stored"
DUPLICATES = "duplicates"
REJECTED_FULL = "rejectedFull"
OVERWRITTEN = "overwritten"
EXPIRED = "expired"
DELIVERED = "delivered"
DEADBAND_DROPPED = "deadbandDropped"
LOW_DISK_DROPPED = "lowDiskDropped"
MALFORMED = "malformed"


@dataclass(frozen=True)
class NewRecord:
    """A message about to be stored. ``(source, stream, seq)`` is its idempotency key."""

    stream: str
    priority: int
    source: str
    seq: int
    ts: float
    received: float
    expires: float | None
    payload: bytes

    @property
    def size(self) -> int:
        """Bytes the record occupies in the store's accounting (its payload)."""
        return len(self.payload)


@dataclass(frozen=True)
class StoredRecord:
    """A committed record, as read back for upload."""

    id: int
    stream: str
    source: str
    seq: int
    ts: float
    received: float
    payload: bytes


@dataclass(frozen=True)
class StreamLimits:
    """The size policy the store applies on :meth:`OfflineStore.add`."""

    max_bytes: int
    overwrite_oldest: bool
    accept: bool = True  # False: refuse every new record (free-disk watermark reached)


@dataclass
class AddResult:
    """What one group commit did, per stream: counter name -> count."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def bump(self, stream: str, name: str, by: int = 1) -> None:
        """Add ``by`` to ``name`` of ``stream``."""
        per_stream = self.counts.setdefault(stream, {})
        per_stream[name] = per_stream.get(name, 0) + by

    def get(self, stream: str, name: str) -> int:
        """The count of ``name`` for ``stream`` (0 if none)."""
        return self.counts.get(stream, {}).get(name, 0)


@dataclass(frozen=True)
class PlannedBatch:
    """A batch whose membership is committed before its upload, so a retry re-sends exactly it."""

    id: int
    stream: str
    source: str
    first_seq: int
    last_seq: int
    key: str
    count: int


@dataclass(frozen=True)
class Backlog:
    """What one stream holds: records, bytes and the oldest record's receive time (or None)."""

    records: int
    bytes: int
    oldest_received: float | None


# (stream, source, first_seq, last_seq, first_ts) -> object key
KeyFunction = Callable[[str, str, int, int, float], str]


class OfflineStore(abc.ABC):
    """A durable, crash-safe store of records waiting for upload."""

    @abc.abstractmethod
    def add(self, records: Sequence[NewRecord], limits: dict[str, StreamLimits]) -> AddResult:
        """Commit ``records`` in one transaction, applying each stream's ``limits``.

        A record whose idempotency key is stored, or was already delivered, counts as a duplicate
        and is not stored again.
        """

    @abc.abstractmethod
    def plan_batch(
        self,
        stream: str,
        *,
        max_records: int,
        max_bytes: int,
        min_age_seconds: float,
        now: float,
        key_for: KeyFunction,
    ) -> PlannedBatch | None:
        """Group the oldest unbatched records of one source of ``stream`` into a batch.

        A batch holds one source, consecutive in sequence, within one UTC day of ``ts``, at most
        ``max_records`` records and about ``max_bytes``. A batch that is not full is only formed
        once its oldest record is ``min_age_seconds`` old. Returns None if nothing is ready.
        """

    @abc.abstractmethod
    def open_batches(self) -> list[PlannedBatch]:
        """Batches planned but not completed (after a crash: upload these first, unchanged)."""

    @abc.abstractmethod
    def batch_records(self, batch_id: int) -> list[StoredRecord]:
        """The records of a planned batch, in sequence order."""

    @abc.abstractmethod
    def batch_payloads(self, batch_id: int) -> list[bytes]:
        """Only the payloads of a planned batch's records, in sequence order (the upload's hot path)."""

    @abc.abstractmethod
    def complete_batch(self, batch_id: int) -> int:
        """The cloud acknowledged the batch: purge it and its records; returns the record count."""

    @abc.abstractmethod
    def next_records(self, stream: str, limit: int) -> list[StoredRecord]:
        """The oldest records of ``stream`` (for streams delivered one record at a time)."""

    @abc.abstractmethod
    def delete_delivered(self, records: Sequence[StoredRecord]) -> None:
        """The cloud acknowledged these records: purge them."""

    @abc.abstractmethod
    def expire(self, now: float) -> dict[str, int]:
        """Drop records whose TTL passed (not those in a planned batch); returns counts per stream."""

    @abc.abstractmethod
    def backlog(self) -> dict[str, Backlog]:
        """What each stream holds now."""

    @abc.abstractmethod
    def counters(self) -> dict[str, dict[str, int]]:
        """Persistent per-stream counters (stored, duplicates, drops by cause, delivered)."""

    @abc.abstractmethod
    def bump_counters(self, stream: str, counts: dict[str, int]) -> None:
        """Add to persistent counters (for drops decided outside the store, e.g. deadband)."""

    @abc.abstractmethod
    def get_meta(self, key: str) -> str | None:
        """A small persistent value (budget state, last upload), or None."""

    @abc.abstractmethod
    def set_meta(self, key: str, value: str) -> None:
        """Persist a small value."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the store; committed records stay."""
