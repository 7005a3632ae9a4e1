"""The shared GPIO output against fake ``board``/``digitalio`` modules: low when claimed, driven,
released, and every missing piece (Blinka, board support, pin) a clear error."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from components.common.exceptions import GpioUnavailableError
from components.common.gpio import DigitalOutput, board_pin, import_device_module
from tests.components.sensing.fakes import make_board, make_digitalio


def install(monkeypatch: pytest.MonkeyPatch, **modules: Any) -> None:
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)


def test_an_output_is_low_when_claimed_follows_set_and_is_released_low(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a board with pin D17
    digitalio = make_digitalio()
    install(monkeypatch, board=make_board("D17"), digitalio=digitalio)
    # WHEN it is claimed, switched on and off, and closed
    output = DigitalOutput("D17")
    pin = digitalio.DigitalInOut.instances[-1]
    assert pin.pin == "pin:D17" and pin.direction == "output" and pin.history == [False]
    output.set(True)
    output.set(False)
    output.set(True)
    output.close()
    # THEN the pin saw every write, ends low and is released
    assert pin.history == [False, True, False, True, False]
    assert pin.deinited and output.pin == "D17"


def test_close_releases_the_pin_even_when_switching_off_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    digitalio = make_digitalio()
    install(monkeypatch, board=make_board("D17"), digitalio=digitalio)
    output = DigitalOutput("D17")
    pin = digitalio.DigitalInOut.instances[-1]
    pin.direction = "input"  # the fake refuses writes to a pin that is not an output
    with pytest.raises(AttributeError, match="Not an output"):
        output.close()
    assert pin.deinited


def test_without_blinka_the_error_names_the_device_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, board=make_board("D17"), digitalio=None)  # None: import fails
    with pytest.raises(GpioUnavailableError, match=r"cannot import 'digitalio': install the 'device' extra"):
        DigitalOutput("D17")


def test_without_board_support_the_error_names_the_board(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, board=None, digitalio=make_digitalio())
    with pytest.raises(GpioUnavailableError, match=r"cannot import 'board'.*supported board"):
        DigitalOutput("D17")


def test_an_unknown_pin_lists_the_pins_the_board_has(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, board=make_board("D4", "D17"), digitalio=make_digitalio())
    with pytest.raises(GpioUnavailableError, match=r"this board has no pin 'D99'; it has D17, D4"):
        DigitalOutput("D99")
    install(monkeypatch, board=make_board())
    with pytest.raises(GpioUnavailableError, match="no named pins"):
        board_pin("D4")


def test_a_pin_that_refuses_to_be_an_output_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    digitalio = make_digitalio()

    class BusyPin:
        def __init__(self, pin: Any) -> None:
            raise RuntimeError(f"{pin} is in use")

    digitalio.DigitalInOut = BusyPin  # type: ignore[attr-defined]
    install(monkeypatch, board=make_board("D17"), digitalio=digitalio)
    with pytest.raises(GpioUnavailableError, match="cannot drive pin D17 as an output: pin:D17 is in use"):
        DigitalOutput("D17")


def test_a_library_that_refuses_this_machine_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Blinka's board module raises NotImplementedError at import on a board it does not know.
    class Refuses:
        def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
            if name == "board":
                raise NotImplementedError("Board not supported")
            return None

    monkeypatch.delitem(sys.modules, "board", raising=False)
    monkeypatch.setattr(sys, "meta_path", [Refuses(), *sys.meta_path])
    with pytest.raises(
        GpioUnavailableError, match="'board' is not usable on this machine: Board not supported"
    ):
        import_device_module("board")
