"""The sensing component: sensor loops, rules, the alert LED and what they publish, reconfigurable live.

:class:`SensingComponent` knows nothing of IPC: it publishes through a :class:`Publisher` (the
IPC one in :mod:`components.common.publisher`, which coalesces readings into batches at high rates
and while the core lags behind, and never makes an alert wait for readings; a list in unit tests)
and is reconfigured by :meth:`SensingComponent.apply`, which ``LiveConfig`` calls with each
validated configuration.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from components.common import topics
from components.common.exceptions import ConfigError
from components.common.logs import kv
from components.common.messages import (
    Severity,
    actuator_message,
    alert_message,
    health_message,
    reading_message,
)
from components.common.replay import ReplayResponder
from components.common.sequence_numbers import SequenceNumbers
from components.sensing.actuator import AlertIndicator, AlertLed, build_led
from components.sensing.config import HARDWARE_DRIVERS, ActuatorConfig, SensingConfig, SensorConfig
from components.sensing.drivers.base import SensorDriver, SensorSample
from components.sensing.drivers.factory import DriverFactory, build_driver
from components.sensing.exceptions import DriverUnavailableError, SensorReadError
from components.sensing.rules import AlertEvent, RuleEngine
from components.sensing.sampler import SensorLoop

log = logging.getLogger(__name__)

COMPONENT_SOURCE = "sensing"
#: Every local topic the component publishes on (its recipe grants exactly these).
PUBLISHED_TOPICS: tuple[str, ...] = (
    topics.READINGS,
    topics.ALERTS,
    topics.HEALTH,
    topics.ACTUATOR,
    topics.SENSING_REPLAY,
)
#: Topics whose messages stay recoverable in the replay window (components.common.replay).
REPLAYED_TOPICS: tuple[str, ...] = (topics.READINGS, topics.ALERTS)
SENSOR_FAULT_RULE = "sensor-fault"
#: Active alert ids listed in the health message (the count is always whole; see active_alerts_summary).
HEALTH_ALERT_IDS = 8
# How often stale-data rules are checked (and health is considered for publishing).
_TICK_S = 0.25


class Publisher(Protocol):
    """Where the component's messages go."""

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        """Send ``message`` on ``topic``; must not block for long."""


