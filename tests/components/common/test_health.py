"""The shared health loop: reports until stopped, survives a failing report, re-reads its interval."""

from __future__ import annotations

import threading

from components.common.health import HealthLoop


def test_the_loop_reports_survives_a_failure_and_stops() -> None:
    # GIVEN a loop whose second report raises
    stop = threading.Event()
    calls: list[int] = []
    enough = threading.Event()
    intervals: list[float] = []

    def publish() -> None:
        calls.append(len(calls))
        if len(calls) == 2:
            raise RuntimeError("publisher gone")
        if len(calls) >= 4:
            enough.set()

    def interval() -> float:
        intervals.append(0.001)
        return 0.001

    loop = HealthLoop("test-health", publish, interval, stop)
    # WHEN it runs
    loop.start()
    assert enough.wait(5.0)
    stop.set()
    loop.join(5.0)
    # THEN it went on after the failure, read its interval before every report, and ended
    assert len(calls) >= 4 and len(intervals) >= len(calls)
    assert not loop.thread.is_alive()


def test_a_loop_stopped_before_its_first_interval_never_reports() -> None:
    stop = threading.Event()
    stop.set()
    calls: list[int] = []
    loop = HealthLoop("test-health", lambda: calls.append(1), lambda: 3600.0, stop)
    loop.start()
    loop.join(5.0)
    assert calls == [] and not loop.thread.is_alive()
