"""Sync's half of the replay protocol (components/sync/gaps.py) against the real store: a gap in a
source's seq is asked for, held records wait for it, replayed records land once and in their own
non-overlapping batch, and what cannot come back is counted by cause."""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.common import topics
from components.common.live_config import validate_config
from components.common.messages import parse_message, replay_message
from components.sync.batching import parse_batch_key
from components.sync.component import SyncComponent
from components.sync.config import SyncConfig
from components.sync.gaps import (
    GAP_MAX_ATTEMPTS,
    GAP_RETRY_S,
    GAPS_NOT_HELD,
    GAPS_OPENED,
    GAPS_UNANSWERED,
    REPLAY_EVICTED,
    REPLAYED,
    START_REQUEST_DELAY_S,
)
from components.sync.sinks import MemoryMessageSink, MemoryObjectSink
from components.sync.store.base import DUPLICATES, Gap
from components.sync.store.schema import SCHEMA_VERSION
from components.sync.store.sqlite import SqliteStore

from .conftest import alert, reading
from .test_pipeline import delivered_readings, drain


def alert_seqs(sink: MemoryMessageSink) -> list[int]:
    return [json.loads(payload)["seq"] for _, payload in sink.messages]


class Clock:
    def __init__(self) -> None:
        self.now = 1764331300.0

    def __call__(self) -> float:
        return self.now


class Rig:
    """A sync component without threads: the test drives ingest, gaps and uploads."""

    def __init__(self, root: Path, clock: Clock) -> None:
        config = validate_config(SyncConfig, {"storeDir": str(root / "store"), "batch": {"maxAgeSeconds": 0}})
        self.requests: list[dict[str, Any]] = []
        self.objects = MemoryObjectSink()
        self.messages = MemoryMessageSink()
        self.clock = clock
        self.service = SyncComponent(
            config,
            SqliteStore(root / "store" / "sync.db"),
            self.objects,
            self.messages,
            "dev-1",
            replay_requests=lambda _topic, message: self.requests.append(message),
            clock=clock,
        )
        self.service.gaps.start()

    def offer(self, *messages: dict[str, Any], stream: str = "readings") -> None:
        for message in messages:
            self.service.ingestor.offer(stream, message)
        self.service.ingestor.flush()

    def answer(self, request: dict[str, Any], messages: list[dict[str, Any]], **extra: Any) -> None:
        self.service.gaps.on_replay(
            replay_message(
                "sensing",
                1,
                self.clock(),
                request_id=request["requestId"],
                topic=request["topic"],
                messages=messages,
                missing=extra.get("missing", []),
                final=True,
            )
        )
        self.service.ingestor.flush()

    def counters(self, stream: str = "readings") -> dict[str, int]:
        return self.service.store.counters().get(stream, {})

    def close(self) -> None:
        self.service.store.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path, Clock())
    yield r
    r.close()


def test_a_gap_is_asked_for_held_back_and_filled_once_in_its_own_batch(rig: Rig) -> None:
    # GIVEN readings 1..3 of a sensor stored, then 7 arrives (4..6 were lost on the way)
    rig.offer(*(reading(seq) for seq in (1, 2, 3)))
    rig.offer(reading(7))
    # THEN a gap 4..6 is open in the store and asked for
    assert rig.service.store.gaps() == [Gap("readings", "line1", 4, 6)]
    rig.service.gaps.tick()
    (request,) = rig.requests
    assert parse_message(request).ranges[0].first == 4  # type: ignore[attr-defined]
    assert request["ranges"] == [{"source": "line1", "first": 4, "last": 6}]
    # AND while it is open, 7 waits: only 1..3 are uploaded
    drain(rig.service)
    assert sorted(seq for _, seq in delivered_readings(rig.objects)) == [1, 2, 3]
    # WHEN the producer answers with 4..6
    rig.answer(request, [reading(seq) for seq in (4, 5, 6)])
    # THEN the gap closes and everything arrives once, in batches whose ranges never overlap
    assert rig.service.store.gaps() == []
    drain(rig.service)
    assert sorted(seq for _, seq in delivered_readings(rig.objects)) == [1, 2, 3, 4, 5, 6, 7]
    keys = [parse_batch_key(key) for key in rig.objects.objects]
    ranges = sorted((key.first_seq, key.last_seq) for key in keys if key is not None)
    assert len(ranges) == len(keys) >= 2
    assert all(a_last < b_first for (_, a_last), (b_first, _) in itertools.pairwise(ranges))
    assert rig.counters()[GAPS_OPENED] == 1 and rig.counters()[REPLAYED] == 3


def test_a_retried_answer_is_stored_once(rig: Rig) -> None:
    rig.offer(reading(1))
    rig.offer(reading(4))
    rig.service.gaps.tick()
    (request,) = rig.requests
    rig.answer(request, [reading(2), reading(3)])
    rig.answer(request, [reading(2), reading(3)])  # the producer answered a retry too
    assert rig.counters().get(DUPLICATES) == 2
    drain(rig.service)
    assert sorted(seq for _, seq in delivered_readings(rig.objects)) == [1, 2, 3, 4]


