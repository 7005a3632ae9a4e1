"""Every kind of anomaly the sensing simulator injects is raised by the default model within one window."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from components.common import topics
from components.common.messages import reading_message
from components.inference.host import LoadedModel
from components.inference.worker import ModelWorker
from components.sensing.drivers.simulated import ANOMALY_CODES, UNITS, Dht22Simulator, SimulationSettings
from models.data.sensor_windows import window_labels

from .conftest import START_TS, RecordingPublisher

KINDS = {code: kind for kind, code in ANOMALY_CODES.items() if kind is not None}


def simulated_readings(count: int) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The sensing defaults (anomaly rates, 5 % read errors) at 1 s, as the component publishes them."""
    sim = Dht22Simulator(SimulationSettings(seed=21), period_s=1.0, start_ts=START_TS)
    series = sim.series(0, count)
    readings = []
    for i in range(count):
        failed = bool(series.read_error[i])
        values = {
            "temperature": None if failed else float(series.temperature[i]),
            "humidity": None if failed else float(series.humidity[i]),
        }
        readings.append(
            reading_message(
                "line1-env", i, float(series.ts[i]), "environment", values, UNITS, "bad" if failed else "good"
            )
        )
    return readings, series.anomaly


def test_each_injected_event_raises_an_anomaly_within_one_window(int8_model: LoadedModel) -> None:
    # GIVEN three hours of the simulator's default signal with its injected anomalies
    readings, codes = simulated_readings(12_000)
    publisher = RecordingPublisher()
    counter = iter(range(10**9))
    # Every window's score is published ("changes" stays quiet while the sensor is still
    # anomalous from an earlier event).
    model = LoadedModel(
        **{**int8_model.__dict__, "config": msgspec.structs.replace(int8_model.config, publish="all")}
    )
    worker = ModelWorker(model, publisher, lambda _s, _t: next(counter), max_batch=64, max_pending=20_000)
    # WHEN the component scores them
    for reading in readings:
        worker.on_reading(reading)
    while batch := worker.queue.take(64, timeout=0.0):
        worker.score(batch)
    raised_at = np.array([e["windowEnd"] for e in publisher.on(topics.ANOMALIES) if e["isAnomaly"]])
    # THEN each injected event (a run of one kind) is raised by a window ending within 64
    # readings of its start (steps: of either edge, as a level shift is seen at its edges)
    ts = np.array([r["ts"] for r in readings])
    starts = [i for i in range(64, len(codes) - 64) if codes[i] and codes[i] != codes[i - 1]]
    assert len(starts) >= 20, "the timeline should hold events of every kind"
    missed = []
    for i in starts:
        window_ends = raised_at[(raised_at >= ts[i]) & (raised_at <= ts[i] + 63)]
        if window_ends.size == 0:
            missed.append((KINDS[int(codes[i])], i))
    kinds_seen = {KINDS[int(codes[i])] for i in starts}
    assert kinds_seen == {"spike", "step", "stuck", "dropout"}
    assert len(missed) <= 0.05 * len(starts), missed
    # AND windows holding no anomaly at all are rarely flagged
    clean = window_labels(sliding_window_view(codes, 64)) == 0
    flagged = np.isin(ts[63:], raised_at)
    assert clean.sum() > 3000
    assert flagged[clean].mean() <= 0.02
