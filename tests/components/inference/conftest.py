"""Shared pieces of the inference tests: readings built from the sensing simulator, the loaded models
(and, from ``tests.components.rig``, the recording publisher)."""

from __future__ import annotations

from typing import Any

import pytest

from components.common.messages import reading_message
from components.inference.config import HostedModelConfig
from components.inference.host import LoadedModel, load_model
from components.sensing.drivers.simulated import UNITS, Dht22Simulator, SimulationSettings
from tests.components.rig import RecordingPublisher as RecordingPublisher  # re-exported for the unit tests

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


@pytest.fixture(scope="session")
def int8_model() -> LoadedModel:
    return load_model(HostedModelConfig(), num_threads=1)


@pytest.fixture(scope="session")
def float_model() -> LoadedModel:
    return load_model(HostedModelConfig(variant="float32"), num_threads=1)
