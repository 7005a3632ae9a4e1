"""Reading batches (``edgebundle.reading-batch.v1``) on the readings topic: each reading is stored,
filtered and accounted for exactly as if it had come alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.common.live_config import validate_config
from components.common.messages import reading_batch_message
from components.sync.component import SyncComponent
from components.sync.config import SyncConfig
from components.sync.encoding import decode_batch
from components.sync.sinks import MemoryMessageSink, MemoryObjectSink
from components.sync.store.base import DEADBAND_DROPPED, DUPLICATES, MALFORMED
from components.sync.store.sqlite import SqliteStore

from .conftest import reading

THING = "dev-1"


def make_service(tmp_path: Path, **raw: object) -> SyncComponent:
    config = validate_config(
        SyncConfig, {"storeDir": str(tmp_path / "store"), "batch": {"maxAgeSeconds": 0}, **raw}
    )
    store = SqliteStore(tmp_path / "store" / "sync.db")
    return SyncComponent(config, store, MemoryObjectSink(), MemoryMessageSink(), THING)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[SyncComponent]:
    svc = make_service(tmp_path)
    yield svc
    svc.store.close()


def delivered(service: SyncComponent) -> list[dict[str, Any]]:
    for _ in range(1000):
        if not service.uploader.step():
            break
    objects = service.uploader.objects
    assert isinstance(objects, MemoryObjectSink)
    return [
        m for key, body in objects.objects.items() if key.startswith("telemetry/") for m in decode_batch(body)
    ]


def test_batched_and_single_readings_are_stored_one_by_one_and_delivered_once(service: SyncComponent) -> None:
    # GIVEN readings of two sensors, some alone and some in batches, one batch arriving twice
    singles = [reading(seq, "a") for seq in range(0, 10)]
    batch_a = [reading(seq, "a") for seq in range(10, 30)]
    batch_mixed = [reading(seq, s) for seq in range(30, 40) for s in "ab"]
    assert all(service.ingestor.offer("readings", m) for m in singles)
    assert service.ingestor.offer("readings", reading_batch_message("sensing", batch_a))
    assert service.ingestor.offer("readings", reading_batch_message("sensing", batch_mixed))
    service.ingestor.flush()
    service.ingestor.offer("readings", reading_batch_message("sensing", batch_a))  # redelivered
    service.ingestor.flush()
    # THEN each reading is one record under its own (source, seq), delivered exactly once, as it came
    got = delivered(service)
    expected = singles + batch_a + batch_mixed
    assert sorted((m["source"], m["seq"]) for m in got) == sorted((m["source"], m["seq"]) for m in expected)
    by_key = {(m["source"], m["seq"]): m for m in got}
    assert all(by_key[(m["source"], m["seq"])] == m for m in expected)
    counters = service.store.counters()["readings"]
    assert counters["delivered"] == len(expected) and counters[DUPLICATES] == len(batch_a)


def test_a_batch_with_one_bad_reading_is_refused_whole_and_counted_once(service: SyncComponent) -> None:
    good = [reading(seq) for seq in range(5)]
    bad = reading_batch_message("sensing", [*good, {**reading(5), "seq": -1}])
    assert service.ingestor.offer("readings", bad) is False
    assert service.ingestor.offer("readings", reading_batch_message("sensing", [])) is False
    # a batch is a readings-topic message only: on another stream it is malformed
    assert service.ingestor.offer("health", reading_batch_message("sensing", good)) is False
    service.ingestor.flush()
    assert service.store.counters()["readings"][MALFORMED] == 2
    assert service.store.counters()["health"][MALFORMED] == 1
    assert service.store.backlog() == {}


def test_the_deadband_filters_each_reading_of_a_batch_on_its_own(tmp_path: Path) -> None:
    service = make_service(
        tmp_path,
        streams={
            "readings": {"upload": "deadband", "deadband": {"temperature": 0.5}, "heartbeatSeconds": 10}
        },
    )
    try:
        temperatures = [20.0, 20.4, 20.5, 20.1, 21.0]
        readings = [
            reading(seq, ts=1764331200.0 + seq, temperature=t, humidity=40.0)
            for seq, t in enumerate(temperatures)
        ]
        assert service.ingestor.offer("readings", reading_batch_message("sensing", readings))
        service.ingestor.flush()
        assert service.store.counters()["readings"][DEADBAND_DROPPED] == 2
        assert sorted(m["seq"] for m in delivered(service)) == [0, 2, 4]
        # a batch whose every reading is filtered out keeps nothing
        flat = [reading(seq, ts=1764331205.0 + seq, temperature=21.0, humidity=40.0) for seq in (5, 6)]
        assert service.ingestor.offer("readings", reading_batch_message("sensing", flat)) is False
    finally:
        service.store.close()
