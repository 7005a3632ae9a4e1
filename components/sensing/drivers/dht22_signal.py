"""The simulated DHT22's signal model: a pure, seedable function from a sample's index to the sample.

See :mod:`components.sensing.drivers.simulated` for the signal and its anomalies. Randomness is
counter-based (a SplitMix64 hash of seed, stream and index), not a generator walked forward: that
is what makes random access O(1) and deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from components.sensing.drivers.simulation_settings import (
    ANOMALY_CODES,
    ANOMALY_KINDS,
    HUMIDITY_RANGE,
    NOT_FOUND_ERROR,
    READ_ERROR_MIX,
    TEMPERATURE_RANGE,
    AnomalyKind,
    AnomalySettings,
    SimulationSettings,
)

if TYPE_CHECKING:
    # numpy (about 12 MiB resident) is needed only by series(), i.e. by model training; the
    # running component reads samples one at a time and must not pay for it (issue #10 footprint).
    import numpy as np

_DAY_S = 86_400.0


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
            read_error = next(message for bound, message in READ_ERROR_MIX if pick < bound)

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
