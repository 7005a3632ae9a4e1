"""Configuration validation and merging shared by all components."""

from typing import Annotated

import pytest
from msgspec import Meta

from components.common.exceptions import ConfigError
from components.common.live_config import deep_merge, validate_config
from components.common.structs import ConfigStruct


class Example(ConfigStruct, frozen=True):
    rate_hz: Annotated[float, Meta(gt=0)] = 1.0
    name: str = "x"


def test_deep_merge_merges_maps_and_replaces_leaves() -> None:
    base = {"a": {"b": 1, "c": 2}, "d": [1]}
    assert deep_merge(base, {"a": {"b": 5}, "d": [2]}) == {"a": {"b": 5, "c": 2}, "d": [2]}
    assert base == {"a": {"b": 1, "c": 2}, "d": [1]}


def test_access_control_is_not_part_of_the_component_config() -> None:
    assert validate_config(Example, {"accessControl": {"x": {}}, "rateHz": 2}).rate_hz == 2


def test_error_names_key_value_and_expectation() -> None:
    with pytest.raises(ConfigError) as info:
        validate_config(Example, {"rateHz": -3})
    assert str(info.value) == "rateHz: Expected `float` > 0.0 (got -3)"


def test_unknown_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown field `rateHzz`"):
        validate_config(Example, {"rateHzz": 1})


def test_not_an_object() -> None:
    with pytest.raises(ConfigError, match="expected an object, got list"):
        validate_config(Example, [1])
