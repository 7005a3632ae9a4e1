"""Builds the configured driver for a sensor; hardware libraries are imported only here, on demand."""

from __future__ import annotations

import time
from collections.abc import Callable

from components.sensing.config import SensorConfig
from components.sensing.drivers.base import SensorDriver

DriverFactory = Callable[[SensorConfig], SensorDriver]


def build_driver(sensor: SensorConfig, clock: Callable[[], float] = time.time) -> SensorDriver:
    """The driver ``sensor.driver`` names, set up from ``sensor``.

    Raises:
        DriverUnavailableError: a hardware driver whose library, board or pin is missing.
    """
    if sensor.driver == "simulated":
        from components.sensing.drivers.simulated import SimulatedDht22

        return SimulatedDht22(sensor.simulation, period_s=sensor.interval_seconds, clock=clock)
    if sensor.driver == "system":
        from components.sensing.drivers.system import SystemSensor

        return SystemSensor()
    from components.sensing.drivers.dht import DhtSensor

    return DhtSensor(sensor.driver, sensor.pin, use_pulseio=sensor.use_pulseio)
