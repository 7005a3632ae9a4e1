"""The SQLite offline store: idempotency, size policies, batches, TTL, persistence, damaged files."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from components.sync.store.base import (
    DELIVERED,
    DUPLICATES,
    EXPIRED,
    LOW_DISK_DROPPED,
    OVERWRITTEN,
    REJECTED_FULL,
    STORED,
    NewRecord,
    PlannedBatch,
    StreamLimits,
)
from components.sync.store.recovery import open_store
from components.sync.store.sqlite import SqliteStore


def rec(
    seq: int, stream: str = "readings", source: str = "s1", size: int = 10, expires: float | None = None
) -> NewRecord:
    return NewRecord(
        stream, 10, source, seq, 1764331200.0 + seq, time.time(), expires, bytes([seq % 256]) * size
    )


def key(stream: str, source: str, first: int, last: int, ts: float) -> str:
    return f"{stream}/{source}/{first}-{last}"


def plan(
    store: SqliteStore,
    stream: str = "readings",
    *,
    max_records: int = 1000,
    max_bytes: int = 10**9,
    min_age_seconds: float = 0.0,
    now: float | None = None,
) -> PlannedBatch | None:
    return store.plan_batch(
        stream,
        max_records=max_records,
        max_bytes=max_bytes,
        min_age_seconds=min_age_seconds,
        now=time.time() + 1 if now is None else now,
        key_for=key,
    )


def test_a_duplicate_key_is_stored_once(store: SqliteStore) -> None:
    first = store.add([rec(1), rec(2), rec(1)], {})
    second = store.add([rec(2), rec(3)], {})
    assert (first.get("readings", STORED), first.get("readings", DUPLICATES)) == (2, 1)
    assert (second.get("readings", STORED), second.get("readings", DUPLICATES)) == (1, 1)
    assert store.backlog()["readings"].records == 3
    # the same seq from another source or on another stream is a different record
    assert store.add([rec(1, source="s2"), rec(1, stream="health")], {}).counts == {
        "readings": {STORED: 1},
        "health": {STORED: 1},
    }


def test_a_delivered_record_replayed_later_is_still_a_duplicate(store: SqliteStore) -> None:
    store.add([rec(1), rec(2)], {})
    batch = plan(store)
    assert batch is not None
    store.complete_batch(batch.id)
    again = store.add([rec(1), rec(2), rec(3)], {})
    assert again.get("readings", DUPLICATES) == 2 and again.get("readings", STORED) == 1


def test_reject_new_data_when_full(store: SqliteStore) -> None:
    limits = {"readings": StreamLimits(max_bytes=35, overwrite_oldest=False)}
    result = store.add([rec(i) for i in range(5)], limits)
    assert (result.get("readings", STORED), result.get("readings", REJECTED_FULL)) == (3, 2)
    assert [r.seq for r in store.next_records("readings", 10)] == [0, 1, 2]


def test_overwrite_oldest_data_when_full(store: SqliteStore) -> None:
    limits = {"readings": StreamLimits(max_bytes=35, overwrite_oldest=True)}
    result = store.add([rec(i) for i in range(5)], limits)
    assert (result.get("readings", STORED), result.get("readings", OVERWRITTEN)) == (5, 2)
    assert [r.seq for r in store.next_records("readings", 10)] == [2, 3, 4]
    assert store.backlog()["readings"].bytes == 30
    assert store.counters()["readings"][OVERWRITTEN] == 2


def test_overwrite_never_rewrites_a_planned_batch(store: SqliteStore) -> None:
    limits = {"readings": StreamLimits(max_bytes=30, overwrite_oldest=True)}
    store.add([rec(i) for i in range(3)], limits)
    batch = plan(store)
    assert batch is not None and batch.count == 3
    result = store.add([rec(3)], limits)
    # nothing unbatched to drop: the new record is refused, the batch is intact
    assert result.get("readings", REJECTED_FULL) == 1
    assert [r.seq for r in store.batch_records(batch.id)] == [0, 1, 2]


def test_low_disk_refuses_records_and_counts_them(store: SqliteStore) -> None:
    limits = {"readings": StreamLimits(max_bytes=10**9, overwrite_oldest=True, accept=False)}
    assert store.add([rec(1)], limits).get("readings", LOW_DISK_DROPPED) == 1
    assert store.backlog() == {}


def test_ttl_expiry_drops_and_counts_but_spares_planned_batches(store: SqliteStore) -> None:
    now = time.time()
    store.add([rec(1, source="a", expires=now - 1), rec(2, source="a", expires=now + 3600)], {})
    store.add([rec(1, source="b", expires=now - 1)], {})
    batch = plan(store)  # the oldest (source a) gets planned
    assert batch is not None and batch.source == "a"
    assert store.expire(now) == {"readings": 1}  # only b's record: a's are in flight
    assert store.counters()["readings"][EXPIRED] == 1
    assert [r.seq for r in store.batch_records(batch.id)] == [1, 2]
    assert store.backlog()["readings"].records == 2


def test_batches_wait_for_their_age_unless_full(store: SqliteStore) -> None:
    store.add([rec(i) for i in range(3)], {})
    assert plan(store, min_age_seconds=3600, now=time.time()) is None
    full = plan(store, min_age_seconds=3600, now=time.time(), max_records=2)
    assert full is not None and (full.first_seq, full.last_seq) == (0, 1)


def test_planned_batches_survive_a_restart_unchanged(tmp_path: Path) -> None:
    # GIVEN a batch planned, then a crash before its upload was acknowledged
    path = tmp_path / "sync.db"
    first = SqliteStore(path)
    first.add([rec(i) for i in range(5)], {})
    batch = plan(first, max_records=3)
    assert batch is not None
    first.add([rec(i) for i in range(5, 8)], {})
    first._db.close()  # no orderly close: as after kill -9
    # WHEN the store is opened again
    second = SqliteStore(path)
    # THEN the same batch, with the same records and key, is waiting; nothing else joined it
    assert second.open_batches() == [batch]
    assert [r.seq for r in second.batch_records(batch.id)] == [0, 1, 2]
    assert second.complete_batch(batch.id) == 3
    assert second.counters()["readings"][DELIVERED] == 3
    assert second.backlog()["readings"].records == 5
    second.close()


def test_counters_and_meta_persist(tmp_path: Path) -> None:
    path = tmp_path / "sync.db"
    first = SqliteStore(path)
    first.bump_counters("readings", {"malformed": 2})
    first.set_meta("budget", '{"day": "x"}')
    first.close()
    second = SqliteStore(path)
    assert second.counters()["readings"]["malformed"] == 2
    assert second.get_meta("budget") == '{"day": "x"}' and second.get_meta("nope") is None
    second.close()


def test_delivered_one_by_one(store: SqliteStore) -> None:
    store.add([rec(1, stream="alerts"), rec(2, stream="alerts")], {})
    records = store.next_records("alerts", 1)
    store.delete_delivered(records)
    assert [r.seq for r in store.next_records("alerts", 10)] == [2]
    assert store.add([rec(1, stream="alerts")], {}).get("alerts", DUPLICATES) == 1


def test_corrupt_file_is_moved_aside_and_a_new_store_started(tmp_path: Path) -> None:
    # GIVEN a database file full of garbage
    path = tmp_path / "sync.db"
    path.write_bytes(b"this is not sqlite" * 1000)
    # WHEN the store opens
    store, incident = open_store(path)
    # THEN the problem is reported by name, the old file kept aside, and the new store works
    assert incident is not None and "not a healthy SQLite database" in incident
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("sync.db.unusable-")]
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not sqlite")
    assert store.add([rec(1)], {}).get("readings", STORED) == 1
    store.close()
    # and the next start is clean: no crash loop, no second move
    again, incident = open_store(path)
    assert incident is None and again.backlog()["readings"].records == 1
    again.close()


def test_locked_file_is_reported_and_moved_aside(tmp_path: Path, monkeypatch: object) -> None:
    import components.sync.store.connection as sqlite_module

    path = tmp_path / "sync.db"
    SqliteStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
    try:
        monkeypatch.setattr(sqlite_module, "BUSY_TIMEOUT_SECONDS", 0.1)  # type: ignore[attr-defined]
        store, incident = open_store(path)
        assert incident is not None and "locked" in incident
        assert store.add([rec(1)], {}).get("readings", STORED) == 1
        store.close()
    finally:
        holder.rollback()
        holder.close()


def test_backlog_reports_records_bytes_and_oldest(store: SqliteStore) -> None:
    store.add([rec(1, size=7), rec(2, size=5)], {})
    backlog = store.backlog()["readings"]
    assert (backlog.records, backlog.bytes) == (2, 12)
    assert backlog.oldest_received is not None and backlog.oldest_received <= time.time()


def test_a_late_record_inside_a_planned_range_is_not_part_of_that_batch(store: SqliteStore) -> None:
    store.add([rec(0), rec(1), rec(3), rec(4)], {})
    batch = plan(store)
    assert batch is not None and (batch.first_seq, batch.last_seq, batch.count) == (0, 4, 4)
    store.add([rec(2)], {})  # arrives out of order after the batch was planned
    assert [r.seq for r in store.batch_records(batch.id)] == [0, 1, 3, 4]
    assert store.complete_batch(batch.id) == 4
    assert [r.seq for r in store.next_records("readings", 10)] == [2]  # kept, goes in the next batch
