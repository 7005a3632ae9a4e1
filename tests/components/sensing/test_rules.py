"""Local rules: thresholds with hysteresis, rate of change, stale data, and configuration changes."""

from __future__ import annotations

import itertools
import random

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from components.sensing.config import RateOfChangeRule, StaleRule, ThresholdRule
from components.sensing.rules import RuleEngine, rate_active, threshold_active

HOT = ThresholdRule(
    id="hot", sensor="s1", metric="temperature", above=30.0, hysteresis=2.0, severity="critical"
)
BAND = ThresholdRule(id="band", sensor="s1", metric="humidity", above=70.0, below=30.0, hysteresis=5.0)
JUMP = RateOfChangeRule(id="jump", sensor="s1", metric="temperature", max_per_second=1.0, hysteresis=0.2)
STALE = StaleRule(id="stale", sensor="s1", max_age_seconds=10.0)

values = st.floats(min_value=-50, max_value=120, allow_nan=False)


def test_threshold_raises_above_and_clears_only_below_the_hysteresis_band() -> None:
    engine = RuleEngine([HOT], now=0.0)
    reading = {"temperature": 31.0}
    raised = engine.on_reading("s1", 1.0, reading, {"seq": 1})
    assert [(e.state, e.alert_id, e.severity, e.reading) for e in raised] == [
        ("raised", "hot:s1", "critical", {"seq": 1})
    ]
    assert "above 30" in raised[0].message
    assert engine.on_reading("s1", 2.0, {"temperature": 29.0}) == []  # inside the band: still up
    assert engine.on_reading("s1", 3.0, {"temperature": 28.0}) == []  # at the band's edge: still up
    cleared = engine.on_reading("s1", 4.0, {"temperature": 27.9})
    assert [(e.state, e.alert_id) for e in cleared] == [("cleared", "hot:s1")]
    assert engine.active == {}


def test_band_rule_raises_on_either_side() -> None:
    engine = RuleEngine([BAND], now=0.0)
    assert [e.message for e in engine.on_reading("s1", 1, {"humidity": 25.0})] == [
        "humidity 25 below 30 on s1 (rule band)"
    ]
    assert engine.on_reading("s1", 2, {"humidity": 34.0}) == []
    assert [e.state for e in engine.on_reading("s1", 3, {"humidity": 36.0})] == ["cleared"]
    assert [e.state for e in engine.on_reading("s1", 4, {"humidity": 71.0})] == ["raised"]


def test_missing_or_null_metric_and_other_sensors_are_ignored() -> None:
    engine = RuleEngine([HOT], now=0.0)
    assert engine.on_reading("s1", 1, {"temperature": None}) == []
    assert engine.on_reading("s2", 1, {"temperature": 99.0}) == []
    assert engine.on_reading("s1", 1, {"humidity": 99.0}) == []


@given(st.lists(values, max_size=60))
def test_threshold_changes_state_only_across_the_outer_edges(sequence: list[float]) -> None:
    active = False
    for value in sequence:
        nxt = threshold_active(HOT, active, value)
        if nxt and not active:
            assert value > 30.0
        if active and not nxt:
            assert value < 28.0
        active = nxt


@given(st.booleans(), st.lists(st.floats(min_value=28.0, max_value=30.0), min_size=1, max_size=60))
def test_no_flapping_inside_the_hysteresis_band(start_active: bool, sequence: list[float]) -> None:
    active = start_active
    for value in sequence:
        active = threshold_active(HOT, active, value)
        assert active == start_active


@given(st.lists(values, max_size=80))
def test_engine_events_alternate_raised_then_cleared(sequence: list[float]) -> None:
    engine = RuleEngine([HOT, BAND], now=0.0)
    states: dict[str, list[str]] = {}
    for i, value in enumerate(sequence):
        for event in engine.on_reading("s1", float(i), {"temperature": value, "humidity": value}):
            states.setdefault(event.alert_id, []).append(event.state)
    for history in states.values():
        assert history[0] == "raised"
        assert all(a != b for a, b in itertools.pairwise(history))


