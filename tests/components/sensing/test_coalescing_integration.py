"""Readings coalesce under load, through the real runner, core and awsiotsdk clients.

The sensing component runs from its recipe in its own process; a simulated sensor at 5,000
readings a second, above the publisher's 200 messages a second (and faster than the core
acknowledges one message per reading), so readings arrive in ``edgebundle.reading-batch.v1``
messages. Every reading still arrives exactly once.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from components.common import topics
from tests.components.rig import RecordingPublisher, core_with_idle_component

NAME = "com.edgebundle.Sensing"
THING = "dev-1"
READINGS_WANTED = 6000


def fast_sensor(interval_s: float) -> dict[str, Any]:
    """A simulated sensor without anomalies (so no alert traffic), read errors left on."""
    quiet = {"rate": 0.0, "minSamples": 1, "maxSamples": 1}
    return {
        "id": "line1-env",
        "driver": "simulated",
        "intervalSeconds": interval_s,
        "simulation": {"seed": 7, "spike": quiet, "step": quiet, "stuck": quiet, "dropout": quiet},
    }


DEPLOYMENT = {
    "components": {
        NAME: {
            "configurationUpdate": {
                "merge": {"sensors": [fast_sensor(1.0)], "rules": [], "healthIntervalSeconds": 0.5}
            }
        }
    }
}


def test_at_a_high_rate_readings_arrive_in_batches_and_each_exactly_once(tmp_path: Path) -> None:
    with core_with_idle_component(
        tmp_path, NAME, THING, DEPLOYMENT, "test.Observer", subscribe=["edgebundle/sensing/*"]
    ) as (core, observer):
        seen = RecordingPublisher().subscribe(observer, topics.READINGS, topics.HEALTH)
        core.wait_for_log(NAME, "event=running")
        # GIVEN 5,000 readings a second, set live
        core.config.merge(NAME, {"sensors": [fast_sensor(0.0002)]})
        # WHEN a few thousand readings arrived
        seen.wait(
            lambda: len(seen.on(topics.READINGS)) >= READINGS_WANTED,
            timeout=120.0,
            what=f"{READINGS_WANTED} readings",
        )
        # THEN they came in batches, and every reading arrived once (one contiguous run of seqs:
        # the component numbers a sensor's readings across its sensor-loop restarts)
        readings = seen.on(topics.READINGS)
        assert seen.batches > 0
        assert {m["schema"] for m in readings} == {"edgebundle.reading.v1"}
        assert {m["source"] for m in readings} == {"line1-env"}
        seqs = sorted(m["seq"] for m in readings)
        gaps = [(a, b) for a, b in itertools.pairwise(seqs) if b != a + 1]
        assert not gaps, f"{len(gaps)} gaps or duplicates in {len(seqs)} readings, first: {gaps[:5]}"
        # and the component's health says nothing was dropped or failed on the way
        seen.wait_for(
            topics.HEALTH,
            lambda m: m["metrics"].get("publisher", {}).get("batches", 0) > 0,
            timeout=30.0,
        )
        publisher = seen.on(topics.HEALTH)[-1]["metrics"]["publisher"]
        assert publisher["readingsDropped"] == 0 and publisher["readingsFailed"] == 0
        assert publisher["failed"] == 0 and publisher["dropped"] == 0
