"""From the local topics into the store: validation, deadband, and group commit.

IPC callbacks hand messages to :meth:`Ingestor.offer`, which validates them (a malformed one is
counted and skipped), applies the stream's deadband, and queues a record. A writer thread commits
the queue in one transaction every ``commitIntervalMs`` or as soon as ``commitMaxRecords`` are
waiting. That interval is the only window in which a crash can lose a message the component has
received: once committed, a record survives ``kill -9`` and power loss (SQLite WAL,
``synchronous=FULL``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from components.common.logs import kv
from components.common.messages import (
    ALERT_V1,
    ANOMALY_V1,
    HEALTH_V1,
    INSPECTION_V1,
    READING_V1,
    MessageError,
    parse_message,
    reading_items,
)
from components.sync.config import StreamPolicy
from components.sync.policies import DeadbandFilter, DiskGuard, store_limits
from components.sync.store.base import DEADBAND_DROPPED, MALFORMED, AddResult, NewRecord, OfflineStore

log = logging.getLogger(__name__)

# The schema each stream carries; a message naming another schema on that topic is malformed.
STREAM_SCHEMAS: dict[str, str] = {
    "readings": READING_V1,
    "alerts": ALERT_V1,
    "health": HEALTH_V1,
    "anomalies": ANOMALY_V1,
    "inspections": INSPECTION_V1,
}


class Ingestor:
    """Validates, filters and group-commits incoming messages.

    Args:
        store: the offline store.
        policies: the policies in effect (called per message, so live changes apply at once).
        disk: the free-disk watermark guard.
        commit_interval: seconds between commits while records wait.
        commit_max_records: commit at once when this many records wait.
        on_commit: called after each commit with what it did (wakes the uploader, updates status).
        clock: Unix time.
    """

    def __init__(
        self,
        store: OfflineStore,
        policies: Callable[[], dict[str, StreamPolicy]],
        disk: DiskGuard,
        commit_interval: float,
        commit_max_records: int,
        on_commit: Callable[[AddResult], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._policies = policies
        self._disk = disk
        self.commit_interval = commit_interval
        self.commit_max_records = commit_max_records
        self._on_commit = on_commit
        self._clock = clock
        self._deadband = DeadbandFilter()
        self._cond = threading.Condition()
        self._pending: list[NewRecord] = []
        self._pending_counts: dict[str, dict[str, int]] = {}
        self._first_pending_at: float | None = None
        self._committing = False
        self.committed_records = 0
        self.halted = False  # set when the store is beyond use: stop trying to commit
        # Told of every failed commit (the service decides whether the store is beyond use).
        self.on_failure: Callable[[Exception], None] | None = None

    # -- producers (IPC threads) -----------------------------------------------------------------
    def offer(self, stream: str, raw: Any) -> bool:
        """Take one decoded message from ``stream``'s topic; False if it was malformed or filtered.

        On the readings stream a message may be a batch (``edgebundle.reading-batch.v1``): each
        of its readings becomes its own record, keyed by its own ``(source, stream, seq)`` and
        filtered by the deadband on its own, exactly as if it had come alone; True if any was
        kept. A malformed batch is refused whole and counted once, like any malformed message.
        """
        expected = STREAM_SCHEMAS.get(stream)
        try:
            if expected == READING_V1:
                items: list[tuple[Any, dict[str, Any]]] = list(reading_items(raw))
            else:
                message = parse_message(raw)
                if expected is not None and message.schema_ != expected:
                    raise MessageError(
                        f"schema {message.schema_!r} on the {stream} topic; expected {expected!r}"
                    )
                items = [(message, raw)]
        except MessageError as err:
            self.count(stream, MALFORMED)
            log.warning(kv(event="malformed_message", stream=stream, error=err))
            return False
        policy = self._policies().get(stream)
        if policy is None:
            self.count(stream, MALFORMED)
            return False
        now = self._clock()
        records: list[NewRecord] = []
        for message, item in items:
            if not self._deadband.keep(policy, item):
                self.count(stream, DEADBAND_DROPPED)
                continue
            records.append(
                NewRecord(
                    stream=stream,
                    priority=policy.priority,
                    source=message.source,
                    seq=message.seq,
                    ts=message.ts,
                    received=now,
                    expires=now + policy.ttl_seconds if policy.ttl_seconds > 0 else None,
                    payload=json.dumps(item, separators=(",", ":")).encode(),
                )
            )
        if not records:
            return False
        with self._cond:
            self._pending.extend(records)
            if self._first_pending_at is None:
                self._first_pending_at = time.monotonic()
            if len(self._pending) >= self.commit_max_records:
                self._cond.notify_all()
        return True

    def count(self, stream: str, name: str) -> None:
        """Count an event (malformed, deadband drop) for ``stream``; persisted with the next commit."""
        with self._cond:
            per_stream = self._pending_counts.setdefault(stream, {})
            per_stream[name] = per_stream.get(name, 0) + 1

    # -- the writer ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Commit until ``stop`` is set, then commit what is left."""
        while not stop.is_set():
            with self._cond:
                self._cond.wait_for(lambda: self._due() or stop.is_set(), timeout=self._time_to_due())
            if (self._due() or stop.is_set()) and not self.halted:
                try:
                    self.flush()
                except Exception as err:
                    log.exception(kv(event="commit_failed", waiting=len(self._pending)))
                    if self.on_failure is not None:
                        self.on_failure(err)
                    stop.wait(1.0)
        if not self.halted:
            self.flush()

    def _time_to_due(self) -> float:
        if self._first_pending_at is None:
            return self.commit_interval
        return max(0.0, self._first_pending_at + self.commit_interval - time.monotonic())

    def _due(self) -> bool:
        if not self._pending and not self._pending_counts:
            return False
        if len(self._pending) >= self.commit_max_records:
            return True
        started = self._first_pending_at
        return started is None or time.monotonic() - started >= self.commit_interval

    def flush(self) -> AddResult:
        """Commit everything waiting now (one transaction); returns what it did."""
        with self._cond:
            records, self._pending = self._pending, []
            counts, self._pending_counts = self._pending_counts, {}
            self._first_pending_at = None
            self._committing = True
        try:
            result = (
                self.store.add(records, store_limits(self._policies(), self._disk.ok()))
                if records
                else AddResult()
            )
            for stream, names in counts.items():
                self.store.bump_counters(stream, names)
                for name, value in names.items():
                    result.bump(stream, name, value)
        except Exception:
            # The transaction rolled back: keep the records queued (in order) for the next attempt.
            with self._cond:
                self._pending[:0] = records
                for stream, names in counts.items():
                    for name, value in names.items():
                        per_stream = self._pending_counts.setdefault(stream, {})
                        per_stream[name] = per_stream.get(name, 0) + value
                if self._first_pending_at is None and self._pending:
                    self._first_pending_at = time.monotonic()
            raise
        finally:
            with self._cond:
                self._committing = False
                self._cond.notify_all()
        self.committed_records += len(records)
        if self._on_commit is not None and (records or counts):
            self._on_commit(result)
        return result

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or being committed (for orderly shutdown and tests)."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._pending and not self._pending_counts and not self._committing,
                timeout=timeout,
            )
