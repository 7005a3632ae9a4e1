"""What the sync component needs from a durable store, independent of the database behind it.

A record enters with :meth:`OfflineStore.add` (one transaction per group commit), leaves either
through a planned batch (bulk streams: :meth:`plan_batch`, upload, :meth:`complete_batch`) or
one by one (IoT Core streams: :meth:`next_records`, publish, :meth:`delete_delivered` or
:meth:`mark_sent`), or is dropped by a policy (size limit, TTL), which is counted per stream.

IoT Core streams (alerts) are handed to the nucleus, whose MQTT spooler is in memory by default:
a publish that returned is not yet in the cloud. :meth:`mark_sent` therefore keeps a sent record
as *sent, unconfirmed* for a retention time; after evidence that the spooler may have been lost
(the component restarted, the link went down and came back) the uploader calls
:meth:`requeue_unconfirmed` and re-sends them (:meth:`next_resends`, :meth:`mark_resent`) before
anything newer; :meth:`purge_unconfirmed` forgets them after the retention time or over a cap.

A *gap* is a run of sequence numbers of one source that Sync never received (it was down, or a
message was lost on the way) and has asked the producer for again (:mod:`components.sync.gaps`).
While a gap is open, the source's records at or above its first number are held back: no batch
and no alert goes past it, so a replayed record still lands in sequence order, in a batch of its
own range, never overlapping one already uploaded. :meth:`close_gaps` releases them.
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
# Bulk records dropped, oldest first, while commits kept failing (a full disk) and more than
# MAX_PENDING_RECORDS waited in memory.
UNWRITABLE_DROPPED = "unwritableDropped"
# Sent records published again because the nucleus' spooler may have lost them (not a loss).
RESENT = "resent"
# Sent records forgotten before their retention time because the cap was reached: they can no
# longer be re-sent if the nucleus' spooler loses them.
RETENTION_CAPPED = "retentionCapped"


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
class Gap:
    """Sequence numbers ``first`` .. ``last`` (inclusive) of ``source`` on ``stream`` not received."""

    stream: str
    source: str
    first: int
    last: int


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
    def mark_sent(self, records: Sequence[StoredRecord], now: float) -> None:
        """These records were handed to the nucleus: count them delivered and keep them as sent,
        unconfirmed (sent at ``now``) so they can be re-sent; they leave the backlog."""

    @abc.abstractmethod
    def requeue_unconfirmed(self) -> int:
        """Mark every sent, unconfirmed record due for a re-send; returns how many."""

    @abc.abstractmethod
    def next_resends(self, stream: str, limit: int) -> list[StoredRecord]:
        """The oldest records of ``stream`` due for a re-send (they precede every record waiting)."""

    @abc.abstractmethod
    def mark_resent(self, records: Sequence[StoredRecord]) -> None:
        """These records were handed to the nucleus again: no longer due, counted ``resent``.

        Their send time stays the first one, so a record is re-sent a bounded number of times
        however often the link flaps."""

    @abc.abstractmethod
    def purge_unconfirmed(self, sent_before: float | None, keep_at_most: int) -> dict[str, int]:
        """Forget sent records: those not due for a re-send that were first sent at or before
        ``sent_before`` (None: none by age), then the oldest over ``keep_at_most`` (counted
        ``retentionCapped``). Returns the number forgotten per stream."""

    @abc.abstractmethod
    def unconfirmed(self) -> dict[str, int]:
        """How many sent, unconfirmed records each stream keeps now."""

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
    def highest_seqs(self) -> dict[tuple[str, str], int]:
        """The highest sequence number known per ``(stream, source)``: stored, sent or delivered."""

    @abc.abstractmethod
    def open_gaps(self, gaps: Sequence[Gap], now: float) -> None:
        """Record gaps (committed at once): the records above each are held back until it closes."""

    @abc.abstractmethod
    def gaps(self) -> list[Gap]:
        """The open gaps, oldest number first."""

    @abc.abstractmethod
    def close_gaps(self, gaps: Sequence[Gap]) -> None:
        """Forget these gaps (filled, or given up): the records above them may leave."""

    @abc.abstractmethod
    def get_meta(self, key: str) -> str | None:
        """A small persistent value (budget state, last upload), or None."""

    @abc.abstractmethod
    def set_meta(self, key: str, value: str) -> None:
        """Persist a small value."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the store; committed records stay."""
