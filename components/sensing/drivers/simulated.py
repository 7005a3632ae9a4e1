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
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

import msgspec
from msgspec import Meta

from components.common.structs import ConfigStruct
from components.sensing.drivers.base import SensorDriver, SensorSample
from components.sensing.exceptions import SensorReadError

if TYPE_CHECKING:
    # numpy (about 12 MiB resident) is needed only by series(), i.e. by model training; the
    # running component reads samples one at a time and must not pay for it (issue #10 footprint).
    import numpy as np

AnomalyKind = Literal["spike", "step", "stuck", "dropout"]
#: The injected anomaly kinds, in label-precedence order (a dropout hides everything else).
ANOMALY_KINDS: tuple[AnomalyKind, ...] = ("dropout", "stuck", "spike", "step")
#: Integer labels used by :meth:`Dht22Simulator.series` (0 means no anomaly).
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
_READ_ERROR_MIX: tuple[tuple[float, str], ...] = (
    (0.65, CHECKSUM_ERROR),
    (0.90, PARTIAL_BUFFER_ERROR),
    (0.97, NOT_FOUND_ERROR),
    (1.00, UNPLAUSIBLE_ERROR),
)

# DHT22 datasheet: -40..80 C, 0..100 %RH, 0.1 resolution.
TEMPERATURE_RANGE = (-40.0, 80.0)
HUMIDITY_RANGE = (0.0, 100.0)
_DAY_S = 86_400.0


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


@dataclass(frozen=True, slots=True)
class SimulatedSample:
    """One sample of the simulated timeline, with its ground truth.

    Attributes:
        seq: the sample's index on the timeline.
        ts: ``start_ts + seq * period_s``.
        temperature: what the sensor reports, C; ``None`` when the read failed.
        humidity: what the sensor reports, %; ``None`` when the read failed.
        anomaly: the anomaly injected here, or ``None``.
        read_error: the DHT library's message if this read fails, else ``None``.
        baseline_temperature: the clean signal (cycle + wander + drift, no noise or anomaly).
        baseline_humidity: likewise for humidity.
    """

    seq: int
    ts: float
    temperature: float | None
    humidity: float | None
    anomaly: AnomalyKind | None
    read_error: str | None
    baseline_temperature: float
    baseline_humidity: float

    @property
    def ok(self) -> bool:
        """True when the read succeeded (values present)."""
        return self.read_error is None


@dataclass(frozen=True, slots=True)
class SimulatedSeries:
    """A run of consecutive samples as arrays (failed reads are ``nan``)."""

    seq: np.ndarray
    ts: np.ndarray
    temperature: np.ndarray
    humidity: np.ndarray
    anomaly: np.ndarray  # int8 codes, see ANOMALY_CODES
    read_error: np.ndarray  # bool


@dataclass(frozen=True, slots=True)
class _Event:
    start: int
    length: int
    u_sign_t: float
    u_size_t: float
    u_sign_h: float
    u_size_h: float


_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_INV_2_64 = 1.0 / float(1 << 64)


def _mix(x: int) -> int:
    """SplitMix64's finaliser: a fast, well-spread 64-bit hash."""
    x = (x + _GOLDEN) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


# Independent random streams: one hash key per (seed, stream).
_STREAMS = (
    "noise_t",
    "noise_h",
    "weather_t",
    "weather_h",
    "read_error",
    "read_error_kind",
    *(f"event_{kind}" for kind in ANOMALY_KINDS),
)


class _KindPlan:
    """One anomaly kind's settings, precomputed for the per-sample hot path."""

    __slots__ = ("block_len", "key", "min_samples", "p_block", "span")

    def __init__(self, cfg: AnomalySettings, key: int) -> None:
        self.key = key
        self.block_len = cfg.max_samples
        self.p_block = cfg.rate * cfg.max_samples
        self.min_samples = cfg.min_samples
        self.span = cfg.max_samples - cfg.min_samples + 1