@given(st.booleans(), st.floats(min_value=-1.0, max_value=1.0))
def test_rate_rule_holds_inside_its_hysteresis(active: bool, rate: float) -> None:
    result = rate_active(JUMP, active, rate)
    if abs(rate) > 1.0:
        assert result
    elif abs(rate) < 0.8:
        assert not result
    else:
        assert result == active


WINDOWED = RateOfChangeRule(
    id="ramp", sensor="s1", metric="temperature", max_per_second=0.05, hysteresis=0.02, window_seconds=30.0
)


def _run(engine: RuleEngine, values: list[float], hz: float = 10.0) -> list[str]:
    states: list[str] = []
    for i, value in enumerate(values):
        states += [e.state for e in engine.on_reading("s1", i / hz, {"temperature": value})]
    return states


def test_rate_of_change_needs_half_a_window_of_history_and_skips_repeated_timestamps() -> None:
    engine = RuleEngine([msgspec.structs.replace(JUMP, window_seconds=4.0)], now=0.0)
    assert engine.on_reading("s1", 0.0, {"temperature": 20.0}) == []
    assert engine.on_reading("s1", 1.0, {"temperature": 30.0}) == []  # not enough history yet
    up = engine.on_reading("s1", 2.0, {"temperature": 40.0})
    assert [e.state for e in up] == ["raised"] and "+10/s" in up[0].message
    assert engine.on_reading("s1", 2.0, {"temperature": 90.0}) == []


def test_noise_alone_at_10_hz_for_minutes_raises_no_rate_alert() -> None:
    rng = random.Random(5)
    noise = [22.0 + rng.gauss(0.0, 0.3) for _ in range(10 * 600)]
    assert _run(RuleEngine([WINDOWED], now=0.0), noise) == []


def test_a_real_ramp_raises_once_and_clears_once() -> None:
    rng = random.Random(7)
    flat = [22.0] * 600
    ramp = [22.0 + 0.2 * i / 10 for i in range(1200)]  # 0.2 degrees/s for two minutes
    top = [ramp[-1]] * 1200
    values = [v + rng.gauss(0.0, 0.3) for v in flat + ramp + top]
    assert _run(RuleEngine([WINDOWED], now=0.0), values) == ["raised", "cleared"]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), sigma=st.floats(0.0, 0.5), level=st.floats(-40.0, 80.0))
def test_constant_level_noise_never_flaps(seed: int, sigma: float, level: float) -> None:
    rng = random.Random(seed)
    values = [level + rng.gauss(0.0, sigma) for _ in range(10 * 180)]
    assert len([s for s in _run(RuleEngine([WINDOWED], now=0.0), values) if s == "raised"]) <= 1


def test_stale_rule_raises_after_silence_and_clears_on_the_next_good_reading() -> None:
    engine = RuleEngine([STALE], now=100.0)
    assert engine.on_tick(109.0) == []
    raised = engine.on_tick(111.0)
    assert [(e.state, e.alert_id) for e in raised] == [("raised", "stale:s1")]
    assert engine.on_tick(115.0) == []  # raised once, not on every tick
    assert [e.state for e in engine.on_reading("s1", 116.0, {"temperature": 20.0})] == ["cleared"]
    assert engine.on_tick(120.0) == []
    assert [e.state for e in engine.on_tick(126.5)] == ["raised"]


def test_a_configuration_change_keeps_unchanged_rules_and_clears_dropped_ones() -> None:
    old = RuleEngine([HOT, BAND], now=0.0)
    old.on_reading("s1", 1.0, {"temperature": 40.0, "humidity": 90.0})
    assert set(old.active) == {"hot:s1", "band:s1"}
    changed_band = msgspec.structs.replace(BAND, above=95.0)
    new = RuleEngine([HOT, changed_band], now=2.0, previous=old)
    assert set(new.active) == {"hot:s1"}
    dropped = new.dropped_alerts(old, now=2.0)
    assert [(e.alert_id, e.state) for e in dropped] == [("band:s1", "cleared")]
    # The kept alert is not raised again by the next hot reading.
    assert new.on_reading("s1", 3.0, {"temperature": 41.0, "humidity": 50.0}) == []
