"""Device health as a sensor: CPU, memory, disk, network link state and battery, through psutil."""

from __future__ import annotations

from typing import Any

import psutil

from components.sensing.drivers.base import SensorDriver, SensorSample
from components.sensing.exceptions import SensorReadError

UNITS: dict[str, str] = {
    "cpu_percent": "%",
    "memory_percent": "%",
    "disk_percent": "%",
    "network_up": "bool",
    "battery_percent": "%",
}


class SystemSensor(SensorDriver):
    """The gateway's own health.

    ``network_up`` is 1.0 when at least one non-loopback interface reports its link up, else 0.0.
    ``battery_percent`` is ``None`` where the OS reports no battery (most gateways).

    Args:
        disk_path: the filesystem whose usage is reported (the Greengrass root's, normally ``/``).
        ps: the psutil module, or an object with the same functions (tests pass their own).
    """

    kind = "system"
    min_interval_s = 0.0
    units = UNITS

    def __init__(self, disk_path: str = "/", ps: Any = psutil) -> None:
        self._ps = ps
        self._disk_path = disk_path
        # cpu_percent(interval=None) compares with the previous call; prime it so the first
        # reading is not a meaningless 0.0.
        ps.cpu_percent(interval=None)

    def read(self) -> SensorSample:
        """Sample CPU, memory, disk, link state and battery.

        Raises:
            SensorReadError: psutil could not read one of them (e.g. the disk path vanished).
        """
        ps = self._ps
        try:
            links = ps.net_if_stats()
            network_up = any(stats.isup for name, stats in links.items() if not name.startswith("lo"))
            values: dict[str, float | None] = {
                "cpu_percent": float(ps.cpu_percent(interval=None)),
                "memory_percent": float(ps.virtual_memory().percent),
                "disk_percent": float(ps.disk_usage(self._disk_path).percent),
                "network_up": 1.0 if network_up else 0.0,
                "battery_percent": self._battery(),
            }
        except (OSError, RuntimeError) as err:
            raise SensorReadError(f"system metrics unavailable: {err}") from err
        return SensorSample(values=values, units=UNITS)

    def _battery(self) -> float | None:
        sensors_battery = getattr(self._ps, "sensors_battery", None)
        if sensors_battery is None:  # not on every platform
            return None
        try:
            battery = sensors_battery()
        except (OSError, RuntimeError, NotImplementedError):
            return None
        return None if battery is None else float(battery.percent)
