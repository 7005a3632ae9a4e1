"""The alert LED: lit while any alert of a configured severity is active.

:class:`AlertLed` is the one interface; :class:`GpioLed` drives a pin through Blinka's
``digitalio`` (imported only when configured) and :class:`SimulatedLed` keeps the state in
memory. :class:`AlertIndicator` decides the LED's state from the active alerts.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable

from components.common.exceptions import GpioUnavailableError
from components.common.gpio import DigitalOutput
from components.common.messages import Severity
from components.sensing.config import ActuatorConfig
from components.sensing.exceptions import DriverUnavailableError


class AlertLed(ABC):
    """An on/off indicator."""

    @abstractmethod
    def set(self, on: bool) -> None:
        """Turn the indicator on or off."""

    def close(self) -> None:  # noqa: B027 - the simulated LED holds nothing
        """Release the pin."""


class SimulatedLed(AlertLed):
    """An LED in memory: ``on`` is its state, ``changes`` counts switches (for tests and health)."""

    def __init__(self) -> None:
        self.on = False
        self.changes = 0

    def set(self, on: bool) -> None:
        """Switch the simulated LED."""
        if on != self.on:
            self.changes += 1
        self.on = on


class GpioLed(AlertLed):
    """An LED on a board pin through ``digitalio``.

    Raises:
        DriverUnavailableError: Blinka (the ``device`` extra) or the pin is missing.
    """

    def __init__(self, pin: str) -> None:
        try:
            self._output = DigitalOutput(pin)
        except GpioUnavailableError as err:
            raise DriverUnavailableError(str(err)) from err
        self.pin = pin

    def set(self, on: bool) -> None:
        """Drive the pin high (on) or low (off)."""
        self._output.set(on)

    def close(self) -> None:
        """Switch off and release the pin."""
        self._output.close()


def build_led(config: ActuatorConfig) -> AlertLed:
    """The LED ``config.driver`` names."""
    return GpioLed(config.pin) if config.driver == "gpio" else SimulatedLed()


class AlertIndicator:
    """Keeps an LED lit exactly while an alert of one of ``severities`` is active.

    Args:
        led: the LED to drive.
        severities: which alert severities light it.
    """

    def __init__(self, led: AlertLed, severities: Iterable[Severity]) -> None:
        self.led = led
        self.severities = frozenset(severities)
        self.on = False
        self._lock = threading.Lock()
        led.set(False)

    def update(self, active_severities: Iterable[Severity]) -> bool | None:
        """Set the LED from the severities of the active alerts; returns the new state if it changed."""
        want = any(severity in self.severities for severity in active_severities)
        with self._lock:
            if want == self.on:
                return None
            self.led.set(want)
            self.on = want
            return want
