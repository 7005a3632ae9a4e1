"""The sensing component's entry point against localcore's IPC server with the real awsiotsdk client.

The component runs in-process (``build_and_run`` in a thread) with a real
``GreengrassCoreIPCClientV2`` on the real IPC server, the real configuration store (recipe
defaults plus a deployment merge) and the real shadow store; an observer component subscribes
to the sensing topics with its own real client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from components.common import topics
from components.common.exceptions import ConfigError
from components.common.ipc import ComponentIpc
from components.sensing.__main__ import build_and_run
from localcore.config.store import ConfigStore
from localcore.ipc.testing import IpcHarness
from tests.components.rig import (
    ConfigShadow,
    RecordingPublisher,
    component_ipc_server,
    pubsub_acl,
    running_component,
    wait_until,
)

from .fakes import HOT_RULE, spiky_sensor

NAME = "com.edgebundle.Sensing"
THING = "dev-1"
OBSERVER_ACL = pubsub_acl("o", subscribe=["edgebundle/sensing/*"])


class Running(ConfigShadow):
    def __init__(self, core: IpcHarness, config: ConfigStore, observer: RecordingPublisher) -> None:
        super().__init__(core, THING, topics.SHADOW_SENSING)
        self.config = config
        self.observer = observer


@contextmanager
def running_sensing(tmp_path: Path, deployment: dict[str, Any]) -> Iterator[Running]:
    with component_ipc_server(tmp_path, NAME, THING, deployment, {"test.Observer": OBSERVER_ACL}) as core:
        # Collects every message on the sensing topics through a real subscriber client.
        observer = RecordingPublisher().subscribe(
            ComponentIpc(core.client("test.Observer"), "test.Observer", THING),
            topics.READINGS,
            topics.ALERTS,
            topics.HEALTH,
            topics.ACTUATOR,
        )
        with running_component(core, NAME, THING, build_and_run):
            assert isinstance(core.config, ConfigStore)
            yield Running(core, core.config, observer)


SPIKY = {
    "sensors": [spiky_sensor(interval_s=0.01, seed=3, readErrorRate=0.0)],
    "rules": [HOT_RULE],
    "healthIntervalSeconds": 0.2,
}


def test_readings_alerts_and_the_led_over_real_ipc(tmp_path: Path) -> None:
    with running_sensing(tmp_path, SPIKY) as sensing:
        observer = sensing.observer
        reading = observer.wait_for(topics.READINGS, lambda m: m["quality"] == "good")
        assert reading["schema"] == "edgebundle.reading.v1" and reading["source"] == "line1-env"
        assert set(reading["values"]) == {"temperature", "humidity"} and "injected" in reading
        raised = observer.wait_for(topics.ALERTS, lambda m: m["state"] == "raised")
        assert raised["alertId"] == "hot:line1-env" and raised["reading"]["injected"] == "spike"
        observer.wait_for(
            topics.ALERTS, lambda m: m["state"] == "cleared" and m["alertId"] == "hot:line1-env"
        )
        observer.wait_for(topics.ACTUATOR, lambda m: m["on"] is True)
        observer.wait_for(topics.ACTUATOR, lambda m: m["on"] is False)
        health = observer.wait_for(topics.HEALTH, lambda m: m["metrics"]["readingsPublished"] > 0)
        assert health["metrics"]["publisher"]["failed"] == 0
        # The configuration in effect is reported in the shadow.
        reported = wait_until(lambda: sensing.shadow()["state"].get("reported"), what="reported state")
        assert reported["status"] == "applied" and reported["config"]["healthIntervalSeconds"] == 0.2


def test_shadow_changes_are_applied_or_rejected_and_reported(tmp_path: Path) -> None:
    with running_sensing(tmp_path, SPIKY) as sensing:
        sensing.desire({"rules": [], "healthIntervalSeconds": 0.3})

        def reported() -> dict[str, Any]:
            return dict(sensing.shadow()["state"].get("reported") or {})

        wait_until(lambda: reported().get("config", {}).get("healthIntervalSeconds") == 0.3, what="applied")
        assert reported()["status"] == "applied" and reported()["config"]["rules"] == []

        sensing.desire({"sensors": [{"id": "line1-env", "driver": "bme280"}]})
        wait_until(lambda: reported().get("status") == "rejected", what="rejected")
        assert "sensors.0.driver" in reported()["error"]
        # The previous configuration keeps running and is still what is reported.
        assert reported()["config"]["healthIntervalSeconds"] == 0.3
        count = len(sensing.observer.messages)
        wait_until(lambda: len(sensing.observer.messages) > count + 5, what="more readings")


def test_a_deployment_change_is_applied_without_restart(tmp_path: Path) -> None:
    with running_sensing(tmp_path, SPIKY) as sensing:
        sensing.config.merge(NAME, {"sensorFaultSeverity": "warning", "healthIntervalSeconds": 0.25})
        wait_until(
            lambda: (
                (sensing.shadow()["state"].get("reported") or {}).get("config", {}).get("sensorFaultSeverity")
                == "warning"
            ),
            what="deployment change reported",
        )


def test_a_failing_sensor_raises_a_fault_alert_without_busy_looping(tmp_path: Path) -> None:
    failing = {
        "sensors": [
            {
                "id": "line1-env",
                "driver": "simulated",
                "intervalSeconds": 0.05,
                "retrySeconds": 0.2,
                "faultAfterSeconds": 0.3,
                "simulation": {"readErrorRate": 1.0},
            }
        ],
        "rules": [],
        "healthIntervalSeconds": 0.2,
    }
    with running_sensing(tmp_path, failing) as sensing:
        started = time.monotonic()
        fault = sensing.observer.wait_for(topics.ALERTS, lambda m: m["ruleId"] == "sensor-fault")
        assert fault["state"] == "raised" and fault["severity"] == "critical"
        sensing.observer.wait_for(topics.ACTUATOR, lambda m: m["on"] is True)
        health = sensing.observer.wait_for(
            topics.HEALTH, lambda m: m["metrics"]["sensors"]["line1-env"]["errors"] >= 8
        )
        elapsed = time.monotonic() - started
        stats = health["metrics"]["sensors"]["line1-env"]
        assert stats["faulted"] is True and stats["good"] == 0 and stats["lastError"]
        # At most one attempt per interval before the fault, one per retrySeconds after it.
        assert stats["reads"] <= elapsed / 0.05 + 2


def test_an_invalid_deployment_configuration_stops_the_component_with_a_config_error(tmp_path: Path) -> None:
    with component_ipc_server(tmp_path, NAME, THING, {"sensors": [{"id": "x", "driver": "nope"}]}) as core:
        ipc = ComponentIpc(core.client(NAME), NAME, THING)
        with pytest.raises(ConfigError, match=r"sensors\.0\.driver: Invalid enum value 'nope'"):
            build_and_run(ipc, threading.Event())
        assert core.server.reported_state(NAME) is None
