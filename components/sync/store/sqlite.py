"""The offline store in SQLite (WAL, synchronous=FULL): a commit survives a crash or power loss.

Group commit happens one level up (:mod:`components.sync.ingest`): many records per transaction
is what makes a durable store fast (one fsync per commit instead of per record).

A batch's membership is committed before its upload, as a row in ``batches``: its (stream,
source, first and last sequence) and the highest record id it covers, so records that arrive
later are never part of it. Its key is stored with it, so after a crash the same records are
re-sent under the same key: a retried upload
overwrites its object instead of creating a second one. Delivered records are purged; the highest
delivered sequence per (stream, source) is kept so a late replay of a purged record is still
recognised as a duplicate.

A record of an IoT Core stream (alerts) that was handed to the nucleus moves from ``records`` to
``unconfirmed`` with its original id (so a re-send keeps its place ahead of newer records), the
time it was first sent and whether it is due for a re-send; ``records`` is exactly what still waits.

The schema and its migrations are in :mod:`components.sync.store.schema`, opening the file and
transactions in :mod:`components.sync.store.connection`, and what to do with a damaged file in
:mod:`components.sync.store.recovery`. Left here: :class:`SqliteStore`, the one class that
implements :class:`OfflineStore` over the connection. It runs to about 500 lines for a reason:
each method is one of the interface's operations, and they share the connection, the lock and
the in-memory byte, delivered and counter totals that every write keeps in step inside its
transaction; split across modules, those would become private state reached from outside.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

from components.sync.exceptions import StoreError
from components.sync.store.base import (
    DELIVERED,
    DUPLICATES,
    EXPIRED,
    LOW_DISK_DROPPED,
    OVERWRITTEN,
    REJECTED_FULL,
    RESENT,
    RETENTION_CAPPED,
    STORED,
    AddResult,
    Backlog,
    Gap,
    KeyFunction,
    NewRecord,
    OfflineStore,
    PlannedBatch,
    StoredRecord,
    StreamLimits,
)
from components.sync.store.connection import Transaction, connect

# A record belongs to a planned batch: same stream and source, sequence in the range, and committed
# before the batch was planned (a late arrival is never part of it). Parameters: the batch's row.
_BATCH_SCOPE = "stream = ? AND source = ? AND seq BETWEEN ? AND ? AND id <= ?"
_NOT_PLANNED = (
    "NOT EXISTS (SELECT 1 FROM batches b WHERE records.stream = b.stream AND records.source = b.source"
    " AND records.seq BETWEEN b.first_seq AND b.last_seq AND records.id <= b.max_id)"
)
# A record at or above an open gap of its source waits until the gap is closed (see base.Gap).
_NOT_HELD = (
    "NOT EXISTS (SELECT 1 FROM gaps g WHERE records.stream = g.stream AND records.source = g.source"
    " AND records.seq >= g.first_seq)"
)


def _in_source_order(records: list[StoredRecord]) -> list[StoredRecord]:
    """``records`` in arrival (id) order, except that each source's are in sequence order: a record
    takes the place of the earliest arrival of its source at or above its sequence number."""
    place: dict[int, int] = {}
    by_source: dict[str, list[StoredRecord]] = {}
    for record in records:
        by_source.setdefault(record.source, []).append(record)
    for group in by_source.values():
        group.sort(key=lambda r: r.seq, reverse=True)
        earliest = None
        for record in group:
            earliest = record.id if earliest is None else min(earliest, record.id)
            place[record.id] = earliest
    return sorted(records, key=lambda r: (place[r.id], r.seq))


class SqliteStore(OfflineStore):
    """:class:`OfflineStore` in one SQLite file.

    Args:
        path: the database file (created with its folder if missing).

    Raises:
        StoreUnusableError: the file is not a healthy SQLite database or another process holds
            its lock; :func:`open_store` moves such a file aside and starts a new one.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = connect(self.path)
        db = self._db
        self._bytes: dict[str, int] = {
            stream: int(total)
            for stream, total in db.execute("SELECT stream, SUM(size) FROM records GROUP BY stream")
        }
        self._delivered: dict[tuple[str, str], int] = {
            (stream, source): int(seq) for stream, source, seq in db.execute("SELECT * FROM delivered")
        }
        self._counters: dict[str, dict[str, int]] = {}
        for stream, name, value in db.execute("SELECT stream, name, value FROM counters"):
            self._counters.setdefault(stream, {})[name] = int(value)

    # -- writing -----------------------------------------------------------------------------------
    def add(self, records: Sequence[NewRecord], limits: dict[str, StreamLimits]) -> AddResult:
        """See :meth:`OfflineStore.add`."""
        result = AddResult()
        with self._lock, self._transaction():
            for record in records:
                self._add_one(record, limits.get(record.stream), result)
            self._write_counters(result.counts)
        return result

    def _add_one(self, record: NewRecord, limits: StreamLimits | None, result: AddResult) -> None:
        stream = record.stream
        delivered = self._delivered.get((stream, record.source))
        if delivered is not None and record.seq <= delivered:
            result.bump(stream, DUPLICATES)
            return
        if limits is not None:
            if not limits.accept:
                result.bump(stream, LOW_DISK_DROPPED)
                return
            if self._bytes.get(stream, 0) + record.size > limits.max_bytes:
                if not limits.overwrite_oldest or record.size > limits.max_bytes:
                    result.bump(stream, REJECTED_FULL)
                    return
                freed = self._evict_oldest(
                    stream, self._bytes.get(stream, 0) + record.size - limits.max_bytes
                )
                result.bump(stream, OVERWRITTEN, freed)
                if self._bytes.get(stream, 0) + record.size > limits.max_bytes:
                    # What is left is in planned batches, which are never rewritten.
                    result.bump(stream, REJECTED_FULL)
                    return
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO records (stream, priority, source, seq, ts, received, expires, size, payload)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                stream,
                record.priority,
                record.source,
                record.seq,
                record.ts,
                record.received,
                record.expires,
                record.size,
                record.payload,
            ),
        )
        if cursor.rowcount == 1:
            self._bytes[stream] = self._bytes.get(stream, 0) + record.size
            result.bump(stream, STORED)
        else:
            result.bump(stream, DUPLICATES)

    def _evict_oldest(self, stream: str, need: int) -> int:
        """Delete the oldest unbatched records of ``stream`` until ``need`` bytes are free."""
        victims: list[int] = []
        freed = 0
        rows = self._db.execute(
            f"SELECT id, size FROM records WHERE stream = ? AND {_NOT_PLANNED} ORDER BY id", (stream,)
        )
        for record_id, size in rows:
            if freed >= need:
                break
            victims.append(record_id)
            freed += size
        rows.close()
        self._db.executemany("DELETE FROM records WHERE id = ?", [(v,) for v in victims])
        self._bytes[stream] = self._bytes.get(stream, 0) - freed
        return len(victims)

    # -- batches -----------------------------------------------------------------------------------
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
        """See :meth:`OfflineStore.plan_batch`."""
        with self._lock:
            oldest = self._db.execute(
                f"SELECT source, received FROM records WHERE stream = ? AND {_NOT_PLANNED} AND {_NOT_HELD}"
                " ORDER BY id LIMIT 1",
                (stream,),
            ).fetchone()
            if oldest is None:
                return None
            source, oldest_received = oldest
            rows = self._db.execute(
                f"SELECT seq, ts, size, id FROM records WHERE stream = ? AND source = ? AND {_NOT_PLANNED}"
                f" AND {_NOT_HELD} ORDER BY seq LIMIT ?",
                (stream, source, max_records),
            ).fetchall()
            # Unix time has no leap seconds: a UTC day is exactly 86400 s.
            day_start = (rows[0][1] // 86400) * 86400
            day_end = day_start + 86400
            taken = 0
            total = 0
            full = len(rows) >= max_records
            for _seq, ts, size, _id in rows:
                if taken and (total + size > max_bytes or not day_start <= ts < day_end):
                    full = True
                    break
                taken += 1
                total += size
            if not full and now - oldest_received < min_age_seconds:
                return None
            first_seq, first_ts = rows[0][0], rows[0][1]
            last_seq = rows[taken - 1][0]
            max_id = max(row[3] for row in rows[:taken])
            key = key_for(stream, source, first_seq, last_seq, first_ts)
            with self._transaction():
                batch_id = self._db.execute(
                    "INSERT INTO batches (stream, source, first_seq, last_seq, max_id, key, count, created)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (stream, source, first_seq, last_seq, max_id, key, taken, now),
                ).lastrowid
            assert batch_id is not None
            return PlannedBatch(batch_id, stream, source, first_seq, last_seq, key, taken)

    def open_batches(self) -> list[PlannedBatch]:
        """See :meth:`OfflineStore.open_batches`."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, stream, source, first_seq, last_seq, key, count FROM batches ORDER BY id"
            ).fetchall()
        return [PlannedBatch(*row) for row in rows]

    def batch_records(self, batch_id: int) -> list[StoredRecord]:
        """See :meth:`OfflineStore.batch_records`."""
        with self._lock:
            scope = self._batch_scope(batch_id)
            rows = self._db.execute(
                f"SELECT id, stream, source, seq, ts, received, payload FROM records WHERE {_BATCH_SCOPE}"
                " ORDER BY seq",
                scope,
            ).fetchall()
        return [StoredRecord(*row) for row in rows]

    def batch_payloads(self, batch_id: int) -> list[bytes]:
        """See :meth:`OfflineStore.batch_payloads`."""
        with self._lock:
            scope = self._batch_scope(batch_id)
            rows = self._db.execute(
                f"SELECT payload FROM records WHERE {_BATCH_SCOPE} ORDER BY seq", scope
            ).fetchall()
        return [row[0] for row in rows]

    def _batch_scope(self, batch_id: int) -> tuple[str, str, int, int, int]:
        row = self._db.execute(
            "SELECT stream, source, first_seq, last_seq, max_id FROM batches WHERE id = ?", (batch_id,)
        ).fetchone()
        if row is None:
            raise StoreError(f"batch {batch_id} is not open")
        return (row[0], row[1], row[2], row[3], row[4])

    def complete_batch(self, batch_id: int) -> int:
        """See :meth:`OfflineStore.complete_batch`."""
        with self._lock:
            scope = self._batch_scope(batch_id)
            stream, source, _first, last_seq, _max_id = scope
            with self._transaction():
                size, count = self._db.execute(
                    f"SELECT COALESCE(SUM(size), 0), COUNT(*) FROM records WHERE {_BATCH_SCOPE}", scope
                ).fetchone()
                self._db.execute(f"DELETE FROM records WHERE {_BATCH_SCOPE}", scope)
                self._db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
                self._mark_delivered(stream, source, last_seq)
                self._write_counters({stream: {DELIVERED: count}})
            self._bytes[stream] = self._bytes.get(stream, 0) - size
            return int(count)

    # -- one at a time -------------------------------------------------------------------------------
    def next_records(self, stream: str, limit: int) -> list[StoredRecord]:
        """See :meth:`OfflineStore.next_records`."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, stream, source, seq, ts, received, payload FROM records"
                f" WHERE stream = ? AND {_NOT_HELD} ORDER BY id LIMIT ?",  # these streams are never batched
                (stream, limit),
            ).fetchall()
            # A replayed record came after newer ones of its source (a higher id, a lower seq):
            # it still goes first, so each source leaves in sequence order.
            for source in {row[2] for row in rows}:
                lowest = min(row[3] for row in rows if row[2] == source)
                rows += self._db.execute(
                    "SELECT id, stream, source, seq, ts, received, payload FROM records"
                    f" WHERE stream = ? AND source = ? AND seq < ? AND {_NOT_HELD} ORDER BY seq LIMIT ?",
                    (stream, source, lowest, limit),
                ).fetchall()
        return _in_source_order([StoredRecord(*row) for row in rows])[:limit]

    def delete_delivered(self, records: Sequence[StoredRecord]) -> None:
        """See :meth:`OfflineStore.delete_delivered`."""
        if not records:
            return
        with self._lock, self._transaction():
            for record in records:
                cursor = self._db.execute(
                    "DELETE FROM records WHERE id = ? RETURNING size", (record.id,)
                ).fetchone()
                if cursor is not None:
                    self._bytes[record.stream] = self._bytes.get(record.stream, 0) - int(cursor[0])
                self._mark_delivered(record.stream, record.source, record.seq)
                self._write_counters({record.stream: {DELIVERED: 1}})

    # -- sent, unconfirmed ---------------------------------------------------------------------------
    def mark_sent(self, records: Sequence[StoredRecord], now: float) -> None:
        """See :meth:`OfflineStore.mark_sent`."""
        if not records:
            return
        with self._lock, self._transaction():
            for record in records:
                row = self._db.execute(
                    "DELETE FROM records WHERE id = ? RETURNING size", (record.id,)
                ).fetchone()
                if row is not None:
                    self._bytes[record.stream] = self._bytes.get(record.stream, 0) - int(row[0])
                self._db.execute(
                    "INSERT OR REPLACE INTO unconfirmed (id, stream, source, seq, ts, received, sent, due, payload)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)",
                    (record.id, record.stream, record.source, record.seq, record.ts, record.received, now,
                     record.payload),
                )  # fmt: skip
                self._mark_delivered(record.stream, record.source, record.seq)
                self._write_counters({record.stream: {DELIVERED: 1}})

    def requeue_unconfirmed(self) -> int:
        """See :meth:`OfflineStore.requeue_unconfirmed`."""
        with self._lock, self._transaction():
            return int(self._db.execute("UPDATE unconfirmed SET due = 1 WHERE due = 0").rowcount)

    def next_resends(self, stream: str, limit: int) -> list[StoredRecord]:
        """See :meth:`OfflineStore.next_resends`."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, stream, source, seq, ts, received, payload FROM unconfirmed"
                " WHERE stream = ? AND due = 1 ORDER BY id LIMIT ?",
                (stream, limit),
            ).fetchall()
        return [StoredRecord(*row) for row in rows]

    def mark_resent(self, records: Sequence[StoredRecord]) -> None:
        """See :meth:`OfflineStore.mark_resent`."""
        if not records:
            return
        with self._lock, self._transaction():
            for record in records:
                updated = self._db.execute(
                    "UPDATE unconfirmed SET due = 0 WHERE id = ?", (record.id,)
                ).rowcount
                if updated:
                    self._write_counters({record.stream: {RESENT: 1}})

    def purge_unconfirmed(self, sent_before: float | None, keep_at_most: int) -> dict[str, int]:
        """See :meth:`OfflineStore.purge_unconfirmed`."""
        if keep_at_most < 0:
            raise ValueError(f"keep_at_most: expected >= 0, got {keep_at_most}")
        purged: dict[str, int] = {}
        with self._lock:
            (held,) = self._db.execute("SELECT COUNT(*) FROM unconfirmed").fetchone()
            if not held:
                return purged
            with self._transaction():
                if sent_before is not None:
                    for (stream,) in self._db.execute(
                        "DELETE FROM unconfirmed WHERE due = 0 AND sent <= ? RETURNING stream", (sent_before,)
                    ).fetchall():
                        purged[stream] = purged.get(stream, 0) + 1
                over = int(held) - sum(purged.values()) - keep_at_most
                if over > 0:
                    capped: dict[str, int] = {}
                    for (stream,) in self._db.execute(
                        "DELETE FROM unconfirmed WHERE id IN (SELECT id FROM unconfirmed ORDER BY id LIMIT ?)"
                        " RETURNING stream",
                        (over,),
                    ).fetchall():
                        capped[stream] = capped.get(stream, 0) + 1
                        purged[stream] = purged.get(stream, 0) + 1
                    self._write_counters({stream: {RETENTION_CAPPED: n} for stream, n in capped.items()})
        return purged

    def unconfirmed(self) -> dict[str, int]:
        """See :meth:`OfflineStore.unconfirmed`."""
        with self._lock:
            rows = self._db.execute("SELECT stream, COUNT(*) FROM unconfirmed GROUP BY stream").fetchall()
        return {stream: int(count) for stream, count in rows}

    def _mark_delivered(self, stream: str, source: str, seq: int) -> None:
        if seq <= self._delivered.get((stream, source), -1):
            return
        self._db.execute(
            "INSERT INTO delivered (stream, source, seq) VALUES (?, ?, ?)"
            " ON CONFLICT (stream, source) DO UPDATE SET seq = excluded.seq",
            (stream, source, seq),
        )
        self._delivered[(stream, source)] = seq

    # -- housekeeping --------------------------------------------------------------------------------
    def expire(self, now: float) -> dict[str, int]:
        """See :meth:`OfflineStore.expire`."""
        with self._lock:
            rows = self._db.execute(
                "SELECT stream, COUNT(*), SUM(size) FROM records"
                f" WHERE expires IS NOT NULL AND expires <= ? AND {_NOT_PLANNED} GROUP BY stream",
                (now,),
            ).fetchall()
            if not rows:
                return {}
            with self._transaction():
                self._db.execute(
                    f"DELETE FROM records WHERE expires IS NOT NULL AND expires <= ? AND {_NOT_PLANNED}",
                    (now,),
                )
                self._write_counters({stream: {EXPIRED: count} for stream, count, _ in rows})
            for stream, _count, size in rows:
                self._bytes[stream] = self._bytes.get(stream, 0) - int(size)
        return {stream: int(count) for stream, count, _ in rows}

    def backlog(self) -> dict[str, Backlog]:
        """See :meth:`OfflineStore.backlog`."""
        with self._lock:
            rows = self._db.execute(
                "SELECT stream, COUNT(*), SUM(size), MIN(received) FROM records GROUP BY stream"
            ).fetchall()
        return {stream: Backlog(int(count), int(size), oldest) for stream, count, size, oldest in rows}

    def counters(self) -> dict[str, dict[str, int]]:
        """See :meth:`OfflineStore.counters`."""
        with self._lock:
            return {stream: dict(names) for stream, names in self._counters.items()}

    def bump_counters(self, stream: str, counts: dict[str, int]) -> None:
        """See :meth:`OfflineStore.bump_counters`."""
        with self._lock, self._transaction():
            self._write_counters({stream: counts})

    def _write_counters(self, counts: dict[str, dict[str, int]]) -> None:
        for stream, names in counts.items():
            for name, value in names.items():
                if not value:
                    continue
                self._db.execute(
                    "INSERT INTO counters (stream, name, value) VALUES (?, ?, ?)"
                    " ON CONFLICT (stream, name) DO UPDATE SET value = value + excluded.value",
                    (stream, name, value),
                )
                per_stream = self._counters.setdefault(stream, {})
                per_stream[name] = per_stream.get(name, 0) + value

    # -- gaps ----------------------------------------------------------------------------------------
    def highest_seqs(self) -> dict[tuple[str, str], int]:
        """See :meth:`OfflineStore.highest_seqs`."""
        with self._lock:
            highest = dict(self._delivered)
            for table in ("records", "unconfirmed"):
                for stream, source, seq in self._db.execute(
                    f"SELECT stream, source, MAX(seq) FROM {table} GROUP BY stream, source"
                ):
                    key = (stream, source)
                    highest[key] = max(int(seq), highest.get(key, -1))
        return highest

    def open_gaps(self, gaps: Sequence[Gap], now: float) -> None:
        """See :meth:`OfflineStore.open_gaps`."""
        if not gaps:
            return
        with self._lock, self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO gaps (stream, source, first_seq, last_seq, opened) VALUES (?, ?, ?, ?, ?)",
                [(gap.stream, gap.source, gap.first, gap.last, now) for gap in gaps],
            )

    def gaps(self) -> list[Gap]:
        """See :meth:`OfflineStore.gaps`."""
        with self._lock:
            rows = self._db.execute(
                "SELECT stream, source, first_seq, last_seq FROM gaps ORDER BY stream, source, first_seq"
            ).fetchall()
        return [Gap(*row) for row in rows]

    def close_gaps(self, gaps: Sequence[Gap]) -> None:
        """See :meth:`OfflineStore.close_gaps`."""
        if not gaps:
            return
        with self._lock, self._transaction():
            self._db.executemany(
                "DELETE FROM gaps WHERE stream = ? AND source = ? AND first_seq = ?",
                [(gap.stream, gap.source, gap.first) for gap in gaps],
            )

    def get_meta(self, key: str) -> str | None:
        """See :meth:`OfflineStore.get_meta`."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """See :meth:`OfflineStore.set_meta`."""
        with self._lock, self._transaction():
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def close(self) -> None:
        """See :meth:`OfflineStore.close`."""
        with self._lock:
            self._db.close()

    def _transaction(self) -> Transaction:
        return Transaction(self._db)
