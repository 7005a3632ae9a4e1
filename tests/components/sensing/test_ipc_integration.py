"""The sensing component's entry point against localcore's IPC server with the real awsiotsdk client.

The component runs in-process (``build_and_run`` in a thread) with a real
``GreengrassCoreIPCClientV2`` on the real IPC server, the real configuration store (recipe
defaults plus a deployment merge) and the real shadow store; an observer component subscribes
to the sensing topics with its own real client.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.common import topics
from components.common.ipc import ComponentIpc
from components.common.live_config import ConfigError
from components.sensing.__main__ import build_and_run
from localcore.config.store import ConfigStore
from localcore.ipc.testing import IpcHarness, ipc_server

ROOT = Path(__file__).resolve().parents[3]
NAME = "com.edgebundle.Sensing"
THING = "dev-1"
OBSERVER_ACL = {
    "aws.greengrass.ipc.pubsub": {
        "o": {"operations": ["aws.greengrass#SubscribeToTopic"], "resources": ["edgebundle/sensing/*"]}
    }
}


def recipe_defaults() -> dict[str, Any]:
    recipe = yaml.safe_load((ROOT / "recipes" / f"{NAME}.yaml").read_text())
    defaults: dict[str, Any] = recipe["ComponentConfiguration"]["DefaultConfiguration"]
    # What the runner does: interpolate recipe variables in accessControl.
    return json.loads(json.dumps(defaults).replace("{iot:thingName}", THING))


class Observer:
    """Collects every message on the sensing topics through a real subscriber client."""

    def __init__(self, core: IpcHarness) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._cond = threading.Condition()
        ipc = ComponentIpc(core.client("test.Observer"), "test.Observer", THING)
        for topic in (topics.READINGS, topics.ALERTS, topics.HEALTH, topics.ACTUATOR):
            ipc.subscribe_json(topic, lambda payload, topic=topic: self._add(topic, payload))

    def _add(self, topic: str, payload: dict[str, Any]) -> None:
        with self._cond:
            self.messages.append((topic, payload))
            self._cond.notify_all()

    def wait_for(
        self, topic: str, predicate: Callable[[dict[str, Any]], bool] = lambda _m: True, timeout: float = 20.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for t, message in self.messages:
                    if t == topic and predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"nothing on {topic} matched within {timeout} s")
                self._cond.wait(remaining)


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        pause.wait(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Running:
    def __init__(self, core: IpcHarness, config: ConfigStore, observer: Observer) -> None:
        self.core = core
        self.config = config
        self.observer = observer

    def shadow(self) -> dict[str, Any]:
        assert self.core.shadows is not None
        document: dict[str, Any] = json.loads(self.core.shadows.get(THING, topics.SHADOW_SENSING))
        return document

    def desire(self, config: dict[str, Any]) -> None:
        assert self.core.shadows is not None
        payload = {"state": {"desired": {"config": config}}}
        self.core.shadows.update(THING, topics.SHADOW_SENSING, json.dumps(payload).encode(), source="cloud")


@contextmanager
def running_sensing(tmp_path: Path, deployment: dict[str, Any]) -> Iterator[Running]:
    store = ConfigStore()
    store.set_defaults(NAME, recipe_defaults())
    store.merge(NAME, deployment)
    components = {NAME: recipe_defaults()["accessControl"], "test.Observer": OBSERVER_ACL}
    with ipc_server(tmp_path, components=components, config=store) as core:
        observer = Observer(core)
        ipc = ComponentIpc(core.client(NAME), NAME, THING)
        stop = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            try:
                build_and_run(ipc, stop)
            except BaseException as err:  # surfaced below
                errors.append(err)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            wait_until(lambda: core.server.reported_state(NAME) == "RUNNING" or errors, what="RUNNING")
            assert not errors, errors
            yield Running(core, store, observer)
        finally:
            stop.set()
            thread.join(10)
            assert not thread.is_alive(), "the component did not stop when asked"
            assert not errors, errors


SPIKY = {
    "sensors": [
        {
            "id": "line1-env",
            "driver": "simulated",
            "intervalSeconds": 0.01,
            "simulation": {
                "seed": 3,
                "readErrorRate": 0.0,
                "spike": {"rate": 0.02, "minSamples": 1, "maxSamples": 1, "magnitude": 20.0},
            },
        }
    ],
    "rules": [
        {
            "type": "threshold",
            "id": "hot",
            "sensor": "line1-env",
            "metric": "temperature",
            "above": 35,
            "hysteresis": 1,
            "severity": "critical",
        }
    ],
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
    store = ConfigStore()
    store.set_defaults(NAME, recipe_defaults())
    store.merge(NAME, {"sensors": [{"id": "x", "driver": "nope"}]})
    with ipc_server(tmp_path, components={NAME: recipe_defaults()["accessControl"]}, config=store) as core:
        ipc = ComponentIpc(core.client(NAME), NAME, THING)
        with pytest.raises(ConfigError, match=r"sensors\.0\.driver"):
            build_and_run(ipc, threading.Event())
        assert core.server.reported_state(NAME) is None
