"""A board pin driven as an on/off output through Blinka's ``digitalio`` (the ``device`` extra).

Both the sensing component's alert LED and the inspection component's reject diverter are one
GPIO output; :class:`DigitalOutput` is that output. ``digitalio`` and ``board`` are imported only
when an output is built, so a machine without Blinka runs every simulated driver. Each failure is
a :class:`GpioUnavailableError` naming what is missing; a component turns it into its own error at
its boundary.

Example:
    >>> output = DigitalOutput("D17")  # low as soon as it is claimed
    >>> output.set(True)
    >>> output.close()  # low again, pin released
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from components.common.exceptions import GpioUnavailableError

DEVICE_EXTRA_HINT = (
    "install the 'device' extra (adafruit-blinka): an artifact from `make build --arch <device>` carries it"
)


def import_device_module(name: str, hint: str = DEVICE_EXTRA_HINT) -> ModuleType:
    """Import a hardware library only now that a configured driver needs it.

    Args:
        name: the module, e.g. ``"digitalio"``.
        hint: what to install when it is missing.

    Raises:
        GpioUnavailableError: the module is not installed, or refuses this machine.
    """
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise GpioUnavailableError(f"cannot import {name!r}: {hint} ({err})") from err
    except (NotImplementedError, RuntimeError, OSError) as err:
        # Blinka's board module raises NotImplementedError on a machine it does not recognise.
        raise GpioUnavailableError(f"{name!r} is not usable on this machine: {err}") from err


def board_pin(pin_name: str) -> Any:
    """The ``board`` module's pin object named ``pin_name`` (``"D4"``, ``"LED"``).

    Raises:
        GpioUnavailableError: no ``board`` module or no such pin on this board.
    """
    board = import_device_module("board", f"{DEVICE_EXTRA_HINT} on a supported board")
    try:
        return getattr(board, pin_name)
    except AttributeError:
        known = sorted(name for name in dir(board) if name[:1].isupper())
        raise GpioUnavailableError(
            f"this board has no pin {pin_name!r}; it has {', '.join(known[:40]) or 'no named pins'}"
        ) from None


class DigitalOutput:
    """One board pin claimed as an output, driven low until :meth:`set` says otherwise.

    Args:
        pin: the ``board`` pin name, e.g. ``"D17"``.

    Raises:
        GpioUnavailableError: ``digitalio``, ``board`` or the pin cannot be used, or the pin
            refuses to become an output.
    """

    def __init__(self, pin: str) -> None:
        # digitalio first: without Blinka, the missing extra is the useful message, not the board.
        digitalio = import_device_module("digitalio")
        pin_object = board_pin(pin)
        try:
            self._io = digitalio.DigitalInOut(pin_object)
            self._io.direction = digitalio.Direction.OUTPUT
            self._io.value = False
        except (RuntimeError, ValueError, OSError) as err:
            raise GpioUnavailableError(f"cannot drive pin {pin} as an output: {err}") from err
        self.pin = pin

    def set(self, on: bool) -> None:
        """Drive the pin high (on) or low (off)."""
        self._io.value = on

    def close(self) -> None:
        """Switch off and release the pin."""
        try:
            self._io.value = False
        finally:
            self._io.deinit()
