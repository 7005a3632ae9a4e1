"""The sensing component with real threads, scripted drivers and a recording publisher."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest

from components.common import topics
from components.common.exceptions import ConfigError
from components.common.live_config import validate_config
from components.common.messages import Reading, parse_message
from components.sensing.actuator import SimulatedLed
from components.sensing.component import SensingComponent
from components.sensing.config import ActuatorConfig, SensingConfig, SensorConfig
from components.sensing.drivers.base import SensorDriver
from components.sensing.drivers.factory import build_driver
from components.sensing.exceptions import DriverUnavailableError

from .fakes import CHECKSUM, RecordingPublisher, ScriptedDriver

NORMAL = {"temperature": 21.0, "humidity": 40.0}
SPIKE = {"temperature": 60.0, "humidity": 40.0}


def config(**overrides: object) -> SensingConfig:
    raw: dict[str, object] = {
        "sensors": [{"id": "s1", "driver": "simulated", "intervalSeconds": 0.01}],
        "rules": [
            {
                "type": "threshold",
                "id": "hot",
                "sensor": "s1",
                "metric": "temperature",
                "above": 40,
                "hysteresis": 1,
                "severity": "critical",
            },
        ],
        "healthIntervalSeconds": 0.1,
    }
    raw.update(overrides)
    return validate_config(SensingConfig, raw)


class Harness:
    def __init__(self, scripts: dict[str, ScriptedDriver]) -> None:
        self.publisher = RecordingPublisher()
        self.scripts = scripts
        self.leds: list[SimulatedLed] = []

        def drivers(sensor: SensorConfig) -> SensorDriver:
            if sensor.id in self.scripts:
                return self.scripts[sensor.id]
            return build_driver(sensor)

        def leds(_config: ActuatorConfig) -> SimulatedLed:
            self.leds.append(SimulatedLed())
            return self.leds[-1]

        self.component = SensingComponent(self.publisher, driver_factory=drivers, led_factory=leds)


class HarnessFactory:
    """Makes harnesses; the fixture stops every one it made."""

    def __init__(self) -> None:
        self.made: list[Harness] = []

    def make(self, **scripts: ScriptedDriver) -> Harness:
        self.made.append(Harness(scripts))
        return self.made[-1]


@pytest.fixture
def harness() -> Iterator[HarnessFactory]:
    factory = HarnessFactory()
    yield factory
    for h in factory.made:
        h.component.stop()


def test_a_spike_raises_and_clears_an_alert_and_toggles_the_led(harness: HarnessFactory) -> None:
    driver = ScriptedDriver([NORMAL, NORMAL, SPIKE, NORMAL])
    h = harness.make(s1=driver)
    h.component.apply(config())
    h.component.start()
    raised = h.publisher.wait_for(topics.ALERTS, lambda m: m["state"] == "raised")
    cleared = h.publisher.wait_for(topics.ALERTS, lambda m: m["state"] == "cleared")
    assert raised["alertId"] == cleared["alertId"] == "hot:s1"
    assert raised["severity"] == "critical" and raised["reading"]["values"]["temperature"] == 60.0
    on = h.publisher.wait_for(topics.ACTUATOR, lambda m: m["on"])
    off = h.publisher.wait_for(topics.ACTUATOR, lambda m: not m["on"])
    assert "hot:s1" in on["reason"] and on["actuator"] == "alert-led"
    assert off["seq"] > on["seq"]
    assert h.leds[0].changes == 2 and not h.leds[0].on
    h.component.stop()
    assert not h.leds[0].on and driver.closed
    for topic, message in list(h.publisher.messages):
        parse_message(message)  # everything published matches its schema
        assert topic in {topics.READINGS, topics.ALERTS, topics.ACTUATOR, topics.HEALTH}
    readings = h.publisher.on(topics.READINGS)
    seqs = [m["seq"] for m in readings]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert readings[0]["kind"] == "environment" and readings[0]["units"] == {
        "temperature": "C",
        "humidity": "%",
    }


def test_a_failing_sensor_raises_a_fault_alert_without_a_busy_loop(harness: HarnessFactory) -> None:
    driver = ScriptedDriver([CHECKSUM], min_interval_s=0.0)
    h = harness.make(s1=driver)
    cfg = config(
        sensors=[
            {
                "id": "s1",
                "driver": "simulated",
                "intervalSeconds": 0.02,
                "retrySeconds": 0.1,
                "faultAfterSeconds": 0.3,
            }
        ],
        rules=[],
        actuator={"severities": ["critical"]},
    )
    started = time.monotonic()
    h.component.apply(cfg)
    h.component.start()
    fault = h.publisher.wait_for(topics.ALERTS, lambda m: m["ruleId"] == "sensor-fault")
    assert fault["state"] == "raised" and "Checksum did not validate" in fault["message"]
    assert fault["severity"] == "critical"
    h.publisher.wait_for(topics.ACTUATOR, lambda m: m["on"])
    bad = h.publisher.wait_for(topics.READINGS)
    assert bad["quality"] == "bad" and bad["values"] == {"temperature": None, "humidity": None}
    assert bad["error"] == CHECKSUM
    at_fault = driver.attempts
    h.publisher.wait_for(topics.HEALTH, lambda m: m["metrics"]["sensors"]["s1"]["errors"] >= at_fault + 3)
    elapsed = time.monotonic() - started
    h.component.stop()
    # Before the fault, attempts follow the interval; once faulty, retrySeconds apart: never a spin.
    assert driver.attempts <= elapsed / 0.02 + 2
    gaps = [b - a for a, b in itertools.pairwise(driver.attempt_times)]
    assert all(gap >= 0.019 for gap in gaps)
    assert all(gap >= 0.099 for gap in gaps[at_fault:])
    health = h.publisher.on(topics.HEALTH)[-1]["metrics"]["sensors"]["s1"]
    assert health["lastError"] == CHECKSUM and health["faulted"] is True


def test_a_recovering_sensor_clears_its_fault(harness: HarnessFactory) -> None:
    driver = ScriptedDriver([CHECKSUM] * 4 + [NORMAL])
    h = harness.make(s1=driver)
    h.component.apply(
        config(
            sensors=[
                {
                    "id": "s1",
                    "driver": "simulated",
                    "intervalSeconds": 0.01,
                    "retrySeconds": 0.01,
                    "faultAfterSeconds": 0.02,
                }
            ],
            rules=[],
        )
    )
    h.publisher.wait_for(topics.ALERTS, lambda m: m["state"] == "raised")
    cleared = h.publisher.wait_for(topics.ALERTS, lambda m: m["state"] == "cleared")
    assert cleared["alertId"] == "sensor-fault:s1"


def test_stale_rule_fires_from_the_housekeeping_tick(harness: HarnessFactory) -> None:
    h = harness.make(s1=ScriptedDriver([CHECKSUM]))
    h.component.apply(config(rules=[{"type": "stale", "id": "quiet", "sensor": "s1", "maxAgeSeconds": 0.2}]))
    h.component.start()
    stale = h.publisher.wait_for(topics.ALERTS, lambda m: m["ruleId"] == "quiet")
    assert stale["state"] == "raised" and "no good reading from s1" in stale["message"]


def test_reconfiguration_applies_valid_changes_and_refuses_unavailable_drivers(
    harness: HarnessFactory,
) -> None:
    driver = ScriptedDriver([SPIKE])
    h = harness.make(s1=driver)
    h.component.apply(config())
    h.publisher.wait_for(topics.ALERTS, lambda m: m["state"] == "raised")
    loop_before = h.component.loops["s1"]

    # Raising the threshold changes the rule: its alert is cleared as such, the sensor keeps running.
    changed = config(
        rules=[
            {
                "type": "threshold",
                "id": "hot",
                "sensor": "s1",
                "metric": "temperature",
                "above": 80,
                "severity": "critical",
            }
        ]
    )
    h.component.apply(changed)
    cleared = h.publisher.wait_for(topics.ALERTS, lambda m: m["state"] == "cleared")
    assert "changed or removed" in cleared["message"]
    assert h.component.loops["s1"] is loop_before and h.component.config == changed

    def unavailable(sensor: SensorConfig) -> SensorDriver:
        raise DriverUnavailableError("cannot import 'adafruit_dht': install the 'device' extra")

    h.component._driver_factory = unavailable
    bad = config(sensors=[{"id": "s1", "driver": "dht22", "pin": "D4"}], rules=[])
    with pytest.raises(ConfigError, match="sensor 's1' \\(dht22\\): cannot import 'adafruit_dht'"):
        h.component.apply(bad)
    assert h.component.config == changed and h.component.loops["s1"] is loop_before
    assert not driver.closed


def test_simulated_readings_carry_ground_truth(harness: HarnessFactory) -> None:
    h = harness.make()
    h.component.apply(
        config(
            sensors=[
                {
                    "id": "s1",
                    "driver": "simulated",
                    "intervalSeconds": 0.001,
                    "simulation": {
                        "seed": 4,
                        "readErrorRate": 0.2,
                        "spike": {"rate": 0.2, "minSamples": 1, "maxSamples": 1},
                    },
                }
            ]
        )
    )
    h.publisher.wait_for(topics.READINGS, lambda m: m.get("injected") == "spike")
    h.publisher.wait_for(topics.READINGS, lambda m: m["quality"] == "bad")
    readings = h.publisher.on(topics.READINGS)
    assert all("injected" in m for m in readings)
    parsed = [parse_message(m) for m in readings]
    assert any(isinstance(r, Reading) and r.injected == "spike" and r.quality == "good" for r in parsed)
    assert any(isinstance(r, Reading) and r.quality == "bad" and r.error for r in parsed)


class PinBoard:
    """A board where a pin can be opened by one driver at a time, like GPIO with libgpiod."""

    def __init__(self) -> None:
        self.held: dict[str, ScriptedDriver] = {}
        self.refuse: set[str] = set()

    def driver(self, sensor: SensorConfig) -> SensorDriver:
        if sensor.driver == "simulated":
            return build_driver(sensor)
        if sensor.pin in self.refuse:
            raise DriverUnavailableError(f"this board has no pin {sensor.pin!r}")
        if sensor.pin in self.held:
            raise DriverUnavailableError(f"pin {sensor.pin} is in use")
        board = self

        class Held(ScriptedDriver):
            def close(self) -> None:
                super().close()
                board.held.pop(sensor.pin, None)

        held = Held([NORMAL])
        self.held[sensor.pin] = held
        return held


def test_a_dht_reconfigured_on_its_own_pin_is_released_first_and_restored_on_refusal() -> None:
    board = PinBoard()
    publisher = RecordingPublisher()
    component = SensingComponent(
        publisher, driver_factory=board.driver, led_factory=lambda _c: SimulatedLed()
    )
    dht = {"id": "d", "driver": "dht22", "pin": "D4", "intervalSeconds": 2}
    try:
        component.apply(config(sensors=[dht], rules=[]))
        first = board.held["D4"]
        component.apply(config(sensors=[{**dht, "intervalSeconds": 3}], rules=[]))
        assert first.closed and board.held["D4"] is not first
        assert component.loops["d"].config.interval_seconds == 3

        second = board.held["D4"]
        board.refuse.add("D5")
        refused = config(
            sensors=[{**dht, "intervalSeconds": 4}, {"id": "e", "driver": "dht22", "pin": "D5"}], rules=[]
        )
        with pytest.raises(ConfigError, match="sensor 'e' \\(dht22\\): this board has no pin 'D5'"):
            component.apply(refused)
        # The DHT on D4 was released for the new configuration and is back with the old one.
        assert second.closed and "D4" in board.held and board.held["D4"] is not second
        assert component.loops["d"].config.interval_seconds == 3
        assert component.config is not None and component.config.sensors[0].interval_seconds == 3
    finally:
        component.stop()


def test_one_pin_cannot_serve_two_dhts_or_a_dht_and_the_led() -> None:
    with pytest.raises(ConfigError, match="not several: \\['D4'\\]"):
        config(
            sensors=[
                {"id": "a", "driver": "dht22", "pin": "D4"},
                {"id": "b", "driver": "dht11", "pin": "D4"},
            ],
            rules=[],
        )
    with pytest.raises(ConfigError, match="not several: \\['D4'\\]"):
        config(
            sensors=[{"id": "a", "driver": "dht22", "pin": "D4"}],
            rules=[],
            actuator={"driver": "gpio", "pin": "D4"},
        )
