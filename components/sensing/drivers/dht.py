"""DHT22 / DHT11 through adafruit-circuitpython-dht, imported only when such a sensor is configured.

The library signals every failed read with ``RuntimeError`` ("Checksum did not validate. Try
again.", "A full buffer was not returned. Try again.", "DHT sensor not found, check wiring",
"Received unplausible data. Try again."); they become
:class:`~components.sensing.exceptions.SensorReadError` here. The library also silently returns
its previous values when read again within 2 s of the last attempt (``DHTBase.measure``), so the
driver declares a minimum spacing a little above that and the sampling loop honours it.
"""

from __future__ import annotations

from typing import Literal

from components.common.exceptions import GpioUnavailableError
from components.common.gpio import board_pin, import_device_module
from components.sensing.drivers.base import SensorDriver, SensorSample
from components.sensing.exceptions import DriverUnavailableError, SensorReadError

UNITS: dict[str, str] = {"temperature": "C", "humidity": "%"}
# 2 s per the datasheet and the library's own cache window, plus margin: the library compares
# with a strict ">" on time.monotonic().
DHT_MIN_SPACING_S = 2.1


class DhtSensor(SensorDriver):
    """A DHT22 or DHT11 on a GPIO pin.

    Args:
        model: ``"dht22"`` or ``"dht11"``.
        pin: the ``board`` pin name, e.g. ``"D4"``.
        use_pulseio: the library's ``use_pulseio`` (``False`` bit-bangs, for Linux boards without
            the libgpiod pulse reader).

    Raises:
        DriverUnavailableError: the library, the board support or the pin is missing.
    """

    kind = "environment"
    min_interval_s = DHT_MIN_SPACING_S
    units = UNITS

    def __init__(self, model: Literal["dht22", "dht11"], pin: str, *, use_pulseio: bool = True) -> None:
        try:
            library = import_device_module(
                "adafruit_dht",
                "install the 'device' extra: an artifact from `make build --arch <device>` carries it "
                "(in development: pip install 'edge-bundle[device]')",
            )
            pin_object = board_pin(pin)
        except GpioUnavailableError as err:
            raise DriverUnavailableError(str(err)) from err
        cls = getattr(library, "DHT22" if model == "dht22" else "DHT11")
        try:
            self._device = cls(pin_object, use_pulseio=use_pulseio)
        except (RuntimeError, ValueError, OSError) as err:
            raise DriverUnavailableError(f"cannot open {model} on pin {pin}: {err}") from err
        self.model = model
        self.pin = pin
        self._closed = False

    def read(self) -> SensorSample:
        """One measurement of temperature (C) and relative humidity (%).

        Raises:
            SensorReadError: the library's RuntimeError (checksum, short buffer, not found,
                unplausible data) or an OS error talking to the pin.
        """
        try:
            # Both properties come from one measurement: the second is served from the
            # library's cache because it is asked within the same 2 s window.
            temperature = self._device.temperature
            humidity = self._device.humidity
        except RuntimeError as err:
            raise SensorReadError(str(err)) from err
        except OSError as err:
            raise SensorReadError(f"GPIO error reading {self.model} on {self.pin}: {err}") from err
        if temperature is None or humidity is None:
            raise SensorReadError(f"{self.model} on {self.pin} returned no data")
        return SensorSample(
            values={"temperature": float(temperature), "humidity": float(humidity)}, units=UNITS
        )

    def close(self) -> None:
        """Release the pulse reader (the library's ``exit()``)."""
        if not self._closed:
            self._closed = True
            self._device.exit()