class SensingComponent:
    """Sensors, rules and the alert LED, wired to a publisher.

    Args:
        publisher: where readings, alerts, health and actuator changes go.
        driver_factory: builds a sensor's driver (tests inject fakes).
        led_factory: builds the alert LED.
        replay: answers Sync's replay requests from the window ``publisher`` records in (None:
            no replay, as in most unit tests); configured with ``replay`` of each configuration.
        clock: wall time.
    """

    def __init__(
        self,
        publisher: Publisher,
        *,
        driver_factory: DriverFactory = build_driver,
        led_factory: Callable[[ActuatorConfig], AlertLed] = build_led,
        replay: ReplayResponder | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._publisher = publisher
        self.replay = replay
        self._driver_factory = driver_factory
        self._led_factory = led_factory
        self._clock = clock
        self._seq = SequenceNumbers(clock)
        self._lock = threading.RLock()  # rules, faults, indicator
        self._apply_lock = threading.Lock()
        self.config: SensingConfig | None = None
        self.loops: dict[str, SensorLoop] = {}
        self.engine = RuleEngine((), now=clock())
        self.faults: dict[str, AlertEvent] = {}
        self.indicator: AlertIndicator | None = None
        self._actuator_config: ActuatorConfig | None = None
        self._stop = threading.Event()
        self._housekeeper: threading.Thread | None = None
        self._next_health = 0.0
        self.alerts_published = 0
        self.readings_published = 0

    # -- configuration -----------------------------------------------------------------------------
    def apply(self, config: SensingConfig) -> None:
        """Make ``config`` the running configuration, restarting only the sensors it changes.

        Raises:
            ConfigError: a configured driver or LED cannot run here; the old configuration
                keeps running untouched.
        """
        with self._apply_lock:
            old = self.config
            old_sensors = {sensor.id: sensor for sensor in old.sensors} if old else {}
            changed = [sensor for sensor in config.sensors if old_sensors.get(sensor.id) != sensor]
            # A DHT being replaced holds its pin until its loop stops: release it before the new
            # driver opens the same pin, and bring it back if the new configuration is refused.
            wanted_pins = {sensor.pin for sensor in changed if sensor.driver in HARDWARE_DRIVERS}
            unchanged = {sensor.id for sensor in config.sensors} - {sensor.id for sensor in changed}
            released = [
                loop.config
                for sensor_id, loop in self.loops.items()
                if sensor_id not in unchanged
                and loop.config.driver in HARDWARE_DRIVERS
                and loop.config.pin in wanted_pins
            ]
            for previous_sensor in released:
                self.loops.pop(previous_sensor.id).stop()
            built: dict[str, SensorDriver] = {}
            new_led: AlertLed | None = None
            failing = "actuator"
            try:
                for sensor in changed:
                    failing = f"sensor {sensor.id!r} ({sensor.driver})"
                    built[sensor.id] = self._driver_factory(sensor)
                failing = "actuator"
                if (
                    self._actuator_config is None
                    or config.actuator.driver != self._actuator_config.driver
                    or config.actuator.pin != self._actuator_config.pin
                ):
                    new_led = self._led_factory(config.actuator)
            except DriverUnavailableError as err:
                for driver in built.values():
                    driver.close()
                self._restart(released)
                raise ConfigError(f"{failing}: {err}") from err

            keep = {sensor.id for sensor in config.sensors} - set(built)
            for sensor_id in [sid for sid in self.loops if sid not in keep]:
                self.loops.pop(sensor_id).stop()

            with self._lock:
                previous = self.engine
                self.engine = RuleEngine(config.rules, now=self._clock(), previous=previous)
                dropped = self.engine.dropped_alerts(previous, self._clock())
                for alert_id in [aid for aid, ev in self.faults.items() if ev.sensor not in keep]:
                    fault = self.faults.pop(alert_id)
                    dropped.append(
                        self._fault_event(fault.sensor, False, "sensor reconfigured", self._clock(), config)
                    )
                if new_led is not None:
                    if self.indicator is not None:
                        self.indicator.led.close()
                    self.indicator = AlertIndicator(new_led, config.actuator.severities)
                elif self.indicator is not None:
                    self.indicator.severities = frozenset(config.actuator.severities)
                self._actuator_config = config.actuator
                self.config = config
                if self.replay is not None:
                    self.replay.window.configure(config.replay)
                self._publish_alerts(dropped)

            for sensor in config.sensors:
                if sensor.id in built:
                    loop = SensorLoop(
                        sensor,
                        built[sensor.id],
                        self._on_sample,
                        self._on_failure,
                        self._on_fault,
                        self._clock,
                    )
                    self.loops[sensor.id] = loop
                    loop.start()
            log.info(kv(event="sensing_configured", sensors=len(config.sensors), restarted=len(built)))

    def _restart(self, sensors: list[SensorConfig]) -> None:
        """Bring back sensors stopped for a configuration that was then refused."""
        for sensor in sensors:
            try:
                driver = self._driver_factory(sensor)
            except DriverUnavailableError as err:
                log.error(kv(event="sensor_not_restored", sensor=sensor.id, error=err))
                continue
            loop = SensorLoop(sensor, driver, self._on_sample, self._on_failure, self._on_fault, self._clock)
            self.loops[sensor.id] = loop
            loop.start()

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the housekeeping thread (stale rules and health) and the replay responder."""
        self._stop.clear()
        if self.replay is not None:
            self.replay.start()
        self._housekeeper = threading.Thread(target=self._housekeep, name="sensing-housekeeping", daemon=True)
        self._housekeeper.start()

    def stop(self) -> None:
        """Stop every sensor loop and the housekeeping, switch the LED off and release it."""
        self._stop.set()
        if self.replay is not None:
            self.replay.stop()
        for loop in list(self.loops.values()):
            loop.stop()
        self.loops.clear()
        if self._housekeeper is not None:
            self._housekeeper.join(2.0)
        if self.indicator is not None:
            try:
                self.indicator.led.set(False)
                self.indicator.led.close()
            except Exception as err:
                log.warning(kv(event="led_close_failed", error=repr(err)))

    def _housekeep(self) -> None:
        while not self._stop.wait(_TICK_S):
            now = self._clock()
            with self._lock:
                self._publish_alerts(self.engine.on_tick(now))
            config = self.config
            if config is not None and now >= self._next_health:
                self._next_health = now + config.health_interval_seconds
                self.publish_health(now)

    # -- sensor events ---------------------------------------------------------------------------
    def _on_sample(self, sensor: SensorConfig, driver: SensorDriver, sample: SensorSample, ts: float) -> None:
        extra = {"injected": sample.injected} if sensor.driver == "simulated" else {}
        message = reading_message(
            sensor.id,
            self._seq.next(sensor.id, topics.READINGS),
            ts,
            driver.kind,
            sample.values,
            sample.units,
            "good",
            **extra,
        )
        # Rules first: an alert goes out before the reading that raised it, one publish sooner.
        with self._lock:
            events = self.engine.on_reading(sensor.id, ts, sample.values, message)
            if events:
                self._publish_alerts(events)
        self._publisher.publish(topics.READINGS, message)
        self.readings_published += 1

    def _on_failure(
        self, sensor: SensorConfig, driver: SensorDriver, err: SensorReadError, ts: float
    ) -> None:
        extra: dict[str, Any] = {"error": str(err)}
        if sensor.driver == "simulated":
            extra["injected"] = err.injected
        message = reading_message(
            sensor.id,
            self._seq.next(sensor.id, topics.READINGS),
            ts,
            driver.kind,
            dict.fromkeys(driver.units),
            driver.units,
            "bad",
            **extra,
        )
        self._publisher.publish(topics.READINGS, message)
        self.readings_published += 1

    def _on_fault(self, sensor: SensorConfig, faulted: bool, message: str, ts: float) -> None:
        with self._lock:
            event = self._fault_event(sensor.id, faulted, message, ts, self.config)
            if faulted:
                self.faults[event.alert_id] = event
            elif self.faults.pop(event.alert_id, None) is None:
                return
            self._publish_alerts([event])

    def _fault_event(
        self, sensor_id: str, faulted: bool, message: str, ts: float, config: SensingConfig | None
    ) -> AlertEvent:
        severity: Severity = config.sensor_fault_severity if config else "critical"
        return AlertEvent(
            f"{SENSOR_FAULT_RULE}:{sensor_id}",
            SENSOR_FAULT_RULE,
            sensor_id,
            severity,
            "raised" if faulted else "cleared",
            message,
            ts,
        )

    # -- publishing ------------------------------------------------------------------------------
    def _publish_alerts(self, events: list[AlertEvent]) -> None:
        """Publish alert events and update the LED; called with ``self._lock`` held."""
        for event in events:
            self._publisher.publish(
                topics.ALERTS,
                alert_message(
                    event.sensor,
                    self._seq.next(event.sensor, topics.ALERTS),
                    event.ts,
                    event.alert_id,
                    event.rule_id,
                    event.severity,
                    event.state,
                    event.message,
                    event.reading,
                ),
            )
            self.alerts_published += 1
            # Logged once sent: the log line (a pipe write) must not delay the alert itself.
            log.info(kv(event=f"alert_{event.state}", alert=event.alert_id, severity=event.severity))
        if events or self.indicator is not None:
            self._update_indicator(events[-1].ts if events else self._clock())

    def _update_indicator(self, ts: float) -> None:
        indicator = self.indicator
        if indicator is None or self._actuator_config is None:
            return
        active = [*self.engine.active.values(), *self.faults.values()]
        changed = indicator.update(event.severity for event in active)
        if changed is None:
            return
        lit_by = sorted(event.alert_id for event in active if event.severity in indicator.severities)
        reason = (
            f"alerts active: {', '.join(lit_by)}" if changed else "no alert of a lighting severity is active"
        )
        name = self._actuator_config.name
        self._publisher.publish(
            topics.ACTUATOR,
            actuator_message(name, self._seq.next(name, topics.ACTUATOR), ts, name, changed, reason),
        )

    def health_metrics(self) -> dict[str, Any]:
        """The component's health: per-sensor read statistics, alerts, LED, publish counts."""
        with self._lock:
            active = sorted([*self.engine.active, *self.faults])
            led_on = self.indicator.on if self.indicator is not None else False
        return {
            "sensors": {sensor_id: loop.stats.as_metrics() for sensor_id, loop in list(self.loops.items())},
            "activeAlerts": self.active_alerts_summary(active),
            "activeAlertCount": len(active),
            "actuatorOn": led_on,
            "readingsPublished": self.readings_published,
            "alertsPublished": self.alerts_published,
        }

    @staticmethod
    def active_alerts_summary(active: list[str]) -> list[str]:
        """The active alert ids the health message lists: the first :data:`HEALTH_ALERT_IDS`,
        sorted (``activeAlertCount`` has them all; each alert has its own message on the alerts
        topic). Rules are unbounded, and the message must stay within the wire limit."""
        return sorted(active)[:HEALTH_ALERT_IDS]

    def publish_health(self, now: float) -> None:
        """Publish one health message."""
        metrics = self.health_metrics()
        extra = getattr(self._publisher, "metrics", None)
        if callable(extra):
            metrics["publisher"] = extra()
        self._publisher.publish(
            topics.HEALTH,
            health_message(COMPONENT_SOURCE, self._seq.next(COMPONENT_SOURCE, topics.HEALTH), now, metrics),
        )