class Dht22Simulator:
    """The pure signal model; see the module docstring.

    Args:
        settings: the signal's shape; defaults to :class:`SimulationSettings()`.
        period_s: seconds between consecutive samples (any positive value: 1e-4 is fine).
        start_ts: Unix time of sample 0.
    """

    def __init__(
        self, settings: SimulationSettings | None = None, *, period_s: float = 1.0, start_ts: float = 0.0
    ) -> None:
        if not period_s > 0:
            raise ValueError(f"period_s must be > 0, got {period_s!r}")
        self.settings = settings or SimulationSettings()
        self.period_s = float(period_s)
        self.start_ts = float(start_ts)
        seed = self.settings.seed
        keys = {name: _mix(_mix(seed) ^ _mix(index + 1)) for index, name in enumerate(_STREAMS)}
        self._k_noise_t = keys["noise_t"]
        self._k_noise_h = keys["noise_h"]
        self._k_weather_t = keys["weather_t"]
        self._k_weather_h = keys["weather_h"]
        self._k_error = keys["read_error"]
        self._k_error_kind = keys["read_error_kind"]
        self._plans: dict[AnomalyKind, _KindPlan | None] = {
            kind: _KindPlan(getattr(self.settings, kind), keys[f"event_{kind}"])
            if getattr(self.settings, kind).rate > 0.0
            else None
            for kind in ANOMALY_KINDS
        }
        self._peak_s = self.settings.peak_hour_utc * 3600.0
        # Consecutive samples share wander knots and event blocks: remember the last few so a
        # sequential read costs a handful of hashes, not dozens. Pure caches of pure functions.
        self._knot_cache: dict[tuple[int, int], float] = {}
        self._block_cache: dict[tuple[AnomalyKind, int], _Event | None] = {}

    # -- randomness ------------------------------------------------------------------------------
    @staticmethod
    def _uniform(key: int, index: int, salt: int = 0) -> float:
        """A uniform in [0, 1) that depends only on (key, index, salt)."""
        return _mix(key ^ ((index * _GOLDEN + salt) & _MASK)) * _INV_2_64

    def _gauss(self, key: int, index: int) -> float:
        # Box-Muller over two counter-based uniforms; 1 - u keeps the log argument in (0, 1].
        u1 = 1.0 - self._uniform(key, index, 1)
        u2 = self._uniform(key, index, 2)
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)

    def _knot(self, key: int, knot: int) -> float:
        cache_key = (key, knot)
        value = self._knot_cache.get(cache_key)
        if value is None:
            if len(self._knot_cache) > 64:
                self._knot_cache.clear()
            value = self._knot_cache[cache_key] = self._gauss(key, knot)
        return value

    def _wander(self, key: int, t: float) -> float:
        """Smooth random wander of unit scale: gaussian knots every weather_period_seconds, eased between."""
        x = t / self.settings.weather_period_seconds
        knot = math.floor(x)
        frac = x - knot
        ease = frac * frac * (3.0 - 2.0 * frac)
        a = self._knot(key, knot)
        b = self._knot(key, knot + 1)
        return a + (b - a) * ease

    # -- the signal --------------------------------------------------------------------------------
    def seq_at(self, ts: float) -> int:
        """The sample index whose slot contains Unix time ``ts`` (clamped to 0)."""
        return max(0, math.floor((ts - self.start_ts) / self.period_s + 1e-9))

    def baseline(self, ts: float) -> tuple[float, float]:
        """The clean (temperature, humidity) at ``ts``: daily cycle + wander + drift."""
        s = self.settings
        phase = 2.0 * math.pi * ((ts - self._peak_s) % _DAY_S) / _DAY_S
        cycle = math.cos(phase)  # +1 at the peak hour
        days = (ts - self.start_ts) / _DAY_S
        temperature = (
            s.temperature_mean
            + s.temperature_daily_amplitude * cycle
            + s.temperature_weather * self._wander(self._k_weather_t, ts)
            + s.temperature_drift_per_day * days
        )
        humidity = (
            s.humidity_mean
            - s.humidity_daily_amplitude * cycle
            + s.humidity_weather * self._wander(self._k_weather_h, ts)
            + s.humidity_drift_per_day * days
        )
        return temperature, humidity

    def _noisy(self, seq: int, ts: float) -> tuple[float, float, float, float]:
        base_t, base_h = self.baseline(ts)
        s = self.settings
        return (
            base_t,
            base_h,
            base_t + s.temperature_noise * self._gauss(self._k_noise_t, seq),
            base_h + s.humidity_noise * self._gauss(self._k_noise_h, seq),
        )

    def _block_event(self, kind: AnomalyKind, plan: _KindPlan, block: int) -> _Event | None:
        cache_key = (kind, block)
        if cache_key in self._block_cache:
            return self._block_cache[cache_key]
        event: _Event | None = None
        key = plan.key
        if self._uniform(key, block, 0) < plan.p_block:
            u = self._uniform
            event = _Event(
                block * plan.block_len + int(u(key, block, 1) * plan.block_len),
                plan.min_samples + int(u(key, block, 2) * plan.span),
                u(key, block, 3),
                u(key, block, 4),
                u(key, block, 5),
                u(key, block, 6),
            )
        if len(self._block_cache) > 64:
            self._block_cache.clear()
        self._block_cache[cache_key] = event
        return event

    def _event_covering(self, kind: AnomalyKind, seq: int) -> _Event | None:
        """The event of ``kind`` covering sample ``seq``, if any.

        The timeline is cut into blocks of ``max_samples``; each block holds at most one event of
        each kind, starting anywhere in it, so an event covering ``seq`` started in ``seq``'s
        block or the one before. Probability ``rate * max_samples`` per block keeps the
        expected number of events at ``rate`` per sample.
        """
        plan = self._plans[kind]
        if plan is None:
            return None
        block = seq // plan.block_len
        for b in (block, block - 1):
            if b < 0:
                continue
            event = self._block_event(kind, plan, b)
            if event is not None and event.start <= seq < event.start + event.length:
                return event
        return None

    @staticmethod
    def _offset(magnitude: float, u_sign: float, u_size: float) -> float:
        return (1.0 if u_sign < 0.5 else -1.0) * magnitude * (1.0 + u_size)

    def sample(self, seq: int) -> SimulatedSample:
        """Sample number ``seq`` (>= 0) of the timeline; pure and O(1)."""
        if seq < 0:
            raise ValueError(f"seq must be >= 0, got {seq}")
        s = self.settings
        ts = self.start_ts + seq * self.period_s
        base_t, base_h, temperature, humidity = self._noisy(seq, ts)

        anomaly: AnomalyKind | None = None
        read_error: str | None = None
        if self._event_covering("dropout", seq) is not None:
            anomaly = "dropout"
            read_error = NOT_FOUND_ERROR
        elif (stuck := self._event_covering("stuck", seq)) is not None:
            anomaly = "stuck"
            _, _, temperature, humidity = self._noisy(
                stuck.start, self.start_ts + stuck.start * self.period_s
            )
        else:
            step = self._event_covering("step", seq)
            if step is not None:
                anomaly = "step"
                temperature += self._offset(s.step.magnitude, step.u_sign_t, step.u_size_t)
                humidity += self._offset(s.step.humidity_magnitude, step.u_sign_h, step.u_size_h)
            spike = self._event_covering("spike", seq)
            if spike is not None:
                anomaly = "spike"
                temperature += self._offset(s.spike.magnitude, spike.u_sign_t, spike.u_size_t)
                humidity += self._offset(s.spike.humidity_magnitude, spike.u_sign_h, spike.u_size_h)

        if (
            read_error is None
            and s.read_error_rate > 0.0
            and self._uniform(self._k_error, seq) < s.read_error_rate
        ):
            pick = self._uniform(self._k_error_kind, seq)
            read_error = next(message for bound, message in _READ_ERROR_MIX if pick < bound)

        if read_error is not None:
            return SimulatedSample(seq, ts, None, None, anomaly, read_error, base_t, base_h)
        return SimulatedSample(
            seq,
            ts,
            round(min(max(temperature, TEMPERATURE_RANGE[0]), TEMPERATURE_RANGE[1]), 1),
            round(min(max(humidity, HUMIDITY_RANGE[0]), HUMIDITY_RANGE[1]), 1),
            anomaly,
            None,
            base_t,
            base_h,
        )

    def sample_at(self, ts: float) -> SimulatedSample:
        """The sample whose slot contains Unix time ``ts``."""
        return self.sample(self.seq_at(ts))

    def samples(self, start: int = 0, count: int | None = None) -> Iterator[SimulatedSample]:
        """Consecutive samples from ``start``; endless when ``count`` is ``None``."""
        seq = start
        while count is None or seq < start + count:
            yield self.sample(seq)
            seq += 1

    def series(self, start: int, count: int) -> SimulatedSeries:
        """``count`` consecutive samples from ``start`` as arrays, for training windows."""
        import numpy as np  # lazily: see the TYPE_CHECKING import above

        temperature = np.empty(count, dtype=np.float64)
        humidity = np.empty(count, dtype=np.float64)
        codes = np.zeros(count, dtype=np.int8)
        errors = np.zeros(count, dtype=bool)
        for i, sample in enumerate(self.samples(start, count)):
            temperature[i] = np.nan if sample.temperature is None else sample.temperature
            humidity[i] = np.nan if sample.humidity is None else sample.humidity
            codes[i] = ANOMALY_CODES[sample.anomaly]
            errors[i] = sample.read_error is not None
        seq = np.arange(start, start + count, dtype=np.int64)
        return SimulatedSeries(
            seq=seq,
            ts=self.start_ts + seq * self.period_s,
            temperature=temperature,
            humidity=humidity,
            anomaly=codes,
            read_error=errors,
        )


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
