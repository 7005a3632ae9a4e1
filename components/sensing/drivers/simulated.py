"""A simulated DHT22: deterministic, seedable, with injected anomalies and ground truth per sample.

Two layers, so training data and the running component share one signal model:

* :class:`Dht22Simulator` is a pure model. ``sample(seq)`` returns the sample number ``seq`` of
  the timeline ``start_ts + seq * period_s`` without sleeping and without state, in O(1): any
  sample can be produced at any rate, in any order, and the same settings always give the same
  samples. ``series(start, count)`` returns numpy arrays for building labelled training windows.
* :class:`SimulatedDht22` is the :class:`~components.sensing.drivers.base.SensorDriver` the
  component reads: each ``read()`` takes the next sample, raising
  :class:`~components.sensing.exceptions.SensorReadError` with the DHT library's own message when
  the sample is a read error or a dropout. Pacing is the caller's job.

The signal (temperature in C, relative humidity in %)::

    value = mean + daily cycle + slow weather wander + linear drift + white noise  (+ anomaly)

rounded to the DHT22's 0.1 resolution and clamped to its range. Anomalies (``ANOMALY_KINDS``):

* ``spike``: one sample offset by 1-2x ``magnitude`` (random sign, humidity too);
* ``step``: an offset of 1-2x ``magnitude`` held for a run of samples;
* ``stuck``: the sensor repeats the reading it gave at the start of the run;
* ``dropout``: a run of failed reads (``"DHT sensor not found, check wiring"``).

Each kind's ``rate`` is the probability that a given sample starts an event, so the expected
number of events is ``rate * samples`` whatever the sampling period. Independently of anomalies,
a fraction ``read_error_rate`` of reads fails the way the library's reads fail on a Linux board
(checksum, short buffer, sensor not found). A failed read carries no values; its ``anomaly``
label still says whether it fell inside an anomaly.

Example::

    sim = Dht22Simulator(SimulationSettings(seed=7), period_s=1.0, start_ts=1_700_000_000.0)
    s = sim.sample(1234)          # SimulatedSample(seq=1234, ts=..., temperature=21.7, ...)
    s.anomaly                     # None, or "spike" / "step" / "stuck" / "dropout"
    window = sim.series(0, 3600)  # numpy arrays: ts, temperature, humidity, anomaly code, read_error

Randomness is counter-based (a SplitMix64 hash of seed, stream and index), not a generator
walked forward: that is what makes random access O(1) and deterministic.

Modules: :mod:`~components.sensing.drivers.simulation_settings` (settings, anomaly kinds, the
library's error messages), :mod:`~components.sensing.drivers.dht22_signal` (the model), and this
one (the driver); the model's public names are importable from here too.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from components.sensing.drivers.base import SensorDriver, SensorSample
from components.sensing.drivers.dht22_signal import Dht22Simulator, SimulatedSample, SimulatedSeries
from components.sensing.drivers.simulation_settings import (
    ANOMALY_CODES,
    ANOMALY_KINDS,
    CHECKSUM_ERROR,
    HUMIDITY_RANGE,
    NOT_FOUND_ERROR,
    PARTIAL_BUFFER_ERROR,
    TEMPERATURE_RANGE,
    UNITS,
    UNPLAUSIBLE_ERROR,
    AnomalyKind,
    AnomalySettings,
    SimulationSettings,
)
from components.sensing.exceptions import SensorReadError

__all__ = [
    "ANOMALY_CODES",
    "ANOMALY_KINDS",
    "CHECKSUM_ERROR",
    "HUMIDITY_RANGE",
    "NOT_FOUND_ERROR",
    "PARTIAL_BUFFER_ERROR",
    "TEMPERATURE_RANGE",
    "UNITS",
    "UNPLAUSIBLE_ERROR",
    "AnomalyKind",
    "AnomalySettings",
    "Dht22Simulator",
    "SimulatedDht22",
    "SimulatedSample",
    "SimulatedSeries",
    "SimulationSettings",
]


class SimulatedDht22(SensorDriver):
    """The simulator as a sensor driver: each :meth:`read` takes the next sample of the timeline.

    Args:
        settings: the signal's shape.
        period_s: the timeline's sample spacing, normally the component's sampling interval.
        start_ts: Unix time of sample 0; defaults to ``clock()`` at construction.
        clock: where "now" comes from (tests pass a fake clock).
    """

    kind = "environment"
    min_interval_s = 0.0
    units = UNITS

    def __init__(
        self,
        settings: SimulationSettings | None = None,
        *,
        period_s: float = 1.0,
        start_ts: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.simulator = Dht22Simulator(
            settings, period_s=period_s, start_ts=clock() if start_ts is None else start_ts
        )
        self.next_seq = 0

    def read(self) -> SensorSample:
        """The next sample.

        Raises:
            SensorReadError: this sample is a read error or part of a dropout (``injected`` says which).
        """
        sample = self.simulator.sample(self.next_seq)
        self.next_seq += 1
        if sample.read_error is not None:
            raise SensorReadError(sample.read_error, injected=sample.anomaly)
        return SensorSample(
            values={"temperature": sample.temperature, "humidity": sample.humidity},
            units=UNITS,
            ts=sample.ts,
            injected=sample.anomaly,
        )
