"""The reject diverter: a timed pulse on an output, GPIO through ``digitalio`` or simulated.

:class:`RejectOutput` is the one interface (:class:`GpioOutput`, :class:`SimulatedOutput`);
:class:`PulseActuator` turns "reject this part" into an on-pulse of ``pulse_ms`` without
blocking the inspection loop: a pulse asked for while one is running extends it, so two rejects
in quick succession keep the diverter open for both.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from components.common.exceptions import GpioUnavailableError
from components.common.gpio import DigitalOutput
from components.inspection.config import ActuatorConfig
from components.inspection.exceptions import ActuatorUnavailableError


class RejectOutput(ABC):
    """An on/off output driving the diverter."""

    @abstractmethod
    def set(self, on: bool) -> None:
        """Switch the output."""

    def close(self) -> None:  # noqa: B027 - the simulated output holds nothing
        """Switch off and release."""


class SimulatedOutput(RejectOutput):
    """An output in memory: ``on``, and ``history`` of ``(monotonic time, state)`` switches."""

    def __init__(self) -> None:
        self.on = False
        self.history: list[tuple[float, bool]] = []
        self.changed = threading.Condition()

    def set(self, on: bool) -> None:
        """Switch the simulated output."""
        with self.changed:
            if on != self.on:
                self.history.append((time.monotonic(), on))
            self.on = on
            self.changed.notify_all()


class GpioOutput(RejectOutput):
    """A board pin through Blinka's ``digitalio`` (the ``device`` extra).

    Raises:
        ActuatorUnavailableError: Blinka or the pin cannot be used.
    """

    def __init__(self, pin: str) -> None:
        try:
            self._output = DigitalOutput(pin)
        except GpioUnavailableError as err:
            raise ActuatorUnavailableError(str(err)) from err
        self.pin = pin

    def set(self, on: bool) -> None:
        """Drive the pin."""
        self._output.set(on)

    def close(self) -> None:
        """Switch off and release the pin."""
        self._output.close()


def build_output(config: ActuatorConfig) -> RejectOutput:
    """The output ``config.driver`` names."""
    return GpioOutput(config.pin) if config.driver == "gpio" else SimulatedOutput()


class PulseActuator:
    """Timed pulses on a :class:`RejectOutput`, switched off by the actuator's own thread.

    Args:
        output: what the pulse drives.
        pulse_ms: pulse length.
        clock: monotonic time.
    """

    def __init__(
        self, output: RejectOutput, pulse_ms: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.output = output
        self.pulse_s = pulse_ms / 1000.0
        self._clock = clock
        self._cond = threading.Condition()
        self._off_at: float | None = None
        self._closed = False
        self.pulses = 0
        self.errors = 0
        self.last_error: str | None = None
        output.set(False)
        self._thread = threading.Thread(target=self._run, name="inspection-actuator", daemon=True)
        self._thread.start()

    def pulse(self) -> bool:
        """Start (or extend) a pulse; returns False if the output could not be switched on."""
        with self._cond:
            if self._closed:
                return False
            self.pulses += 1
            start = self._off_at is None
            self._off_at = self._clock() + self.pulse_s
            if start:
                try:
                    self.output.set(True)
                except Exception as err:  # a GPIO fault must not stop inspection; it shows in health
                    self.errors += 1
                    self.last_error = repr(err)
                    self._off_at = None
                    return False
            self._cond.notify_all()
        return True

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                if self._off_at is None:
                    self._cond.wait()
                    continue
                remaining = self._off_at - self._clock()
                if remaining > 0:
                    self._cond.wait(remaining)
                    continue
                self._off_at = None
                try:
                    self.output.set(False)
                except Exception as err:
                    self.errors += 1
                    self.last_error = repr(err)

    def close(self) -> None:
        """End any pulse, switch off and release the output."""
        with self._cond:
            self._closed = True
            self._off_at = None
            self._cond.notify_all()
        self._thread.join(2.0)
        try:
            self.output.set(False)
        finally:
            self.output.close()

    def metrics(self) -> dict[str, Any]:
        """Counts for the health message."""
        with self._cond:
            return {
                "pulses": self.pulses,
                "active": self._off_at is not None,
                "errors": self.errors,
                "lastError": self.last_error,
            }