def test_on_start_sync_asks_for_everything_after_what_it_knows_and_for_new_sources(
    tmp_path: Path,
) -> None:
    # GIVEN a store that holds readings of line1 up to 3, and alerts of rules up to 2
    clock = Clock()
    first = Rig(tmp_path, clock)
    first.offer(*(reading(seq) for seq in (1, 2, 3)))
    first.offer(alert(1), alert(2), stream="alerts")
    first.close()
    # WHEN Sync starts again and nothing arrives live for a moment
    rig = Rig(tmp_path, clock)
    clock.now += START_REQUEST_DELAY_S
    rig.service.gaps.tick()
    # THEN it asks each replayed topic's producer for what follows, and for sources it never saw
    by_topic = {request["topic"]: request for request in rig.requests}
    assert set(by_topic) == {topics.READINGS, topics.ALERTS, topics.INSPECTION_DECISIONS}
    assert by_topic[topics.READINGS]["ranges"] == [{"source": "line1", "first": 4, "last": None}]
    assert by_topic[topics.ALERTS]["ranges"] == [{"source": "rules", "first": 3, "last": None}]
    assert all(request["others"] for request in rig.requests)
    # AND what comes back is stored
    rig.answer(by_topic[topics.READINGS], [reading(4), reading(5), reading(1, source="line2")])
    drain(rig.service)
    assert sorted(delivered_readings(rig.objects)) == [
        ("line1", 1), ("line1", 2), ("line1", 3), ("line1", 4), ("line1", 5), ("line2", 1)
    ]  # fmt: skip
    rig.close()


def test_a_source_seen_live_before_the_start_request_is_left_to_the_gap_rule(tmp_path: Path) -> None:
    clock = Clock()
    first = Rig(tmp_path, clock)
    first.offer(reading(1))
    first.close()
    rig = Rig(tmp_path, clock)
    rig.offer(reading(5))  # live: opens the gap 2..4
    clock.now += START_REQUEST_DELAY_S
    rig.service.gaps.tick()
    readings = [r for r in rig.requests if r["topic"] == topics.READINGS]
    assert [r["ranges"] for r in readings] == [[{"source": "line1", "first": 2, "last": 4}], []]
    assert readings[1]["exclude"] == ["line1"]
    rig.close()


def test_what_left_the_producers_window_is_counted_lost_and_the_gap_closes(rig: Rig) -> None:
    rig.offer(reading(1))
    rig.offer(reading(10))
    rig.service.gaps.tick()
    (request,) = rig.requests
    missing = [{"source": "line1", "first": 2, "last": 6, "reason": "evicted", "count": 5}]
    rig.answer(request, [reading(seq) for seq in (7, 8, 9)], missing=missing)
    assert rig.counters()[REPLAY_EVICTED] == 5 and rig.service.store.gaps() == []
    drain(rig.service)
    assert sorted(seq for _, seq in delivered_readings(rig.objects)) == [1, 7, 8, 9, 10]


def test_a_gap_across_a_producer_restart_is_not_held_and_not_counted_lost(rig: Rig) -> None:
    rig.offer(reading(1))
    rig.offer(reading(1_000_000))  # the restarted producer numbers from its start time
    rig.service.gaps.tick()
    (request,) = rig.requests
    missing = [{"source": "line1", "first": 2, "last": 999_999, "reason": "notHeld", "count": None}]
    rig.answer(request, [], missing=missing)
    assert rig.counters()[GAPS_NOT_HELD] == 1 and REPLAY_EVICTED not in rig.counters()
    drain(rig.service)
    assert sorted(seq for _, seq in delivered_readings(rig.objects)) == [1, 1_000_000]


def test_an_unanswered_gap_is_given_up_counted_and_releases_what_it_held(rig: Rig) -> None:
    # GIVEN a gap whose producer never answers (it is down too)
    rig.offer(reading(1))
    rig.offer(reading(3))
    # WHEN every attempt has gone unanswered
    for _ in range(GAP_MAX_ATTEMPTS + 1):
        rig.service.gaps.tick()
        rig.clock.now += GAP_RETRY_S
    # THEN it was asked that many times, then given up and counted
    gap_requests = [r for r in rig.requests if r["ranges"] == [{"source": "line1", "first": 2, "last": 2}]]
    assert len(gap_requests) == GAP_MAX_ATTEMPTS
    rig.service.ingestor.flush()
    assert rig.counters()[GAPS_UNANSWERED] == 1 and rig.service.store.gaps() == []
    drain(rig.service)
    assert sorted(seq for _, seq in delivered_readings(rig.objects)) == [1, 3]


def test_an_open_gap_survives_a_crash_and_is_asked_for_again(tmp_path: Path) -> None:
    clock = Clock()
    first = Rig(tmp_path, clock)
    first.offer(reading(1))
    first.offer(reading(5))
    first.close()  # killed before any answer
    rig = Rig(tmp_path, clock)
    rig.service.gaps.tick()
    assert rig.requests[0]["ranges"] == [{"source": "line1", "first": 2, "last": 4}]
    rig.close()


def test_alerts_above_an_open_gap_wait_so_each_source_arrives_in_order(rig: Rig) -> None:
    rig.offer(alert(1), stream="alerts")
    rig.offer(alert(3), stream="alerts")
    rig.service.gaps.tick()
    drain(rig.service)
    assert alert_seqs(rig.messages) == [1]
    (request,) = rig.requests
    rig.answer(request, [alert(2)])
    drain(rig.service)
    assert alert_seqs(rig.messages) == [1, 2, 3]


def test_a_store_of_schema_1_is_migrated_to_hold_gaps(tmp_path: Path) -> None:
    # GIVEN a store file written by the previous version (schema 1: no gaps table)
    path = tmp_path / "store" / "sync.db"
    rig = Rig(tmp_path, Clock())
    rig.offer(reading(1))
    rig.close()
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE gaps; PRAGMA user_version = 1;")
    db.close()
    # WHEN this version opens it
    store = SqliteStore(path)
    # THEN what it held is intact and gaps can be kept
    assert store.backlog()["readings"].records == 1
    store.open_gaps([Gap("readings", "line1", 2, 3)], 0.0)
    assert store.gaps() == [Gap("readings", "line1", 2, 3)]
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    db.close()
