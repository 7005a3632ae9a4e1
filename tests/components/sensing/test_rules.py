"""Local rules: thresholds with hysteresis, rate of change, stale data, and configuration changes."""

from __future__ import annotations

import itertools

from hypothesis import given
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


def test_rate_of_change_raises_on_a_spike_and_clears_when_steady() -> None:
    engine = RuleEngine([JUMP], now=0.0)
    assert engine.on_reading("s1", 0.0, {"temperature": 20.0}) == []  # nothing to compare yet
    assert engine.on_reading("s1", 1.0, {"temperature": 20.5}) == []
    up = engine.on_reading("s1", 2.0, {"temperature": 30.0})
    assert [e.state for e in up] == ["raised"] and "+9.5/s" in up[0].message
    assert engine.on_reading("s1", 3.0, {"temperature": 20.6}) == []  # falling back is still a jump
    assert [e.state for e in engine.on_reading("s1", 4.0, {"temperature": 20.7})] == ["cleared"]
    # A reading with the same timestamp cannot give a rate and is skipped.
    assert engine.on_reading("s1", 4.0, {"temperature": 90.0}) == []


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
    changed_band = BAND.model_copy(update={"above": 95.0})
    new = RuleEngine([HOT, changed_band], now=2.0, previous=old)
    assert set(new.active) == {"hot:s1"}
    dropped = new.dropped_alerts(old, now=2.0)
    assert [(e.alert_id, e.state) for e in dropped] == [("band:s1", "cleared")]
    # The kept alert is not raised again by the next hot reading.
    assert new.on_reading("s1", 3.0, {"temperature": 41.0, "humidity": 50.0}) == []
