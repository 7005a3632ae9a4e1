"""The sensing component's configuration: sensors, local rules and the alert actuator, validated.

Keys are camelCase in recipes, deployments and the ``sensing-config`` shadow; a deployment or the
shadow's ``desired.config`` replaces a list (``sensors``, ``rules``) as a whole and merges maps
key by key (see :func:`components.common.live_config.deep_merge`).

Example::

    {"sensors": [{"id": "line1", "driver": "dht22", "pin": "D4", "intervalSeconds": 5}],
     "rules": [{"type": "threshold", "id": "line1-hot", "sensor": "line1",
                "metric": "temperature", "above": 35, "hysteresis": 1, "severity": "critical"}],
     "actuator": {"driver": "gpio", "pin": "LED", "severities": ["critical"]}}
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from components.common.messages import Severity
from components.common.replay import ReplayConfig
from components.common.structs import ConfigStruct, Id, Pin
from components.sensing.drivers.simulation_settings import SimulationSettings

DriverName = Literal["dht22", "dht11", "simulated", "system"]
HARDWARE_DRIVERS: frozenset[str] = frozenset({"dht22", "dht11"})
# The DHT library returns its cached values when asked again within 2 s (adafruit_dht.DHTBase.measure),
# so a DHT sensor is never sampled faster than this.
DHT_MIN_INTERVAL_S = 2.0

METRICS_BY_DRIVER: dict[str, frozenset[str]] = {
    "dht22": frozenset({"temperature", "humidity"}),
    "dht11": frozenset({"temperature", "humidity"}),
    "simulated": frozenset({"temperature", "humidity"}),
    "system": frozenset({"cpu_percent", "memory_percent", "disk_percent", "network_up", "battery_percent"}),
}


#: The most sensors one component reads: its health message carries a line per sensor and must stay
#: within the wire limit (components.common.wire_limits); a Pi's header has room for fewer DHTs.
MAX_SENSORS = 12


class SensorConfig(ConfigStruct, frozen=True):
    """One sensor: which driver reads it, where, and how often."""

    id: Id  # the readings' source
    driver: DriverName
    pin: Pin = "D4"  # board pin name (dht22/dht11)
    interval_seconds: Annotated[float, Meta(ge=0.0001, le=86_400.0)] = 2.0
    # How long a sensor may fail before a sensor-fault alert is raised (it keeps being tried).
    fault_after_seconds: Annotated[float, Meta(gt=0.0, le=86_400.0)] = 30.0
    # Spacing of the next attempt after a failed read (never below the driver's minimum).
    retry_seconds: Annotated[float, Meta(gt=0.0, le=3600.0)] = DHT_MIN_INTERVAL_S
    use_pulseio: bool = True  # dht22/dht11: False to bit-bang on Linux
    simulation: SimulationSettings = SimulationSettings()

    def __post_init__(self) -> None:
        if self.driver in HARDWARE_DRIVERS and self.interval_seconds < DHT_MIN_INTERVAL_S:
            raise ValueError(
                f"intervalSeconds must be >= {DHT_MIN_INTERVAL_S} for a {self.driver} "
                f"(the sensor's minimum spacing), got {self.interval_seconds}"
            )


# Rules are told apart by their "type" key ({"type": "threshold", ...}): it is msgspec's tag, so
# it is not an attribute; code tells them apart with isinstance.


class ThresholdRule(ConfigStruct, frozen=True, tag_field="type", tag="threshold"):
    """Raised when ``metric`` goes above ``above`` or below ``below``; cleared once it is back
    inside by at least ``hysteresis`` (so a value hovering at the limit does not flap)."""

    id: Id
    sensor: str
    metric: str
    above: float | None = None
    below: float | None = None
    hysteresis: Annotated[float, Meta(ge=0.0)] = 0.0
    severity: Severity = "warning"

    def __post_init__(self) -> None:
        if self.above is None and self.below is None:
            raise ValueError("a threshold rule needs 'above', 'below' or both")
        if (
            self.above is not None
            and self.below is not None
            and self.below + self.hysteresis >= self.above - self.hysteresis
        ):
            raise ValueError(
                f"'below' + hysteresis ({self.below} + {self.hysteresis}) must be less than "
                f"'above' - hysteresis ({self.above} - {self.hysteresis})"
            )


class RateOfChangeRule(ConfigStruct, frozen=True, tag_field="type", tag="rate_of_change"):
    """Raised when ``metric``'s trend over the last ``window_seconds`` (least-squares slope of the
    good readings in the window) is steeper than ``max_per_second``; cleared when it is gentler
    than ``max_per_second - hysteresis``. A window, not consecutive readings: at 10 Hz sensor
    noise alone makes reading-to-reading rates huge."""

    id: Id
    sensor: str
    metric: str
    max_per_second: Annotated[float, Meta(gt=0.0)]
    hysteresis: Annotated[float, Meta(ge=0.0)] = 0.0
    # 30 s: a DHT22 reads every 2 s at best, so a window holds >= 15 readings of it.
    window_seconds: Annotated[float, Meta(gt=0.0, le=3600.0)] = 30.0
    severity: Severity = "warning"

    def __post_init__(self) -> None:
        if self.hysteresis >= self.max_per_second:
            raise ValueError(
                f"hysteresis ({self.hysteresis}) must be less than maxPerSecond ({self.max_per_second})"
            )


class StaleRule(ConfigStruct, frozen=True, tag_field="type", tag="stale"):
    """Raised when ``sensor`` has had no good reading for ``max_age_seconds``; cleared by the next one."""

    id: Id
    sensor: str
    max_age_seconds: Annotated[float, Meta(gt=0.0)]
    severity: Severity = "warning"


Rule = ThresholdRule | RateOfChangeRule | StaleRule


class ActuatorConfig(ConfigStruct, frozen=True):
    """The alert LED: lit while any alert of one of ``severities`` is active."""

    name: Id = "alert-led"
    driver: Literal["gpio", "simulated"] = "simulated"
    pin: Pin = "LED"
    severities: tuple[Severity, ...] = ("critical",)


class SensingConfig(ConfigStruct, frozen=True):
    """The whole component configuration (recipe ``DefaultConfiguration`` minus ``accessControl``)."""

    sensors: Annotated[tuple[SensorConfig, ...], Meta(max_length=MAX_SENSORS)] = (
        SensorConfig(id="line1-env", driver="simulated", interval_seconds=2.0),
        SensorConfig(id="gateway", driver="system", interval_seconds=30.0, fault_after_seconds=120.0),
    )
    rules: tuple[Rule, ...] = (
        ThresholdRule(
            id="line1-temp-high", sensor="line1-env", metric="temperature", above=35.0, hysteresis=1.0
        ),
        ThresholdRule(
            id="line1-temp-critical",
            sensor="line1-env",
            metric="temperature",
            above=45.0,
            hysteresis=1.0,
            severity="critical",
        ),
        ThresholdRule(
            id="line1-humidity-high", sensor="line1-env", metric="humidity", above=80.0, hysteresis=3.0
        ),
        RateOfChangeRule(id="line1-temp-jump", sensor="line1-env", metric="temperature", max_per_second=2.0),
        StaleRule(id="line1-stale", sensor="line1-env", max_age_seconds=60.0, severity="critical"),
        ThresholdRule(
            id="gateway-disk-full", sensor="gateway", metric="disk_percent", above=90.0, hysteresis=2.0
        ),
    )
    actuator: ActuatorConfig = ActuatorConfig()
    health_interval_seconds: Annotated[float, Meta(ge=0.05, le=3600.0)] = 10.0
    sensor_fault_severity: Severity = "critical"
    # What stays recoverable for Sync per sensor, readings and alerts each (components.common.replay).
    replay: ReplayConfig = ReplayConfig()

    def __post_init__(self) -> None:
        sensor_ids = [sensor.id for sensor in self.sensors]
        duplicates = sorted({sid for sid in sensor_ids if sensor_ids.count(sid) > 1})
        if duplicates:
            raise ValueError(f"sensor ids must be unique, repeated: {duplicates}")
        rule_ids = [rule.id for rule in self.rules]
        duplicates = sorted({rid for rid in rule_ids if rule_ids.count(rid) > 1})
        if duplicates:
            raise ValueError(f"rule ids must be unique, repeated: {duplicates}")
        pins = [sensor.pin for sensor in self.sensors if sensor.driver in HARDWARE_DRIVERS]
        if self.actuator.driver == "gpio":
            pins.append(self.actuator.pin)
        shared = sorted({pin for pin in pins if pins.count(pin) > 1})
        if shared:
            raise ValueError(f"a pin can serve one DHT sensor or the LED, not several: {shared}")
        drivers = {sensor.id: sensor.driver for sensor in self.sensors}
        for rule in self.rules:
            if rule.sensor not in drivers:
                raise ValueError(
                    f"rule {rule.id!r}: unknown sensor {rule.sensor!r}; sensors are {sorted(drivers)}"
                )
            if not isinstance(rule, StaleRule):
                known = METRICS_BY_DRIVER[drivers[rule.sensor]]
                if rule.metric not in known:
                    raise ValueError(
                        f"rule {rule.id!r}: sensor {rule.sensor!r} ({drivers[rule.sensor]}) has no metric "
                        f"{rule.metric!r}; expected one of {sorted(known)}"
                    )

    def sensor(self, sensor_id: str) -> SensorConfig:
        """The sensor with ``sensor_id``.

        Raises:
            KeyError: no such sensor.
        """
        for sensor in self.sensors:
            if sensor.id == sensor_id:
                return sensor
        raise KeyError(sensor_id)
