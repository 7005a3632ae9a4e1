"""Readings and alerts published while Sync is down reach the cloud, once: the replay protocol
(components/common/replay.py in sensing, components/sync/gaps.py in Sync) in the real local core,
with the real awsiotsdk client in both components.

Greengrass local pub/sub delivers a message only to the subscribers connected at that moment
(aws-greengrass-nucleus ``PubSubIPCEventStreamAgent``: ``publishToTopic`` hands the message to the
current listeners of the topic and keeps nothing), so without a replay everything sensing
publishes while Sync is stopped or restarting is gone. Within one run of sensing a source's
``seq`` is consecutive, so "nothing lost" is exact here: every number from the first to the last
of each source is in S3 (readings) or the alerts table (alerts), each exactly once.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.common import topics
from localcore.testing import CoreHarness
from tests.components.rig import ConfigShadow, wait_until

from .test_core_integration import (
    SENSING,
    SYNC,
    THING,
    alert_items,
    committed,
    kill_sync,
    s3_readings,
    start_core,
    sync_pid,
)


@pytest.fixture
def core(tmp_path: Path) -> Iterator[CoreHarness]:
    with start_core(tmp_path) as harness:
        yield harness


def _alert_seqs(core: CoreHarness) -> list[tuple[str, int]]:
    """(source, seq) of every alert in the table, from its ``alertKey`` (``<ts>#<source>#<seq>``)."""
    found = []
    for item in alert_items(core):
        _ts, source, seq = item["alertKey"]["S"].rsplit("#", 2)
        found.append((source, int(seq)))
    return found


def _assert_consecutive_once(found: list[tuple[str, int]], what: str) -> None:
    counts = Counter(found)
    twice = [key for key, n in counts.items() if n > 1]
    assert not twice, f"{what} stored more than once: {twice[:5]}"
    by_source: dict[str, list[int]] = {}
    for source, seq in counts:
        by_source.setdefault(source, []).append(seq)
    for source, seqs in by_source.items():
        missing = set(range(min(seqs), max(seqs) + 1)) - set(seqs)
        assert not missing, f"{what} of {source}: {len(missing)} missing, e.g. {sorted(missing)[:5]}"


def test_what_sensing_publishes_while_sync_is_down_or_killed_arrives_once(core: CoreHarness) -> None:
    pause = threading.Event()
    core.wait_for_state(SYNC, "RUNNING")
    core.wait_for_state(SENSING, "RUNNING")
    # GIVEN sensing publishing at 50 Hz, and readings and alerts flowing to the cloud
    wait_until(lambda: len(s3_readings(core)) >= 50, timeout=60, what="readings in S3")
    wait_until(lambda: alert_items(core), timeout=60, what="an alert in the alerts table")
    # WHEN Sync is stopped for three seconds while sensing keeps publishing
    ok, message = core.runner.stop_component(SYNC)
    assert ok, message
    wait_until(lambda: sync_pid(core) is None, what="sync stopped")
    pause.wait(3.0)
    ok, message = core.runner.restart_component(SYNC)
    assert ok, message
    # AND then killed with SIGKILL twice (readings received but not committed die with it)
    for _ in range(2):
        wait_until(lambda: sync_pid(core) is not None and core.state(SYNC) == "RUNNING", what="sync running")
        pause.wait(1.5)
        kill_sync(core)
    wait_until(lambda: sync_pid(core) is not None and core.state(SYNC) == "RUNNING", what="sync back")
    pause.wait(2.0)  # the restarted Sync asks for what it missed and gets it
    ok, message = core.runner.stop_component(SENSING)
    assert ok, message
    reported = ConfigShadow(core, THING, topics.SHADOW_SYNC).reported

    def drained() -> bool:
        status = reported()
        return (
            not committed(core)
            and status.get("gaps", {}).get("open") == 0
            and status["backlog"].get("readings", {}).get("records", 0) == 0
        )

    wait_until(drained, timeout=90, what="the store drained, no gap open")
    # THEN every reading of each sensor, first to last, is in S3 exactly once
    _assert_consecutive_once(s3_readings(core), "readings")
    # AND every alert is in the alerts table exactly once
    _assert_consecutive_once(_alert_seqs(core), "alerts")
    # AND the replay did the work (Sync was down for seconds at 50 readings a second)
    counters = reported()["counters"]["readings"]
    assert counters.get("replayed", 0) >= 100
    assert counters.get("replayEvicted", 0) == 0
