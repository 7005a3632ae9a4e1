"""What shapes the simulated DHT22's signal: its settings, anomaly kinds, ranges and read errors.

The configuration side of :mod:`components.sensing.drivers.simulated` (a sensor's ``simulation``
key is a :class:`SimulationSettings`); the signal model is
:mod:`components.sensing.drivers.dht22_signal`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from components.common.structs import ConfigStruct

AnomalyKind = Literal["spike", "step", "stuck", "dropout"]
#: The injected anomaly kinds, in label-precedence order (a dropout hides everything else).
ANOMALY_KINDS: tuple[AnomalyKind, ...] = ("dropout", "stuck", "spike", "step")
#: Integer labels used by :meth:`~components.sensing.drivers.dht22_signal.Dht22Simulator.series` (0 means no anomaly).
ANOMALY_CODES: dict[AnomalyKind | None, int] = {None: 0, "spike": 1, "step": 2, "stuck": 3, "dropout": 4}

UNITS: dict[str, str] = {"temperature": "C", "humidity": "%"}

# The RuntimeError messages of adafruit-circuitpython-dht 4.x (adafruit_dht.DHTBase.measure),
# so code handling simulated failures handles real ones too.
NOT_FOUND_ERROR = "DHT sensor not found, check wiring"
PARTIAL_BUFFER_ERROR = "A full buffer was not returned. Try again."
CHECKSUM_ERROR = "Checksum did not validate. Try again."
UNPLAUSIBLE_ERROR = "Received unplausible data. Try again."
# How often each message appears among ordinary read errors. On a Pi under load most failures
# are missed edges: a bad checksum or a short pulse train; an empty train is rarer.
READ_ERROR_MIX: tuple[tuple[float, str], ...] = (
    (0.65, CHECKSUM_ERROR),
    (0.90, PARTIAL_BUFFER_ERROR),
    (0.97, NOT_FOUND_ERROR),
    (1.00, UNPLAUSIBLE_ERROR),
)

# DHT22 datasheet: -40..80 C, 0..100 %RH, 0.1 resolution.
TEMPERATURE_RANGE = (-40.0, 80.0)
HUMIDITY_RANGE = (0.0, 100.0)


class AnomalySettings(ConfigStruct, frozen=True):
    """How often one kind of anomaly starts, how long it lasts and how large it is."""

    rate: Annotated[float, Meta(ge=0.0, le=1.0)]  # probability that a given sample starts an event
    min_samples: Annotated[int, Meta(ge=1)]  # shortest event, samples
    max_samples: Annotated[int, Meta(ge=1)]  # longest event, samples
    magnitude: Annotated[float, Meta(ge=0.0)] = 0.0  # temperature offset, C (1-2x this)
    humidity_magnitude: Annotated[float, Meta(ge=0.0)] = 0.0  # humidity offset, % (1-2x this)

    def __post_init__(self) -> None:
        if self.max_samples < self.min_samples:
            raise ValueError(f"maxSamples ({self.max_samples}) must be >= minSamples ({self.min_samples})")
        # Events are placed at most one per block of max_samples samples (see _event_covering).
        if self.rate * self.max_samples > 1.0:
            raise ValueError(
                f"rate * maxSamples must be <= 1 (got {self.rate} * {self.max_samples}); "
                "lower the rate or the duration"
            )


class SimulationSettings(ConfigStruct, frozen=True):
    """Everything that shapes the simulated signal. The defaults look like an indoor factory line.

    Keys are camelCase in recipes and shadows like the rest of the bundle's configuration.
    """

    seed: Annotated[int, Meta(ge=0)] = 0  # same seed, same samples
    temperature_mean: Annotated[float, Meta(ge=-40.0, le=80.0)] = 22.0
    temperature_daily_amplitude: Annotated[float, Meta(ge=0.0)] = 3.0
    temperature_noise: Annotated[float, Meta(ge=0.0)] = 0.15  # white noise sd, C
    temperature_drift_per_day: float = 0.05  # slow sensor drift, C/day
    temperature_weather: Annotated[float, Meta(ge=0.0)] = 1.0  # slow random wander sd, C
    humidity_mean: Annotated[float, Meta(ge=0.0, le=100.0)] = 45.0
    humidity_daily_amplitude: Annotated[float, Meta(ge=0.0)] = 8.0
    humidity_noise: Annotated[float, Meta(ge=0.0)] = 0.5  # white noise sd, %
    humidity_drift_per_day: float = -0.1  # slow sensor drift, %/day
    humidity_weather: Annotated[float, Meta(ge=0.0)] = 4.0  # slow random wander sd, %
    weather_period_seconds: Annotated[float, Meta(gt=0.0)] = 3 * 3600.0  # time between wander knots
    peak_hour_utc: Annotated[float, Meta(ge=0.0, lt=24.0)] = 15.0  # warmest hour; humidity peaks 12 h later
    # Field reports for DHT22s read from Linux userspace range from a few % to ~30 % failed
    # reads depending on load and wiring; 5 % is a fair middle for a Pi on a short cable.
    read_error_rate: Annotated[float, Meta(ge=0.0, le=1.0)] = 0.05  # fraction of reads that fail
    spike: AnomalySettings = AnomalySettings(
        rate=0.002, min_samples=1, max_samples=1, magnitude=8.0, humidity_magnitude=20.0
    )
    step: AnomalySettings = AnomalySettings(
        rate=0.0005, min_samples=30, max_samples=300, magnitude=4.0, humidity_magnitude=10.0
    )
    stuck: AnomalySettings = AnomalySettings(rate=0.0005, min_samples=20, max_samples=200)
    dropout: AnomalySettings = AnomalySettings(rate=0.0005, min_samples=5, max_samples=60)

    def without_anomalies(self) -> SimulationSettings:
        """The same signal with every anomaly rate and the read error rate set to zero."""
        return msgspec.structs.replace(
            self,
            read_error_rate=0.0,
            **{kind: msgspec.structs.replace(getattr(self, kind), rate=0.0) for kind in ANOMALY_KINDS},
        )
