"""The DHT driver against fake ``board``/``adafruit_dht`` modules, the LED against a fake
``digitalio``, and the system driver against real psutil."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from components.sensing.actuator import AlertIndicator, GpioLed, SimulatedLed
from components.sensing.drivers.dht import DHT_MIN_SPACING_S, DhtSensor
from components.sensing.drivers.system import SystemSensor
from components.sensing.exceptions import DriverUnavailableError, SensorReadError

from .fakes import CHECKSUM, FULL_BUFFER, NOT_FOUND, make_adafruit_dht, make_board, make_digitalio


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def install(monkeypatch: pytest.MonkeyPatch, **modules: Any) -> None:
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)


def test_dht22_reads_and_maps_the_library_errors(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    dht = make_adafruit_dht([CHECKSUM, (21.5, 40.2), FULL_BUFFER, NOT_FOUND], clock)
    install(monkeypatch, board=make_board("D4", "D17"), adafruit_dht=dht)
    sensor = DhtSensor("dht22", "D4", use_pulseio=False)
    device = dht.devices[0]
    assert device.pin == "pin:D4" and device.use_pulseio is False and type(device).__name__ == "DHT22"
    assert sensor.min_interval_s >= 2.0

    with pytest.raises(SensorReadError, match="Checksum did not validate"):
        sensor.read()
    clock.now += DHT_MIN_SPACING_S
    sample = sensor.read()
    assert sample.values == {"temperature": 21.5, "humidity": 40.2}
    assert sample.units == {"temperature": "C", "humidity": "%"}
    assert device.measurements == 2  # temperature and humidity came from one measurement
    for message in ("A full buffer was not returned", "DHT sensor not found, check wiring"):
        clock.now += DHT_MIN_SPACING_S
        with pytest.raises(SensorReadError, match=message):
            sensor.read()
    sensor.close()
    sensor.close()
    assert device.exited


def test_dht11_uses_the_dht11_class(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    dht = make_adafruit_dht([(20.0, 50.0)], clock)
    install(monkeypatch, board=make_board("D4"), adafruit_dht=dht)
    assert DhtSensor("dht11", "D4").read().values == {"temperature": 20.0, "humidity": 50.0}
    assert type(dht.devices[0]).__name__ == "DHT11"


def test_missing_library_board_or_pin_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    install(monkeypatch, board=make_board("D4"))
    monkeypatch.setitem(sys.modules, "adafruit_dht", None)  # import fails as if not installed
    with pytest.raises(DriverUnavailableError, match="'device' extra"):
        DhtSensor("dht22", "D4")
    install(monkeypatch, adafruit_dht=make_adafruit_dht([], clock))
    with pytest.raises(DriverUnavailableError, match="no pin 'D99'; it has D4"):
        DhtSensor("dht22", "D99")
    monkeypatch.setitem(sys.modules, "board", None)
    with pytest.raises(DriverUnavailableError, match="cannot import 'board'"):
        DhtSensor("dht22", "D4")


def test_gpio_led_drives_the_pin_and_releases_it(monkeypatch: pytest.MonkeyPatch) -> None:
    digitalio = make_digitalio()
    install(monkeypatch, board=make_board("LED", "D4"), digitalio=digitalio)
    led = GpioLed("LED")
    indicator = AlertIndicator(led, ["critical"])
    pin = digitalio.DigitalInOut.instances[0]
    assert pin.pin == "pin:LED" and pin.direction == "output"
    assert indicator.update(["warning"]) is None
    assert indicator.update(["warning", "critical"]) is True
    assert indicator.update(["critical"]) is None
    assert indicator.update([]) is False
    led.close()
    assert pin.history == [False, False, True, False, False] and pin.deinited


def test_gpio_led_without_blinka_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "digitalio", None)
    with pytest.raises(DriverUnavailableError, match="digitalio"):
        GpioLed("LED")


def test_simulated_led_counts_changes() -> None:
    led = SimulatedLed()
    indicator = AlertIndicator(led, ["warning", "critical"])
    indicator.update(["info"])
    indicator.update(["warning"])
    indicator.update([])
    assert led.changes == 2 and not led.on


def test_system_sensor_reports_real_metrics() -> None:
    sample = SystemSensor().read()
    values = sample.values
    for key in ("cpu_percent", "memory_percent", "disk_percent"):
        value = values[key]
        assert value is not None and 0.0 <= value <= 100.0
    assert values["network_up"] in (0.0, 1.0)
    assert "battery_percent" in values
    assert set(sample.units) == set(values)


def test_system_sensor_failure_is_a_read_error() -> None:
    with pytest.raises(SensorReadError, match="system metrics unavailable"):
        SystemSensor(disk_path="/no/such/mount/point").read()


def test_the_factory_builds_each_configured_driver(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    from components.sensing.config import SensorConfig
    from components.sensing.drivers.factory import build_driver
    from components.sensing.drivers.simulated import SimulatedDht22

    simulated = build_driver(SensorConfig(id="s", driver="simulated", interval_seconds=0.5), clock=clock)
    assert isinstance(simulated, SimulatedDht22) and simulated.simulator.period_s == 0.5
    assert simulated.simulator.start_ts == clock.now
    assert isinstance(build_driver(SensorConfig(id="g", driver="system")), SystemSensor)
    install(monkeypatch, board=make_board("D17"), adafruit_dht=make_adafruit_dht([], clock))
    dht = build_driver(SensorConfig(id="d", driver="dht11", pin="D17", use_pulseio=False))
    assert isinstance(dht, DhtSensor) and dht.model == "dht11" and dht.pin == "D17"
