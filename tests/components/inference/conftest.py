"""Shared pieces of the inference tests: readings built from the sensing simulator, a fake publisher."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from components.common.messages import reading_message
from components.inference.config import HostedModelConfig
from components.inference.host import LoadedModel, load_model
from components.sensing.drivers.simulated import UNITS, Dht22Simulator, SimulationSettings

START_TS = 1_790_000_000.0


def clean_readings(sensor: str, count: int, seed: int = 4, period_s: float = 1.0) -> list[dict[str, Any]]:
    """``count`` readings of the sensing simulator with anomalies and read errors switched off."""
    sim = Dht22Simulator(
        SimulationSettings(seed=seed).without_anomalies(), period_s=period_s, start_ts=START_TS
    )
    return [
        reading_message(
            sensor,
            i,
            s.ts,
            "environment",
            {"temperature": s.temperature, "humidity": s.humidity},
            UNITS,
            injected=None,
        )
        for i, s in enumerate(sim.samples(0, count))
    ]


def inject_spike(readings: list[dict[str, Any]], index: int, size: float = 12.0) -> None:
    """Add the simulator's kind of spike (temperature and humidity offset) to one reading."""
    values = readings[index]["values"]
    values["temperature"] = round(values["temperature"] + size, 1)
    values["humidity"] = round(values["humidity"] + 2.5 * size, 1)
    readings[index]["injected"] = "spike"


class RecordingPublisher:
    """A real in-memory publisher: keeps every message, lets a test wait for a condition."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._cond = threading.Condition()

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        with self._cond:
            self.messages.append((topic, message))
            self._cond.notify_all()

    def on(self, topic: str) -> list[dict[str, Any]]:
        with self._cond:
            return [m for t, m in self.messages if t == topic]

    def wait(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("timed out waiting for published messages")
                self._cond.wait(remaining)


@pytest.fixture(scope="session")
def int8_model() -> LoadedModel:
    return load_model(HostedModelConfig(), num_threads=1)


@pytest.fixture(scope="session")
def float_model() -> LoadedModel:
    return load_model(HostedModelConfig(variant="float32"), num_threads=1)
