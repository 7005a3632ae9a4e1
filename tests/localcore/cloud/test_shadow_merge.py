"""Properties of the 3-way shadow merge and the patches sync sends."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from localcore.cloud.shadow_merge import patch, state_patch, three_way

keys = st.sampled_from(["a", "b", "c", "d"])
scalars = st.one_of(
    st.integers(-3, 3), st.sampled_from(["x", "y"]), st.booleans(), st.lists(st.integers(0, 2), max_size=2)
)
states = st.recursive(
    scalars, lambda inner: st.dictionaries(keys, inner, min_size=1, max_size=3), max_leaves=8
)
objects = st.dictionaries(keys, states, max_size=4)


def _apply(current: Any, update: Any) -> Any:
    """ShadowManager's merge (reference 6.3): objects merge, None removes, empty objects vanish."""
    if not isinstance(update, dict) or not isinstance(current, dict):
        return update
    merged = dict(current)
    for key, value in update.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _apply(merged.get(key), value)
            if merged[key] == {}:
                del merged[key]
    return merged


@given(objects, objects)
def test_a_patch_turns_current_into_target(current: dict[str, Any], target: dict[str, Any]) -> None:
    assert _apply(current, patch(current, target)) == target


@given(objects, objects)
def test_state_patch_is_empty_exactly_when_equal(current: dict[str, Any], target: dict[str, Any]) -> None:
    now, wanted = {"desired": current or None}, {"desired": target or None}
    assert (state_patch(now, wanted) == {}) == ((current or None) == (target or None))


@given(objects, objects, st.sampled_from(["local", "cloud"]))
def test_one_sided_changes_win(base: dict[str, Any], changed: dict[str, Any], prefer: str) -> None:
    assert three_way(base, changed, base, prefer) in (changed, changed or None)
    assert three_way(base, base, changed, prefer) in (changed, changed or None)


@given(objects, objects, objects)
def test_conflicts_go_to_the_preferred_side_and_merge_is_symmetric(
    base: dict[str, Any], local: dict[str, Any], cloud: dict[str, Any]
) -> None:
    as_local = three_way(base, local, cloud, "local")
    as_cloud = three_way(base, cloud, local, "cloud")
    assert as_local == as_cloud
    if local == cloud:
        assert as_local == local


def test_desired_cloud_wins_reported_device_wins_per_key() -> None:
    base = {"mode": "auto", "rate": 1}
    local = {"mode": "manual", "rate": 1, "fan": True}
    cloud = {"mode": "eco", "rate": 5}
    assert three_way(base, local, cloud, "cloud") == {"mode": "eco", "rate": 5, "fan": True}
    assert three_way(base, local, cloud, "local") == {"mode": "manual", "rate": 5, "fan": True}
    # deleted on the device, changed in the cloud: a conflict, the preferred side decides
    assert three_way(base, {"rate": 1}, cloud, "local") == {"rate": 5}
    assert three_way(base, {"rate": 1}, cloud, "cloud") == {"mode": "eco", "rate": 5}
