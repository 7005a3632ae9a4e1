"""The producers' replay window and responder (components/common/replay.py): bounds by count and
age, what a request gets back, and what it is told is missing, and why."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from components.common import topics
from components.common.exceptions import StructError
from components.common.messages import ReplayRequest, parse_message, reading_message, replay_request_message
from components.common.replay import (
    MAX_REPLAY_MESSAGES,
    RecordingPublisher,
    ReplayConfig,
    ReplayResponder,
    ReplayWindow,
)
from components.common.structs import convert
from components.common.wire_limits import MAX_MESSAGE_BYTES, encode


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A publisher that keeps what it is given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        self.sent.append((topic, message))

    def flush(self, timeout: float = 5.0) -> bool:
        return True

    def metrics(self) -> dict[str, Any]:
        return {"sent": len(self.sent)}


def reading(seq: int, source: str = "line1") -> dict[str, Any]:
    return reading_message(source, seq, 1.0 + seq, "environment", {"temperature": 20.0}, {"temperature": "C"})


def request(
    ranges: list[tuple[str, int, int | None]], *, others: bool = False, exclude: list[str] | None = None
) -> ReplayRequest:
    raw = replay_request_message(
        "sync", 1, 1.0, request_id="r1", topic=topics.READINGS, ranges=ranges, others=others, exclude=exclude
    )
    parsed = parse_message(raw)
    assert isinstance(parsed, ReplayRequest)
    return parsed


def seqs(messages: list[dict[str, Any]]) -> list[int]:
    return [message["seq"] for message in messages]


def test_a_gap_inside_the_window_is_given_back_in_order() -> None:
    window = ReplayWindow([topics.READINGS])
    for seq in range(100, 110):
        window.record(topics.READINGS, reading(seq))
    found, missing = window.lookup(request([("line1", 103, 105)]))
    assert seqs(found) == [103, 104, 105] and missing == []


def test_the_window_keeps_at_most_max_messages_and_tells_what_it_dropped() -> None:
    # GIVEN a window of 5 messages per source and 10 published
    window = ReplayWindow([topics.READINGS], ReplayConfig(max_messages=5))
    for seq in range(100, 110):
        window.record(topics.READINGS, reading(seq))
    # WHEN the whole run is asked for
    found, missing = window.lookup(request([("line1", 100, 109)]))
    # THEN the last 5 come back and the first 5 are reported evicted, counted as lost
    assert seqs(found) == [105, 106, 107, 108, 109]
    assert missing == [{"source": "line1", "first": 100, "last": 104, "reason": "evicted", "count": 5}]
    assert window.metrics()["replayEvicted"] == 5 and window.metrics()["held"] == 5


def test_messages_older_than_max_age_leave_the_window() -> None:
    clock = Clock()
    window = ReplayWindow([topics.READINGS], ReplayConfig(max_age_seconds=10.0), clock=clock)
    window.record(topics.READINGS, reading(1))
    clock.now += 11
    window.record(topics.READINGS, reading(2))
    found, missing = window.lookup(request([("line1", 1, None)]))
    assert seqs(found) == [2] and missing[0]["reason"] == "evicted" and missing[0]["count"] == 1


def test_numbers_before_this_run_are_not_held_and_not_counted_as_lost() -> None:
    # GIVEN a producer whose run started at seq 500 (a restart numbers higher than before)
    window = ReplayWindow([topics.READINGS])
    for seq in range(500, 503):
        window.record(topics.READINGS, reading(seq))
    # WHEN Sync asks for the gap between the old run's last number and this run's
    found, missing = window.lookup(request([("line1", 90, 501)]))
    # THEN the part of this run is replayed, the rest is "notHeld" without a count
    assert seqs(found) == [500, 501]
    assert missing == [{"source": "line1", "first": 90, "last": 499, "reason": "notHeld", "count": None}]
    assert window.metrics()["replayEvicted"] == 0


def test_others_gives_every_source_not_named_or_excluded() -> None:
    window = ReplayWindow([topics.READINGS])
    for source in ("a", "b", "c"):
        window.record(topics.READINGS, reading(1, source))
        window.record(topics.READINGS, reading(2, source))
    found, _ = window.lookup(request([("a", 2, None)], others=True, exclude=["b"]))
    assert sorted((m["source"], m["seq"]) for m in found) == [("a", 2), ("c", 1), ("c", 2)]


def test_only_the_replayed_topics_are_recorded() -> None:
    window = ReplayWindow([topics.READINGS])
    window.record(topics.HEALTH, reading(1))
    assert window.metrics()["recorded"] == 0


def test_a_smaller_window_applies_at_once() -> None:
    window = ReplayWindow([topics.READINGS])
    for seq in range(10):
        window.record(topics.READINGS, reading(seq))
    window.configure(ReplayConfig(max_messages=2))
    assert window.metrics()["held"] == 2


def test_the_recording_publisher_records_then_hands_on_and_reports_the_window() -> None:
    inner = Recorder()
    publisher = RecordingPublisher(inner, ReplayWindow([topics.READINGS]))
    publisher.publish(topics.READINGS, reading(1))
    assert inner.sent == [(topics.READINGS, reading(1))]
    metrics = publisher.metrics()
    assert metrics["sent"] == 1 and metrics["replay"]["held"] == 1


def test_the_responder_answers_in_chunks_and_the_last_carries_what_is_missing() -> None:
    # GIVEN more messages held than fit one replay message
    window = ReplayWindow([topics.READINGS], ReplayConfig(max_messages=MAX_REPLAY_MESSAGES + 50))
    for seq in range(10, 10 + MAX_REPLAY_MESSAGES + 60):
        window.record(topics.READINGS, reading(seq))
    out = Recorder()
    numbers = iter(range(1, 100))
    responder = ReplayResponder(window, out, "sensing", topics.SENSING_REPLAY, lambda _s, _t: next(numbers))
    # WHEN everything is asked for
    replayed = responder.answer(request([("line1", 0, None)]))
    # THEN several replay messages, valid, in order, each within the wire limit (nucleus-lite.md,
    # "Size limits": a larger packet closes the publisher's IPC connection); only the last is
    # final and carries "missing"
    assert replayed == MAX_REPLAY_MESSAGES + 50
    assert len(out.sent) >= 2
    assert {topic for topic, _ in out.sent} == {topics.SENSING_REPLAY}
    assert all(len(encode(message)) <= MAX_MESSAGE_BYTES for _, message in out.sent)
    parsed = [parse_message(message) for _, message in out.sent]
    assert all(p.final is False and p.missing == [] for p in parsed[:-1])  # type: ignore[attr-defined]
    last = parsed[-1]
    assert last.final is True  # type: ignore[attr-defined]
    assert [m.reason for m in last.missing] == ["notHeld", "evicted"]  # type: ignore[attr-defined]
    all_seqs = [m["seq"] for _, message in out.sent for m in message["messages"]]
    assert all_seqs == list(range(20, 10 + MAX_REPLAY_MESSAGES + 60))


def test_the_responder_ignores_other_topics_and_logs_malformed_requests(
    caplog: pytest.LogCaptureFixture,
) -> None:
    window = ReplayWindow([topics.READINGS])
    responder = ReplayResponder(window, Recorder(), "sensing", topics.SENSING_REPLAY, lambda _s, _t: 1)
    other = replay_request_message(
        "sync", 1, 1.0, request_id="x", topic=topics.INSPECTION_DECISIONS, ranges=[]
    )
    responder.on_request(other)
    responder.on_request({"schema": "edgebundle.replay-request.v1", "source": "sync", "seq": 1, "ts": 1.0})
    assert window.metrics()["requests"] == 0
    assert "replay_request_malformed" in caplog.text and "requestId" in caplog.text


def test_the_replay_keys_are_strict_camel_case() -> None:
    assert convert({"maxMessages": 10, "maxAgeSeconds": 5}, ReplayConfig) == ReplayConfig(
        max_messages=10, max_age_seconds=5.0
    )
    with pytest.raises(StructError, match="maxMesages"):
        convert({"maxMesages": 10}, ReplayConfig)
    with pytest.raises((StructError, msgspec.ValidationError)):
        convert({"maxMessages": -1}, ReplayConfig)
