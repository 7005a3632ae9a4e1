"""Real fakes for the sensing tests: ``board``, ``adafruit_dht`` and ``digitalio`` as modules, a
scripted driver, the spiky sensor and hot rule the integration tests run, and (from
``tests.components.rig``) the recording publisher."""

from __future__ import annotations

import time
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from components.sensing.drivers.base import SensorDriver, SensorSample
from components.sensing.exceptions import SensorReadError
from tests.components.rig import RecordingPublisher as RecordingPublisher  # re-exported for the unit tests

# The messages adafruit_dht 4.x raises (DHTBase.measure), verbatim.
CHECKSUM = "Checksum did not validate. Try again."
NOT_FOUND = "DHT sensor not found, check wiring"
FULL_BUFFER = "A full buffer was not returned. Try again."


# The alert the integration tests wait for: the simulator's spikes (+20 C) cross it.
HOT_RULE: dict[str, Any] = {
    "type": "threshold",
    "id": "hot",
    "sensor": "line1-env",
    "metric": "temperature",
    "above": 35,
    "hysteresis": 1,
    "severity": "critical",
}


def spiky_sensor(interval_s: float, seed: int, **simulation: Any) -> dict[str, Any]:
    """The simulated sensor ``line1-env`` with one-sample spikes on 2 % of readings (they raise
    :data:`HOT_RULE`'s alert); ``simulation`` adds settings (``readErrorRate``)."""
    spike = {"rate": 0.02, "minSamples": 1, "maxSamples": 1, "magnitude": 20.0}
    return {
        "id": "line1-env",
        "driver": "simulated",
        "intervalSeconds": interval_s,
        "simulation": {"seed": seed, **simulation, "spike": spike},
    }


def make_board(*pins: str) -> types.ModuleType:
    """A ``board`` module with the given pin names (each pin object is its name as a string)."""
    board = types.ModuleType("board")
    for pin in pins:
        setattr(board, pin, f"pin:{pin}")
    return board


def make_adafruit_dht(
    script: list[tuple[float, float] | str], clock: Callable[[], float]
) -> types.ModuleType:
    """An ``adafruit_dht`` module whose devices play ``script``: a tuple is a good measurement,
    a string is the RuntimeError message of a failed one. Like the library, a measurement is
    taken only when more than 2 s passed since the last one; otherwise the cached values return."""
    module = types.ModuleType("adafruit_dht")
    module.devices = []  # type: ignore[attr-defined]

    class _Dht:
        def __init__(self, pin: Any, use_pulseio: bool = True) -> None:
            self.pin = pin
            self.use_pulseio = use_pulseio
            self.measurements = 0
            self.exited = False
            self._last_called = 0.0
            self._temperature: float | None = None
            self._humidity: float | None = None
            self._script = list(script)
            module.devices.append(self)

        def measure(self) -> None:
            now = clock()
            if self._last_called == 0 or now - self._last_called > 2:
                self._last_called = now
                self.measurements += 1
                outcome = self._script.pop(0) if self._script else NOT_FOUND
                if isinstance(outcome, str):
                    raise RuntimeError(outcome)
                self._temperature, self._humidity = outcome

        @property
        def temperature(self) -> float | None:
            self.measure()
            return self._temperature

        @property
        def humidity(self) -> float | None:
            self.measure()
            return self._humidity

        def exit(self) -> None:
            self.exited = True

    class DHT22(_Dht):
        pass

    class DHT11(_Dht):
        pass

    module.DHT22 = DHT22  # type: ignore[attr-defined]
    module.DHT11 = DHT11  # type: ignore[attr-defined]
    return module


def make_digitalio() -> types.ModuleType:
    """A ``digitalio`` module whose pins remember every value written."""
    module = types.ModuleType("digitalio")

    class Direction:
        INPUT = "input"
        OUTPUT = "output"

    class DigitalInOut:
        instances: list[DigitalInOut] = []

        def __init__(self, pin: Any) -> None:
            self.pin = pin
            self.direction: str | None = None
            self.history: list[bool] = []
            self.deinited = False
            DigitalInOut.instances.append(self)

        @property
        def value(self) -> bool:
            return self.history[-1] if self.history else False

        @value.setter
        def value(self, on: bool) -> None:
            if self.direction != Direction.OUTPUT:
                raise AttributeError("Not an output")
            self.history.append(on)

        def deinit(self) -> None:
            self.deinited = True

    module.Direction = Direction  # type: ignore[attr-defined]
    module.DigitalInOut = DigitalInOut  # type: ignore[attr-defined]
    return module


class ScriptedDriver(SensorDriver):
    """A driver that plays a list of values dicts / error messages, then repeats the last entry."""

    units = {"temperature": "C", "humidity": "%"}

    def __init__(
        self, script: Iterable[Mapping[str, float | None] | str], min_interval_s: float = 0.0
    ) -> None:
        self._script = list(script)
        self.min_interval_s = min_interval_s
        self.attempts = 0
        self.closed = False
        self.attempt_times: list[float] = []

    def read(self) -> SensorSample:
        self.attempts += 1
        self.attempt_times.append(time.monotonic())
        entry = self._script.pop(0) if len(self._script) > 1 else self._script[0]
        if isinstance(entry, str):
            raise SensorReadError(entry)
        return SensorSample(values=dict(entry), units=self.units)

    def close(self) -> None:
        self.closed = True
