"""Per-(source, topic) sequence numbers, shared by every component."""

from __future__ import annotations

from components.common.sequence_numbers import SequenceNumbers


def test_sequence_numbers_increase_per_source_and_topic_and_across_restarts() -> None:
    now = [1000.0]
    first = SequenceNumbers(lambda: now[0])
    a = [first.next("s1", "readings") for _ in range(3)]
    assert a == [1_000_000_000, 1_000_000_001, 1_000_000_002]
    assert first.next("s1", "alerts") == 1_000_000_000
    now[0] += 0.5  # a restart half a second later continues above
    assert SequenceNumbers(lambda: now[0]).next("s1", "readings") > a[-1]
