"""A full disk under the store: the sync component neither moves a good store aside nor exits
into a restart loop (which the nucleus ends in BROKEN, never to come back by itself); it waits,
keeps what it received, and resumes once space is back.

The file system is a real one: a 2 MiB tmpfs mounted on a folder of the test's own (root only;
skipped otherwise) and unmounted after. SQLite there fails as on a full SD card: SQLITE_FULL, or
"disk I/O error" when the WAL or shared-memory file cannot grow.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.sync.config import SyncConfig, effective_policies
from components.sync.exceptions import StoreFullError
from components.sync.ingest import Ingestor
from components.sync.policies import DiskGuard
from components.sync.store.recovery import open_store, open_store_when_space
from components.sync.store.sqlite import SqliteStore
from tests.full_disk import fill, small_filesystem

from .conftest import alert


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    with small_filesystem(tmp_path / "fs") as fs:
        yield fs


def test_a_store_cannot_open_on_a_full_disk_waits_then_opens_by_itself(small_fs: Path) -> None:
    # GIVEN a store that held records, on a file system that is now full
    path = small_fs / "store" / "sync.db"
    store = SqliteStore(path)
    store.bump_counters("alerts", {"stored": 3})
    store.close()
    junk = fill(small_fs)
    fresh = small_fs / "other" / "sync.db"
    # WHEN a store is opened there: a new one cannot even be created
    with pytest.raises(StoreFullError):
        open_store(fresh)
    # AND Sync starting on it waits instead of failing
    stop = threading.Event()
    result: list[tuple[SqliteStore, str | None] | None] = []
    opener = threading.Thread(target=lambda: result.append(open_store_when_space(fresh, stop, 0.05)))
    opener.start()
    opener.join(0.5)
    assert opener.is_alive() and not result, "it should be waiting for space"
    # THEN once space is back it opens by itself, and the old store was never moved aside
    junk.unlink()
    opener.join(10)
    assert result
    outcome = result[0]
    assert outcome is not None and outcome[1] is None
    outcome[0].close()
    again, incident = open_store(path)
    assert incident is None and again.counters()["alerts"]["stored"] == 3
    again.close()
    assert not [p.name for p in small_fs.rglob("*unusable*")]


def test_stop_while_waiting_for_space_returns_none(small_fs: Path) -> None:
    fill(small_fs)
    stop = threading.Event()
    stop.set()
    assert open_store_when_space(small_fs / "s" / "sync.db", stop, 0.01) is None


def test_commits_failing_on_a_full_disk_keep_the_records_and_resume_when_space_is_back(
    small_fs: Path,
) -> None:
    # GIVEN the store working, then the disk full
    store = SqliteStore(small_fs / "store" / "sync.db")
    policies = effective_policies(SyncConfig())
    ingestor = Ingestor(store, lambda: policies, DiskGuard(small_fs, 0), 0.0, 1000)
    junk = fill(small_fs)
    # WHEN alerts arrive and the commit fails for want of space
    for seq in range(1, 201):
        ingestor.offer("alerts", alert(seq))
    with pytest.raises(sqlite3.OperationalError, match=r"full|I/O"):
        ingestor.flush()
    # THEN nothing already accepted is lost: once space is back, the next commit stores every one
    junk.unlink()
    ingestor.flush()
    stored = {json.loads(record.payload)["seq"] for record in store.next_records("alerts", 10_000)}
    assert set(range(1, 201)) <= stored
    store.close()
