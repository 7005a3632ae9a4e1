"""The component's pipeline end to end with working in-memory sinks (and moto S3): ingest, policies, upload."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from components.common.exceptions import ConfigError
from components.common.live_config import validate_config
from components.sync.batching import parse_batch_key
from components.sync.component import SyncComponent
from components.sync.config import SyncConfig
from components.sync.encoding import decode_batch
from components.sync.exceptions import UploadError
from components.sync.sinks import MemoryMessageSink, MemoryObjectSink
from components.sync.store.base import MALFORMED
from components.sync.store.sqlite import SqliteStore

from .conftest import alert, reading

THING = "dev-1"


class AckLostSink(MemoryObjectSink):
    """Stores the object, then fails: the put landed but its acknowledgement never arrived."""

    def __init__(self, lose: int) -> None:
        super().__init__()
        self.lose = lose

    def put(self, key: str, body: bytes, metadata: dict[str, str] | None = None) -> None:
        super().put(key, body, metadata)
        if self.lose > 0:
            self.lose -= 1
            raise UploadError(f"{key}: connection reset before the response", link_down=True)


def make_service(tmp_path: Path, objects: Any = None, **raw: Any) -> SyncComponent:
    config = validate_config(
        SyncConfig, {"storeDir": str(tmp_path / "store"), "batch": {"maxAgeSeconds": 0}, **raw}
    )
    store = SqliteStore(tmp_path / "store" / "sync.db")
    return SyncComponent(config, store, objects or MemoryObjectSink(), MemoryMessageSink(), THING)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[SyncComponent]:
    svc = make_service(tmp_path)
    yield svc
    svc.store.close()


def drain(service: SyncComponent, limit: int = 1000) -> None:
    for _ in range(limit):
        if not service.uploader.step():
            return
    raise AssertionError("upload did not settle")


def delivered_readings(objects: MemoryObjectSink) -> list[tuple[str, int]]:
    found = []
    for key, body in objects.objects.items():
        if key.startswith("telemetry/"):
            found += [(m["source"], m["seq"]) for m in decode_batch(body)]
    return found


def test_readings_land_in_s3_batches_and_alerts_on_iot_core(service: SyncComponent) -> None:
    # GIVEN readings from two sensors and an alert on the topics
    for seq in range(50):
        service.ingestor.offer("readings", reading(seq, "a"))
        service.ingestor.offer("readings", reading(seq, "b"))
    service.ingestor.offer("alerts", alert(1))
    service.ingestor.flush()
    # WHEN the uploader runs
    drain(service)
    # THEN every reading is in S3 exactly once, under keys that name its source and range
    objects = service.uploader.objects
    assert isinstance(objects, MemoryObjectSink)
    assert sorted(delivered_readings(objects)) == sorted((s, q) for s in "ab" for q in range(50))
    for key in objects.objects:
        parsed = parse_batch_key(key)
        assert parsed is not None and parsed.thing == "dev-1" and parsed.day == "2025-11-28"
    # and the alert went to the device's alerts topic with an idempotent alert key
    messages = service.uploader.messages
    assert isinstance(messages, MemoryMessageSink)
    [(topic, payload)] = messages.messages
    body = json.loads(payload)
    assert (
        topic == "edgebundle/dev-1/alerts"
        and body["alertId"] == "a1"
        and body["alertKey"].endswith("#rules#1")
    )
    assert service.store.backlog() == {}
    assert service.status()["counters"]["readings"]["delivered"] == 100


def test_an_outage_loses_nothing_and_creates_no_duplicate_objects(service: SyncComponent) -> None:
    objects = service.uploader.objects
    assert isinstance(objects, MemoryObjectSink)
    objects.online = False
    for seq in range(300):
        service.ingestor.offer("readings", reading(seq))
        if seq % 40 == 0:
            service.ingestor.flush()
            service.uploader.step()  # fails: offline
            service.link.mqtt_status(True)  # pretend the back-off passed, so the next step retries
    service.ingestor.flush()
    assert service.status()["link"] == "online"  # nucleus says connected, but S3 still fails:
    service.uploader.step()
    assert service.status()["link"] == "offline" and service.status()["backlog"]["readings"]["records"] == 300
    objects.online = True
    service.link.mqtt_status(True)
    drain(service)
    got = delivered_readings(objects)
    assert sorted(got) == [("line1", s) for s in range(300)] and len(got) == len(set(got))


def test_a_lost_acknowledgement_is_retried_under_the_same_key(tmp_path: Path) -> None:
    objects = AckLostSink(lose=2)
    service = make_service(tmp_path, objects, batch={"maxRecords": 10, "maxAgeSeconds": 0})
    for seq in range(25):
        service.ingestor.offer("readings", reading(seq))
    service.ingestor.flush()
    for _ in range(10):
        service.link.mqtt_status(True)
        service.uploader.step()
    # three batches, the first put three times (twice unacknowledged): still three objects
    assert len(objects.objects) == 3 and len(objects.puts) == 5
    assert sorted(delivered_readings(objects)) == [("line1", s) for s in range(25)]
    service.store.close()


def test_the_budget_pauses_bulk_but_never_alerts(tmp_path: Path) -> None:
    service = make_service(tmp_path, dailyByteBudget=1)
    for seq in range(20):
        service.ingestor.offer("readings", reading(seq))
    service.ingestor.flush()
    drain(service)  # one batch goes out (the budget was not yet spent), then bulk pauses
    objects = service.uploader.objects
    assert isinstance(objects, MemoryObjectSink) and len(objects.objects) == 1
    for seq in range(20, 40):
        service.ingestor.offer("readings", reading(seq))
    service.ingestor.offer("alerts", alert(7))
    service.ingestor.flush()
    drain(service)
    assert len(objects.objects) == 1 and service.status()["budgetPaused"] is True
    assert service.status()["backlog"]["readings"]["records"] == 20
    messages = service.uploader.messages
    assert isinstance(messages, MemoryMessageSink) and len(messages.messages) == 1
    service.store.close()


def test_alerts_wait_in_the_store_while_iot_core_is_disconnected(service: SyncComponent) -> None:
    service.link.mqtt_status(False)
    service.ingestor.offer("alerts", alert(1))
    service.ingestor.flush()
    service.uploader.step()
    messages = service.uploader.messages
    assert isinstance(messages, MemoryMessageSink) and messages.messages == []
    assert service.status()["backlog"]["alerts"]["records"] == 1
    service.link.mqtt_status(True)
    service.uploader.step()
    assert len(messages.messages) == 1


def test_malformed_messages_are_counted_and_skipped(service: SyncComponent) -> None:
    bad = [
        "not an object",
        {"schema": "edgebundle.reading.v9"},
        {**reading(1), "seq": -1},
        alert(1),  # an alert on the readings topic
    ]
    for message in bad:
        assert service.ingestor.offer("readings", message) is False
    service.undecodable_handler("readings")(ValueError("not JSON"))
    assert service.ingestor.offer("readings", reading(2)) is True
    service.ingestor.flush()
    assert service.store.counters()["readings"][MALFORMED] == 5
    assert service.status()["backlog"]["readings"]["records"] == 1


def test_ttl_expiry_is_applied_before_upload(tmp_path: Path) -> None:
    clock = {"t": 1764331200.0}
    config = validate_config(
        SyncConfig,
        {"storeDir": str(tmp_path), "streams": {"health": {"ttlSeconds": 60}}, "batch": {"maxAgeSeconds": 0}},
    )
    store = SqliteStore(tmp_path / "sync.db")
    objects = MemoryObjectSink()
    objects.online = False
    service = SyncComponent(config, store, objects, MemoryMessageSink(), THING, clock=lambda: clock["t"])
    from components.common.messages import health_message

    service.ingestor.offer("health", health_message("sensing", 1, clock["t"], {"cpu": 1}))
    service.ingestor.flush()
    clock["t"] += 61
    objects.online = True
    drain(service)
    assert objects.objects == {} and store.counters()["health"]["expired"] == 1
    store.close()


def test_spooled_images_are_uploaded_with_metadata_then_removed(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "part-7.png").write_bytes(b"\x89PNG fake")
    (spool / "part-7.json").write_text(json.dumps({"partId": "7", "ts": 1764331200.0, "image": "part-7.png"}))
    (spool / "part-8.png").write_bytes(b"no metadata yet: incomplete")
    service = make_service(tmp_path, imageSpoolDir=str(spool))
    drain(service)
    objects = service.uploader.objects
    assert isinstance(objects, MemoryObjectSink)
    assert objects.objects["images/dev-1/date=2025-11-28/part-7.png"] == b"\x89PNG fake"
    assert json.loads(objects.objects["images/dev-1/date=2025-11-28/part-7.json"])["partId"] == "7"
    assert sorted(p.name for p in spool.iterdir()) == ["part-8.png"]
    service.store.close()


def test_live_policy_change_applies_and_store_dir_change_is_refused(service: SyncComponent) -> None:
    changed = msgspec.structs.replace(service.config, daily_byte_budget=5)
    service.apply(changed)
    assert service.budget.limit_bytes == 5 and service.status()["dailyByteBudget"] == 5
    with pytest.raises(ConfigError, match="storeDir: cannot change while running"):
        service.apply(msgspec.structs.replace(service.config, store_dir="elsewhere"))


def test_threads_commit_within_the_window_and_stop_cleanly(service: SyncComponent) -> None:
    service.start()
    try:
        for seq in range(10):
            service.ingestor.offer("readings", reading(seq))
        objects = service.uploader.objects
        assert isinstance(objects, MemoryObjectSink)
        done = threading.Event()
        for _ in range(200):
            if len(delivered_readings(objects)) == 10:
                done.set()
                break
            service.link.wake.wait(0.05)
        assert done.is_set()
    finally:
        service.stop()


class FlakyDiskStore(SqliteStore):
    """A real store whose commits fail with a chosen SQLite error while ``error`` is set."""

    error: Exception | None = None

    def add(self, records: Any, limits: Any) -> Any:
        if self.error is not None:
            raise self.error
        return super().add(records, limits)


def test_a_transient_commit_error_keeps_the_records_queued_until_it_clears(tmp_path: Path) -> None:
    import sqlite3

    config = validate_config(SyncConfig, {"storeDir": str(tmp_path), "commitIntervalMs": 10})
    store = FlakyDiskStore(tmp_path / "sync.db")
    store.error = sqlite3.OperationalError("disk I/O error")
    service = SyncComponent(config, store, MemoryObjectSink(), MemoryMessageSink(), THING)
    service.ingestor.offer("readings", reading(1))
    with pytest.raises(sqlite3.OperationalError):
        service.ingestor.flush()
    service._store_failed(store.error)
    assert not service.failed.is_set()  # transient: not a reason to give the file up
    store.error = None
    assert service.ingestor.flush().get("readings", "stored") == 1
    store.close()


def test_a_damaged_file_at_run_time_stops_the_service_for_a_clean_restart(tmp_path: Path) -> None:
    import sqlite3

    config = validate_config(SyncConfig, {"storeDir": str(tmp_path), "commitIntervalMs": 10})
    store = FlakyDiskStore(tmp_path / "sync.db")
    store.error = sqlite3.DatabaseError("database disk image is malformed")
    service = SyncComponent(config, store, MemoryObjectSink(), MemoryMessageSink(), THING)
    service.start()
    try:
        service.ingestor.offer("readings", reading(1))
        assert service.failed.wait(10)
        assert "malformed" in repr(service.failure) and service.ingestor.halted
    finally:
        service.stop()
        store.close()


def test_after_an_outage_the_highest_priority_stream_drains_first_oldest_first(
    service: SyncComponent,
) -> None:
    from components.common.messages import anomaly_message, health_message

    objects = service.uploader.objects
    assert isinstance(objects, MemoryObjectSink)
    objects.online = False
    for seq in range(3):
        service.ingestor.offer("readings", reading(seq))
        service.ingestor.offer("health", health_message("sensing", seq, 1764331200.0 + seq, {"cpu": seq}))
        service.ingestor.offer(
            "anomalies",
            anomaly_message("line1", seq, 1764331200.0 + seq, model="m", model_version="1", score=0.1,
                            threshold=0.5, window_start=0.0, window_end=1.0, inference_ms=2.0),
        )  # fmt: skip
    service.ingestor.flush()
    objects.online = True
    service.link.mqtt_status(True)
    drain(service)
    streams = [key.split("/")[2] for key in objects.puts]
    assert streams == ["anomalies", "health", "readings"]  # priorities 40, 20, 10


def test_entries_written_by_the_inspection_spool_are_uploaded_and_removed(tmp_path: Path) -> None:
    # The contract of docs/spool.md, with the inspection component's own writer on the other side.
    import numpy as np

    from components.common.image_spool import entry_stem
    from components.inspection.spool import ImageSpool
    from components.sync.config import DEFAULT_IMAGE_SPOOL_DIR

    assert DEFAULT_IMAGE_SPOOL_DIR == "../com.edgebundle.QualityInspection/inspection-spool"
    spool_dir = tmp_path / "spool"
    spool = ImageSpool(spool_dir, max_bytes=10**8, max_entries=100, min_free_bytes=0)
    stem = entry_stem(1764331200.5, "part-9", 3)
    assert spool.write(stem, np.zeros((8, 8), dtype=np.uint8), {"partId": "part-9", "ts": 1764331200.5})
    service = make_service(tmp_path, imageSpoolDir=str(spool_dir))
    drain(service)
    objects = service.uploader.objects
    assert isinstance(objects, MemoryObjectSink)
    assert sorted(objects.objects) == [
        f"images/dev-1/date=2025-11-28/{stem}.json",
        f"images/dev-1/date=2025-11-28/{stem}.png",
    ]
    assert objects.objects[f"images/dev-1/date=2025-11-28/{stem}.png"].startswith(b"\x89PNG")
    assert list(spool_dir.iterdir()) == []
    service.store.close()
