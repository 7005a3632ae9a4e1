"""The one interface every sensor driver implements.

A driver reads one physical (or simulated) sensor. It does not pace itself, retry or publish:
the component's sampling loop does that, using :attr:`SensorDriver.min_interval_s` so a DHT22
is never asked more often than its datasheet allows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class SensorSample:
    """One successful read.

    Attributes:
        values: measured quantities by name (``{"temperature": 21.4, "humidity": 48.0}``); a value
            the sensor did not report is ``None``.
        units: the unit of each value, same keys (``{"temperature": "C", "humidity": "%"}``).
        ts: the sample's own timestamp (Unix seconds) when the driver has one (the simulator's
            timeline); ``None`` means "now" and the caller stamps it with its clock.
        injected: ground truth from the simulated driver: the anomaly kind injected into this
            sample (``"spike"``, ``"step"``, ``"stuck"``), ``None`` for a clean one and for
            real hardware.
    """

    values: dict[str, float | None]
    units: dict[str, str]
    ts: float | None = None
    injected: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


class SensorDriver(ABC):
    """A sensor the component can read.

    Implementations raise :class:`components.sensing.exceptions.SensorReadError` for a failed
    read that may succeed later (a DHT checksum error), and
    :class:`components.sensing.exceptions.DriverUnavailableError` from their constructor when
    they cannot run at all (library or board missing).
    """

    #: The reading kind published with each sample (``"environment"``, ``"system"``).
    kind: str = "environment"
    #: Smallest spacing between two read attempts the hardware tolerates, seconds.
    min_interval_s: float = 0.0
    #: The unit of each value the driver reports, so a failed read can be published with its keys.
    units: ClassVar[dict[str, str]] = {}

    @abstractmethod
    def read(self) -> SensorSample:
        """Read the sensor once.

        Raises:
            SensorReadError: this attempt failed; try again after ``min_interval_s``.
        """

    def close(self) -> None:  # noqa: B027 - most drivers hold nothing to release
        """Release the hardware (GPIO, pulse reader); safe to call twice."""
