"""The simulated DHT22: determinism, random access, statistics and ground truth."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.common.exceptions import StructError
from components.common.structs import convert
from components.sensing.drivers.simulated import (
    ANOMALY_CODES,
    CHECKSUM_ERROR,
    NOT_FOUND_ERROR,
    PARTIAL_BUFFER_ERROR,
    AnomalyKind,
    AnomalySettings,
    Dht22Simulator,
    SimulatedDht22,
    SimulationSettings,
)
from components.sensing.exceptions import SensorReadError

DAY = 86_400


def test_same_seed_same_samples_and_different_seed_different_samples() -> None:
    a = Dht22Simulator(SimulationSettings(seed=3), period_s=0.5, start_ts=1000.0)
    b = Dht22Simulator(SimulationSettings(seed=3), period_s=0.5, start_ts=1000.0)
    c = Dht22Simulator(SimulationSettings(seed=4), period_s=0.5, start_ts=1000.0)
    first = [a.sample(i) for i in range(500)]
    assert first == [b.sample(i) for i in range(500)]
    assert [s.temperature for s in first] != [c.sample(i).temperature for i in range(500)]


def test_random_access_equals_sequential_generation() -> None:
    sim = Dht22Simulator(SimulationSettings(seed=11), period_s=1.0)
    sequential = list(sim.samples(0, 3000))
    for seq in (2999, 17, 1500, 0, 1499, 2048):
        assert sim.sample(seq) == sequential[seq]
    assert sim.sample_at(sim.start_ts + 1500.2) == sequential[1500]


def test_clean_signal_has_the_daily_cycle_noise_and_drift_configured() -> None:
    settings = SimulationSettings(
        seed=1, temperature_weather=0.0, humidity_weather=0.0, peak_hour_utc=15.0
    ).without_anomalies()
    sim = Dht22Simulator(settings, period_s=60.0, start_ts=0.0)
    series = sim.series(0, 10 * DAY // 60)
    hours = (series.ts % DAY) / 3600
    # Warmest near the peak hour, coldest 12 h later; humidity the other way round.
    warm = series.temperature[np.abs(hours - 15) < 0.5].mean()
    cold = series.temperature[np.abs(hours - 3) < 0.5].mean()
    assert warm - cold == pytest.approx(2 * settings.temperature_daily_amplitude, abs=0.3)
    assert series.humidity[np.abs(hours - 3) < 0.5].mean() > series.humidity[np.abs(hours - 15) < 0.5].mean()

    # Noise around the baseline is what was asked for (plus the 0.1 rounding).
    def residual_at(seq: int) -> float:
        sample = sim.sample(seq)
        assert sample.temperature is not None  # without_anomalies(): no read fails
        return sample.temperature - sample.baseline_temperature

    residual = np.array([residual_at(i) for i in range(3000)])
    assert residual.std() == pytest.approx(settings.temperature_noise, rel=0.15)
    # Drift: day 9 against day 0 at the same time of day.
    per_day = DAY // 60
    drift = series.temperature[9 * per_day : 10 * per_day].mean() - series.temperature[:per_day].mean()
    assert drift == pytest.approx(9 * settings.temperature_drift_per_day, abs=0.05)
    assert not series.read_error.any() and not series.anomaly.any()


def test_anomaly_rates_and_read_error_rate_match_the_settings() -> None:
    settings = SimulationSettings(
        seed=5,
        read_error_rate=0.05,
        spike=AnomalySettings(rate=0.01, min_samples=1, max_samples=1, magnitude=8.0),
        step=AnomalySettings(rate=0.001, min_samples=20, max_samples=40, magnitude=4.0),
        stuck=AnomalySettings(rate=0.001, min_samples=10, max_samples=30),
        dropout=AnomalySettings(rate=0.001, min_samples=5, max_samples=15),
    )
    sim = Dht22Simulator(settings, period_s=1.0)
    n = 60_000
    series = sim.series(0, n)
    codes = series.anomaly
    spikes = np.count_nonzero(codes == ANOMALY_CODES["spike"])
    assert spikes == pytest.approx(0.01 * n, rel=0.15)
    # Runs: count starts of contiguous labelled stretches.
    runs: tuple[tuple[AnomalyKind, int], ...] = (("step", 30), ("stuck", 20), ("dropout", 10))
    for kind, mean_len in runs:
        mask = codes == ANOMALY_CODES[kind]
        fraction = mask.mean()
        assert fraction == pytest.approx(0.001 * mean_len, rel=0.35), kind
    ordinary_errors = series.read_error & (codes != ANOMALY_CODES["dropout"])
    assert ordinary_errors.mean() == pytest.approx(0.05, rel=0.1)
    # A dropout is always a failed read.
    assert series.read_error[codes == ANOMALY_CODES["dropout"]].all()


def test_each_anomaly_looks_like_its_kind() -> None:
    settings = SimulationSettings(
        seed=2,
        read_error_rate=0.0,
        spike=AnomalySettings(rate=0.005, min_samples=1, max_samples=1, magnitude=8.0, humidity_magnitude=20),
        step=AnomalySettings(rate=0.0005, min_samples=50, max_samples=100, magnitude=4.0),
        stuck=AnomalySettings(rate=0.0005, min_samples=20, max_samples=50),
        dropout=AnomalySettings(rate=0.0005, min_samples=5, max_samples=20),
    )
    sim = Dht22Simulator(settings, period_s=1.0)
    # Each kind has its own random stream, so switching spikes off leaves everything else as it was.
    no_spikes = Dht22Simulator(
        msgspec.structs.replace(settings, spike=msgspec.structs.replace(settings.spike, rate=0.0)),
        period_s=1.0,
    )
    samples = list(sim.samples(0, 40_000))
    kinds = {s.anomaly for s in samples}
    assert kinds == {None, "spike", "step", "stuck", "dropout"}
    for s in samples:
        if s.anomaly == "spike":
            without = no_spikes.sample(s.seq)
            assert s.temperature is not None and without.temperature is not None
            assert 8.0 - 0.1 <= abs(s.temperature - without.temperature) <= 16.0 + 0.1
            assert without.anomaly in (None, "step")
        elif s.anomaly == "step":
            assert s.temperature is not None
            assert abs(s.temperature - s.baseline_temperature) >= 4.0 - 1.0
        elif s.anomaly == "dropout":
            assert s.temperature is None and s.read_error == NOT_FOUND_ERROR
        elif s.anomaly is None:
            assert s.temperature is not None
            assert abs(s.temperature - s.baseline_temperature) < 1.0
    # Stuck runs repeat one value exactly.
    runs: list[list[float | None]] = []
    for prev, s in zip([None, *samples], samples, strict=False):
        if s.anomaly == "stuck":
            if prev is None or prev.anomaly != "stuck":
                runs.append([])
            runs[-1].append(s.temperature)
    assert runs and all(len(set(run)) == 1 for run in runs)


def test_values_are_rounded_and_within_the_dht22_range() -> None:
    sim = Dht22Simulator(SimulationSettings(seed=9, temperature_mean=78.0, humidity_mean=98.0))
    for s in sim.samples(0, 5000):
        if s.ok:
            assert s.temperature is not None and s.humidity is not None
            assert -40.0 <= s.temperature <= 80.0 and 0.0 <= s.humidity <= 100.0
            assert s.temperature == round(s.temperature, 1)


def test_driver_reads_the_timeline_in_order_and_raises_the_library_messages() -> None:
    settings = SimulationSettings(seed=8, read_error_rate=0.2)
    driver = SimulatedDht22(settings, period_s=0.25, start_ts=500.0)
    reference = Dht22Simulator(settings, period_s=0.25, start_ts=500.0)
    messages = set()
    for seq in range(400):
        expected = reference.sample(seq)
        try:
            sample = driver.read()
        except SensorReadError as err:
            assert str(err) == expected.read_error
            assert err.injected == expected.anomaly
            messages.add(str(err))
            continue
        assert sample.values == {"temperature": expected.temperature, "humidity": expected.humidity}
        assert sample.ts == expected.ts and sample.injected == expected.anomaly
        assert sample.units == {"temperature": "C", "humidity": "%"}
    assert {CHECKSUM_ERROR, PARTIAL_BUFFER_ERROR} <= messages


def test_driver_start_defaults_to_the_clock() -> None:
    driver = SimulatedDht22(period_s=1.0, clock=lambda: 1234.5)
    assert driver.simulator.start_ts == 1234.5


def test_bad_settings_are_refused_with_the_key_named() -> None:
    # In Python the cross-field checks run on construction; from raw data they also name the key path.
    with pytest.raises(ValueError, match=r"maxSamples \(5\) must be >= minSamples \(10\)"):
        AnomalySettings(rate=0.1, min_samples=10, max_samples=5)
    with pytest.raises(ValueError, match=r"rate \* maxSamples must be <= 1 \(got 0.1 \* 50\)"):
        AnomalySettings(rate=0.1, min_samples=1, max_samples=50)
    with pytest.raises(StructError, match=r"^spike: maxSamples \(1\) must be >= minSamples \(2\)"):
        convert({"spike": {"rate": 0.1, "minSamples": 2, "maxSamples": 1}}, SimulationSettings)
    with pytest.raises(StructError, match=r"^readErrorRate: Expected `float` <= 1.0 \(got 1.5\)$"):
        convert({"readErrorRate": 1.5}, SimulationSettings)
    with pytest.raises(StructError, match=r"^spike.minSamples: Expected `int` >= 1 \(got 0\)$"):
        convert({"spike": {"rate": 0.1, "minSamples": 0, "maxSamples": 1}}, SimulationSettings)
    with pytest.raises(StructError, match=r"^<root>: Object contains unknown field `sed`"):
        convert({"sed": 1}, SimulationSettings)
    assert (
        convert(
            {"readErrorRate": 0.2, "spike": {"rate": 0.1, "minSamples": 1, "maxSamples": 1}},
            SimulationSettings,
        ).read_error_rate
        == 0.2
    )
    with pytest.raises(ValueError, match="period_s"):
        Dht22Simulator(period_s=0)
    with pytest.raises(ValueError, match="seq"):
        Dht22Simulator().sample(-1)


@given(
    seed=st.integers(min_value=0, max_value=2**32),
    seqs=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=20),
    period=st.floats(min_value=1e-4, max_value=3600.0),
)
@settings(max_examples=50, deadline=None)
def test_any_sample_is_the_same_in_any_order_and_any_instance(
    seed: int, seqs: list[int], period: float
) -> None:
    noisy = SimulationSettings(
        seed=seed,
        spike=AnomalySettings(rate=0.05, min_samples=1, max_samples=1, magnitude=5.0),
        step=AnomalySettings(rate=0.01, min_samples=2, max_samples=30, magnitude=3.0),
        stuck=AnomalySettings(rate=0.01, min_samples=2, max_samples=30),
        dropout=AnomalySettings(rate=0.01, min_samples=2, max_samples=30),
    )
    warm = Dht22Simulator(noisy, period_s=period, start_ts=1e9)
    for seq in seqs:  # visiting samples fills the caches: results must not depend on them
        for neighbour in (seq, seq + 1, max(0, seq - 31)):
            warm.sample(neighbour)
    for seq in reversed(seqs):
        assert warm.sample(seq) == Dht22Simulator(noisy, period_s=period, start_ts=1e9).sample(seq)


def test_without_anomalies_zeroes_every_rate_and_keeps_the_signal() -> None:
    noisy = SimulationSettings(seed=5, temperature_mean=30.0, read_error_rate=0.3)
    clean = noisy.without_anomalies()
    assert clean.read_error_rate == 0.0
    assert all(getattr(clean, kind).rate == 0.0 for kind in ("spike", "step", "stuck", "dropout"))
    assert (clean.seed, clean.temperature_mean, clean.step.magnitude) == (5, 30.0, noisy.step.magnitude)
    assert all(s.ok and s.anomaly is None for s in Dht22Simulator(clean).samples(0, 2000))
