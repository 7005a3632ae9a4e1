"""What can go wrong in the sensing component, by name."""

from __future__ import annotations


class SensingError(Exception):
    """Base class of the sensing component's errors."""


class SensorReadError(SensingError):
    """One read of a sensor failed; the driver may succeed on a later attempt.

    Args:
        message: what went wrong, e.g. the DHT library's ``"Checksum did not validate. Try again."``.
        injected: for the simulated driver, the ground-truth anomaly behind the failure
            (``"dropout"``), ``None`` for an ordinary read error.
    """

    def __init__(self, message: str, *, injected: str | None = None) -> None:
        super().__init__(message)
        self.injected = injected


class DriverUnavailableError(SensingError):
    """A configured driver cannot run here: its library, board support or pin is missing."""
