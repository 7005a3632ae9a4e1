"""The sensing component as the real runner starts it: from its recipe, in its own process.

An observer component (a process that only holds its IPC identity) subscribes to the sensing
topics with a real client; the deployment configures a spiky simulated sensor.
"""

from __future__ import annotations

import itertools
import threading
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from components.common import topics
from components.common.ipc import ComponentIpc
from components.common.messages import iter_readings
from localcore.testing import CoreHarness
from tests.components.rig import RecordingPublisher, core_with_idle_component

from .fakes import HOT_RULE, spiky_sensor

NAME = "com.edgebundle.Sensing"
THING = "dev-1"

DEPLOYMENT_SENSOR = spiky_sensor(interval_s=0.01, seed=5)
DEPLOYMENT = {
    "components": {
        NAME: {
            "configurationUpdate": {
                "merge": {
                    "sensors": [DEPLOYMENT_SENSOR],
                    "rules": [HOT_RULE],
                }
            }
        }
    }
}


def observed_sensing(tmp_path: Path) -> AbstractContextManager[tuple[CoreHarness, ComponentIpc]]:
    """The core running sensing from its recipe and ``test.Observer``, which may subscribe."""
    return core_with_idle_component(
        tmp_path, NAME, THING, DEPLOYMENT, "test.Observer", subscribe=["edgebundle/sensing/*"]
    )


def test_runner_starts_the_recipe_and_the_component_alerts_and_stops_cleanly(tmp_path: Path) -> None:
    with observed_sensing(tmp_path) as (core, observer):
        collected = RecordingPublisher().subscribe(observer, topics.READINGS, topics.ALERTS, topics.ACTUATOR)
        core.wait_for_state(NAME, "RUNNING")
        core.wait_for_log(NAME, "event=running")

        collected.wait_for(topics.READINGS, lambda m: m["source"] == "line1-env")
        raised = collected.wait_for(topics.ALERTS, lambda m: m["state"] == "raised")
        assert raised["alertId"] == "hot:line1-env"
        collected.wait_for(topics.ALERTS, lambda m: m["state"] == "cleared")
        collected.wait_for(topics.ACTUATOR, lambda m: m["on"] is True)
        collected.wait_for(topics.ACTUATOR, lambda m: m["on"] is False)

        # SIGTERM from the runner: the component ends on its own, with exit code 0, inside the grace.
        ok, message = core.runner.stop_component(NAME)
        assert ok, message
        core.wait_for_state(NAME, "FINISHED", timeout=10)
        core.wait_for_log(NAME, "event=stopped")
        core.wait_for_log(NAME, "run: ended with code 0")


@pytest.mark.soak
@pytest.mark.timeout(600)
def test_soak_minutes_at_high_rate_with_faults_and_reconfiguration(tmp_path: Path) -> None:
    """Three minutes at 500 readings/s with read errors, anomalies and a reconfiguration every 20 s:
    no reading is lost or duplicated (seqs form one contiguous run), no publish fails or is
    dropped, memory stays flat."""
    import psutil

    with observed_sensing(tmp_path) as (core, observer):
        collected = RecordingPublisher().subscribe(observer, topics.READINGS, topics.ALERTS, topics.HEALTH)
        core.wait_for_log(NAME, "event=running")
        process = next(
            p
            for p in psutil.Process().children(recursive=True)
            if "components.sensing" in " ".join(p.cmdline())
        )
        rss_start = None
        pause = threading.Event()
        for round_number in range(9):
            interval = 0.002 if round_number % 2 == 0 else 0.0025
            core.config.merge(
                NAME,
                {
                    "sensors": [dict(DEPLOYMENT_SENSOR, intervalSeconds=interval)],
                    "healthIntervalSeconds": 1.0,
                },
            )
            pause.wait(20.0)  # a soak runs for its duration; nothing to wait on
            if rss_start is None:
                rss_start = process.memory_info().rss
        rss_end = process.memory_info().rss
        # A message on the readings topic is one reading or, at high rates or while the core lags, a batch of them.
        readings = [r for t, m in list(collected.messages) if t == topics.READINGS for r in iter_readings(m)]
        seqs = [r.seq for r in readings]
        assert len(readings) > 50_000
        # The observer's client runs callbacks on a thread pool, so arrival order is not publish
        # order; what must hold is that no reading is duplicated or lost: one contiguous run.
        ordered = sorted(seqs)
        gaps = [(a, b) for a, b in itertools.pairwise(ordered) if b != a + 1]
        assert not gaps, f"{len(gaps)} gaps or duplicates in {len(seqs)} readings, first: {gaps[:5]}"
        last_health = [m for t, m in list(collected.messages) if t == topics.HEALTH][-1]["metrics"]
        assert last_health["publisher"]["failed"] == 0 and last_health["publisher"]["dropped"] == 0
        assert rss_start is not None and rss_end - rss_start < 30 * 1024 * 1024
