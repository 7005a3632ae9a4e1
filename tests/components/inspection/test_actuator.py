"""The reject actuator: a timed pulse, extended by a second reject, GPIO through digitalio."""

from __future__ import annotations

import sys

import pytest

from components.inspection.actuator import GpioOutput, PulseActuator, SimulatedOutput, build_output
from components.inspection.config import ActuatorConfig
from components.inspection.exceptions import ActuatorUnavailableError

from .fakes import make_digitalio_and_board, wait_until


def test_a_pulse_switches_on_then_off_by_itself() -> None:
    output = SimulatedOutput()
    actuator = PulseActuator(output, pulse_ms=20)
    assert actuator.pulse()
    assert output.on
    with output.changed:
        assert output.changed.wait_for(lambda: not output.on, timeout=5.0)
    assert [state for _, state in output.history] == [True, False]
    on_at, off_at = output.history[0][0], output.history[1][0]
    assert off_at - on_at >= 0.02  # never shorter than asked (a lower bound, not a timing assertion)
    assert actuator.metrics()["pulses"] == 1
    actuator.close()


def test_a_second_reject_during_a_pulse_extends_it() -> None:
    output = SimulatedOutput()
    actuator = PulseActuator(output, pulse_ms=200)
    actuator.pulse()
    actuator.pulse()
    with output.changed:
        assert output.changed.wait_for(lambda: not output.on, timeout=5.0)
    assert [state for _, state in output.history] == [True, False]  # one long pulse, not two
    assert actuator.metrics()["pulses"] == 2
    actuator.close()


def test_close_ends_a_pulse_and_switches_off() -> None:
    output = SimulatedOutput()
    actuator = PulseActuator(output, pulse_ms=10_000)
    actuator.pulse()
    actuator.close()
    assert not output.on and not actuator.pulse()


def test_gpio_output_through_digitalio(monkeypatch: pytest.MonkeyPatch) -> None:
    digitalio, board, changes = make_digitalio_and_board("D17")
    monkeypatch.setitem(sys.modules, "digitalio", digitalio)
    monkeypatch.setitem(sys.modules, "board", board)
    output = build_output(ActuatorConfig(driver="gpio", pin="D17", pulse_ms=5))
    assert isinstance(output, GpioOutput)
    actuator = PulseActuator(output, pulse_ms=5)
    actuator.pulse()
    wait_until(lambda: changes[-1] == ("pin:D17", False) and len(changes) >= 4, what="pin low again")
    # Low when claimed (output, then actuator), high for the pulse, low again.
    assert changes == [("pin:D17", False), ("pin:D17", False), ("pin:D17", True), ("pin:D17", False)]
    actuator.close()
    with pytest.raises(ActuatorUnavailableError, match="this board has no pin 'D99'"):
        GpioOutput("D99")


def test_gpio_without_blinka_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "digitalio", None)
    with pytest.raises(ActuatorUnavailableError, match="install the 'device' extra"):
        GpioOutput("D17")
