"""The inference component's entry point against localcore's IPC server with real awsiotsdk clients.

The component runs in-process (``build_and_run`` in a thread) on a real
``GreengrassCoreIPCClientV2``, with the real configuration store (recipe defaults plus a
deployment) and the real shadow store. A ``test.Line`` component publishes simulated readings
and observes the anomaly events and health with its own real client.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage

from components.common import topics
from components.common.ipc import ComponentIpc
from components.common.model_manifest import Manifest
from components.inference.__main__ import build_and_run
from localcore.ipc.testing import IpcHarness
from tests.components.rig import (
    ConfigShadow,
    RecordingPublisher,
    component_ipc_server,
    pubsub_acl,
    running_component,
    wait_until,
)

from .conftest import clean_readings, inject_spike

NAME = "com.edgebundle.Inference"
THING = "dev-1"
LINE_ACL = pubsub_acl(publish=[topics.READINGS], subscribe=[topics.ANOMALIES, topics.INFERENCE_STATUS])


class Line:
    """The production line's side: publishes readings, collects what the component publishes."""

    def __init__(self, core: IpcHarness) -> None:
        self.ipc = ComponentIpc(core.client("test.Line"), "test.Line", THING)
        self.seen = RecordingPublisher().subscribe(self.ipc, topics.ANOMALIES, topics.INFERENCE_STATUS)

    @property
    def events(self) -> list[dict[str, Any]]:
        """The anomaly events so far."""
        return self.seen.on(topics.ANOMALIES)

    @property
    def health(self) -> list[dict[str, Any]]:
        """The health messages so far."""
        return self.seen.on(topics.INFERENCE_STATUS)

    def publish(self, readings: list[dict[str, Any]]) -> None:
        """Every other reading as a ``jsonMessage`` (another producer's form), the rest as the
        bundle sends them (binary JSON): the component reads both."""
        for index, reading in enumerate(readings):
            if index % 2:
                self.ipc.publish_json(topics.READINGS, reading)
            else:
                self.ipc.client.publish_to_topic(
                    topic=topics.READINGS,
                    publish_message=PublishMessage(json_message=JsonMessage(message=reading)),
                )


class Running(ConfigShadow):
    def __init__(self, core: IpcHarness, line: Line) -> None:
        super().__init__(core, THING, topics.SHADOW_INFERENCE)
        self.line = line


@contextmanager
def running_inference(tmp_path: Path, deployment: dict[str, Any]) -> Iterator[Running]:
    with component_ipc_server(tmp_path, NAME, THING, deployment, {"test.Line": LINE_ACL}) as core:
        line = Line(core)
        with running_component(core, NAME, THING, build_and_run, join_timeout=15):
            yield Running(core, line)


def test_an_injected_anomaly_raises_an_event_within_one_window(tmp_path: Path) -> None:
    with running_inference(tmp_path, {"healthIntervalSeconds": 0.2}) as running:
        # GIVEN clean simulated readings with one spike, the kind the sensing simulator injects
        readings = clean_readings("line1-env", 160)
        inject_spike(readings, 100)
        # WHEN they are published on the readings topic
        running.line.publish(readings)
        # THEN one anomaly event is raised for a window that holds the spike
        raised = wait_until(lambda: [e for e in running.line.events if e["isAnomaly"]], what="anomaly event")[
            0
        ]
        spike_ts = readings[100]["ts"]
        assert raised["source"] == "line1-env" and raised["model"] == "sensor-anomaly"
        assert raised["windowStart"] <= spike_ts <= raised["windowEnd"] <= spike_ts + 63 * 1.0
        assert raised["modelVersion"] == Manifest.load().variant("sensor_anomaly", "int8").version
        assert raised["score"] >= raised["threshold"] and raised["inferenceMs"] > 0
        # AND health reports the model's throughput and latency
        health = wait_until(
            lambda: [
                h
                for h in running.line.health
                if h["metrics"]["models"]["sensor-anomaly"]["windowsScored"] >= 97
            ],
            what="health",
        )[-1]["metrics"]["models"]["sensor-anomaly"]
        assert health["variant"] == "int8" and health["windowsDropped"] == 0
        assert health["invokeMs"]["p99"] is not None
        assert running.reported()["status"] == "applied"


def test_a_swap_under_load_drops_no_windows_and_a_bad_swap_is_refused(tmp_path: Path) -> None:
    deployment = {
        "models": [{"name": "sensor-anomaly", "variant": "int8", "publish": "all"}],
        "healthIntervalSeconds": 0.2,
    }
    with running_inference(tmp_path, deployment) as running:
        line = running.line
        readings = clean_readings("line1-env", 63 + 600, seed=9, period_s=0.01)
        publisher = threading.Thread(target=line.publish, args=(readings,))
        publisher.start()
        # WHILE readings stream in, swap to the float32 variant
        wait_until(lambda: len(line.events) > 50, what="first events")
        running.desire({"models": [{"name": "sensor-anomaly", "variant": "float32", "publish": "all"}]})
        publisher.join()
        # THEN every window is scored exactly once, some by each variant
        wait_until(lambda: len(line.events) >= len(readings) - 63, what="all windows")
        # Events may arrive out of order (publishes are pipelined); each window exactly once.
        ends = sorted(e["windowEnd"] for e in line.events)
        assert ends == [r["ts"] for r in readings[63:]]
        wait_until(
            lambda: running.reported().get("config", {}).get("models", [{}])[0].get("variant") == "float32"
        )
        health = wait_until(
            lambda: [h for h in line.health if h["metrics"]["models"]["sensor-anomaly"]["swaps"] == 1],
            what="health after the swap",
        )[-1]["metrics"]["models"]["sensor-anomaly"]
        assert health["variant"] == "float32" and health["windowsDropped"] == 0 and health["errors"] == 0

        # WHEN a bad model is desired (its sha256 does not match the file)
        good = Manifest.load().variant("sensor_anomaly", "int8")
        running.desire(
            {
                "models": [
                    {"name": "sensor-anomaly", "path": str(good.path), "sha256": "0" * 64, "publish": "all"}
                ]
            }
        )
        # THEN it is refused with the reason in the shadow, and float32 keeps serving
        reported = wait_until(lambda: running.reported().get("status") == "rejected" and running.reported())
        assert "sha256" in reported["error"] and "sensor-anomaly" in reported["error"]
        assert reported["config"]["models"][0]["variant"] == "float32"
        count = len(line.events)
        line.publish(clean_readings("line1-env", 5, seed=9, period_s=0.01))
        wait_until(lambda: len(line.events) >= count + 5, what="still serving")
