"""Connectivity schedules: parsing, clear errors, and state flips driven by a fake clock."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localcore.cloud.connectivity import (
    FLAKY,
    OFFLINE,
    ONLINE,
    Connectivity,
    Phase,
    ScheduleDriver,
    parse_schedule,
)
from localcore.cloud.exceptions import ScheduleError


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_documented_schedule_parses() -> None:
    schedule = parse_schedule("online:60,offline:30,flaky:60:0.2")
    assert schedule.phases == (Phase(ONLINE, 60), Phase(OFFLINE, 30), Phase(FLAKY, 60, 0.2))
    assert schedule.period == 150


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("sunny:10", "state must be one of"),
        ("online", "expected online:SECONDS"),
        ("online:ten", "seconds must be a number"),
        ("offline:0", "positive"),
        ("offline:-3", "positive"),
        ("flaky:10:1.5", "between 0 and 1"),
        ("flaky:10:x", "drop fraction must be a number"),
        ("online:10:0.2", "expected online:SECONDS"),
        ("online:10,,offline:5", "part 2"),
    ],
)
def test_bad_schedules_say_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(ScheduleError, match=fragment):
        parse_schedule(text)


@given(
    st.lists(
        st.tuples(st.sampled_from([ONLINE, OFFLINE, FLAKY]), st.integers(1, 100)), min_size=1, max_size=5
    ),
    st.floats(0, 10_000, allow_nan=False),
)
def test_phase_lookup_repeats_and_boundaries_agree(parts: list[tuple[str, int]], elapsed: float) -> None:
    schedule = parse_schedule(",".join(f"{state}:{seconds}" for state, seconds in parts))
    assert schedule.phase_at(elapsed) == schedule.phase_at(elapsed + schedule.period)
    wait = schedule.next_change_after(elapsed)
    assert 0 < wait <= schedule.period


def test_a_schedule_flips_state_on_time_with_an_injected_clock() -> None:
    clock = FakeClock()
    connectivity = Connectivity()
    seen: list[str] = []
    connectivity.add_listener(lambda state, _drop: seen.append(state))
    driver = ScheduleDriver(connectivity, parse_schedule("online:60,offline:30,flaky:60:0.5"), clock)

    assert driver.tick() == 60 and connectivity.state == ONLINE
    clock.now += 59.9
    driver.tick()
    assert connectivity.state == ONLINE
    clock.now += 0.1
    driver.tick()
    assert connectivity.state == OFFLINE
    clock.now += 30
    driver.tick()
    assert connectivity.state == FLAKY and connectivity.drop == 0.5
    clock.now += 60
    driver.tick()
    assert connectivity.state == ONLINE
    assert seen == [OFFLINE, FLAKY, ONLINE]


def test_flaky_drops_about_the_configured_fraction() -> None:
    connectivity = Connectivity(rng=random.Random(7))
    connectivity.set_state(FLAKY, 0.25)
    drops = sum(connectivity.should_drop() for _ in range(4000))
    assert 800 < drops < 1200
    connectivity.set_state(OFFLINE)
    assert connectivity.should_drop() and not connectivity.is_up()
    connectivity.set_state(ONLINE)
    assert not connectivity.should_drop()


def test_a_failing_listener_does_not_stop_the_others() -> None:
    connectivity = Connectivity()
    seen: list[str] = []

    def broken(_state: str, _drop: float) -> None:
        raise RuntimeError("listener bug")

    connectivity.add_listener(broken)
    connectivity.add_listener(lambda state, _drop: seen.append(state))
    connectivity.set_state(OFFLINE)
    assert seen == [OFFLINE] and connectivity.state == OFFLINE
