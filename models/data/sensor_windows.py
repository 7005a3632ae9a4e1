"""Labelled sensor windows from the sensing component's own simulator (numpy only).

The anomaly model must learn exactly what :mod:`components.sensing.drivers.simulated` injects
(spikes, steps, stuck values, dropouts), so the windows are cut from
:class:`~components.sensing.drivers.simulated.Dht22Simulator` timelines with the anomaly rates
raised (so the classes are not 1:99) and the signal's noise, level and sampling period varied.

Labels say whether the window *shows* an anomaly (:func:`window_labels`):

* ``spike``: any spike sample in the window;
* ``stuck``: at least ``MIN_STUCK`` stuck samples (a few repeats also happen by chance at 0.1
  resolution);
* ``dropout``: at least ``MIN_DROPOUT`` failed reads of a dropout (single failed reads are normal);
* ``step``: the step's edge is in the window with at least ``MIN_STEP_SIDE`` samples on each side:
  a window wholly inside a step looks normal once centred, by design of the preprocessing.

Windows with some but not enough evidence (e.g. two stuck samples) are labelled ``-1``
(ambiguous) and left out of training and of the held-out metrics; the manifest says so.

Example::

    data = labelled_windows(seed=1, segments=4, samples_per_segment=2000, stride=4)
    data.x.shape   # (n, 64, 5) float32, preprocessed with components.common.preprocessing.sensor_windows_v1
    data.y         # (n,) int8 in {0, 1}
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from components.common.preprocessing import WINDOW, sensor_windows_v1
from components.sensing.drivers.simulated import (
    ANOMALY_CODES,
    AnomalySettings,
    Dht22Simulator,
    SimulationSettings,
)

MIN_STUCK = 8
MIN_DROPOUT = 3
MIN_STEP_SIDE = 4
AMBIGUOUS = -1
PERIODS_S = (0.5, 1.0, 2.0, 5.0, 10.0)

_SPIKE = ANOMALY_CODES["spike"]
_STEP = ANOMALY_CODES["step"]
_STUCK = ANOMALY_CODES["stuck"]
_DROPOUT = ANOMALY_CODES["dropout"]


@dataclass(frozen=True)
class WindowSet:
    """Preprocessed windows with labels and the dominant anomaly code of each (0 for normal)."""

    x: np.ndarray  # (n, WINDOW, 5) float32
    y: np.ndarray  # (n,) int8, 0 or 1
    kind: np.ndarray  # (n,) int8, an ANOMALY_CODES value
    temperature: np.ndarray  # (n, WINDOW) raw readings, nan for failed reads
    humidity: np.ndarray  # (n, WINDOW)


def window_labels(codes: np.ndarray) -> np.ndarray:
    """Label ``(n, WINDOW)`` anomaly codes: 1 anomalous, 0 normal, -1 ambiguous (see module doc)."""
    spike = (codes == _SPIKE).sum(axis=1)
    step = (codes == _STEP).sum(axis=1)
    stuck = (codes == _STUCK).sum(axis=1)
    dropout = (codes == _DROPOUT).sum(axis=1)
    width = codes.shape[1]
    positive = (
        (spike > 0)
        | (stuck >= MIN_STUCK)
        | (dropout >= MIN_DROPOUT)
        | ((step >= MIN_STEP_SIDE) & (step <= width - MIN_STEP_SIDE))
    )
    partial = (stuck > 0) | (dropout > 0) | (step > 0)
    labels = np.where(positive, 1, np.where(partial, AMBIGUOUS, 0))
    return labels.astype(np.int8)


def training_settings(rng: np.random.Generator, seed: int) -> SimulationSettings:
    """Simulator settings for one segment: the defaults' anomaly kinds at raised rates, varied signal."""
    base = SimulationSettings()
    size = float(rng.uniform(0.8, 1.25))
    return SimulationSettings(
        seed=seed,
        temperature_mean=float(rng.uniform(15.0, 30.0)),
        humidity_mean=float(rng.uniform(30.0, 65.0)),
        temperature_noise=float(rng.uniform(0.1, 0.3)),
        humidity_noise=float(rng.uniform(0.3, 0.8)),
        read_error_rate=float(rng.uniform(0.0, 0.1)),
        spike=AnomalySettings(
            rate=0.003,
            min_samples=1,
            max_samples=1,
            magnitude=base.spike.magnitude * size,
            humidity_magnitude=base.spike.humidity_magnitude * size,
        ),
        step=AnomalySettings(
            rate=0.0006,
            min_samples=base.step.min_samples,
            max_samples=base.step.max_samples,
            magnitude=base.step.magnitude * size,
            humidity_magnitude=base.step.humidity_magnitude * size,
        ),
        stuck=AnomalySettings(
            rate=0.001, min_samples=base.stuck.min_samples, max_samples=base.stuck.max_samples
        ),
        dropout=AnomalySettings(
            rate=0.0012, min_samples=base.dropout.min_samples, max_samples=base.dropout.max_samples
        ),
    )


def labelled_windows(
    seed: int,
    *,
    segments: int = 8,
    samples_per_segment: int = 2500,
    stride: int = 4,
    keep_ambiguous: bool = False,
) -> WindowSet:
    """Cut labelled windows from ``segments`` simulator timelines; deterministic from ``seed``.

    Args:
        seed: everything (settings, signal, anomalies) follows from it.
        segments: independent timelines, each with its own settings and sampling period.
        samples_per_segment: samples per timeline (windows overlap, ``stride`` apart).
        stride: samples between the starts of consecutive windows.
        keep_ambiguous: keep ``-1`` labels instead of dropping those windows.
    """
    rng = np.random.default_rng([seed, 0x5E45])
    temps, hums, codes = [], [], []
    for segment in range(segments):
        settings = training_settings(rng, seed=seed * 1000 + segment)
        period = float(rng.choice(PERIODS_S))
        start_ts = 1.7e9 + float(rng.uniform(0, 365 * 86_400.0))
        series = Dht22Simulator(settings, period_s=period, start_ts=start_ts).series(0, samples_per_segment)
        temps.append(sliding_window_view(series.temperature, WINDOW)[::stride])
        hums.append(sliding_window_view(series.humidity, WINDOW)[::stride])
        codes.append(sliding_window_view(series.anomaly, WINDOW)[::stride])
    temperature = np.concatenate(temps)
    humidity = np.concatenate(hums)
    code = np.concatenate(codes)
    labels = window_labels(code)
    keep = np.ones(len(labels), dtype=bool) if keep_ambiguous else labels != AMBIGUOUS
    kind = code.max(axis=1).astype(np.int8)  # the highest code present; good enough for per-kind recall
    return WindowSet(
        x=sensor_windows_v1(temperature[keep], humidity[keep]),
        y=labels[keep],
        kind=kind[keep],
        temperature=np.ascontiguousarray(temperature[keep]),
        humidity=np.ascontiguousarray(humidity[keep]),
    )
