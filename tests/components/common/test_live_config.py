"""Configuration validation and merging shared by all components."""

import pytest
from pydantic import BaseModel, ConfigDict, Field

from components.common.live_config import ConfigError, deep_merge, validate_config


class Example(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rate_hz: float = Field(default=1.0, gt=0)
    name: str = "x"


def test_deep_merge_merges_maps_and_replaces_leaves() -> None:
    base = {"a": {"b": 1, "c": 2}, "d": [1]}
    assert deep_merge(base, {"a": {"b": 5}, "d": [2]}) == {"a": {"b": 5, "c": 2}, "d": [2]}
    assert base == {"a": {"b": 1, "c": 2}, "d": [1]}


def test_access_control_is_not_part_of_the_component_config() -> None:
    assert validate_config(Example, {"accessControl": {"x": {}}, "rate_hz": 2}).rate_hz == 2


def test_error_names_key_value_and_expectation() -> None:
    with pytest.raises(ConfigError) as info:
        validate_config(Example, {"rate_hz": -3})
    assert "rate_hz" in str(info.value) and "-3" in str(info.value) and "greater than 0" in str(info.value)


def test_unknown_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="rate_hzz"):
        validate_config(Example, {"rate_hzz": 1})


def test_not_an_object() -> None:
    with pytest.raises(ConfigError, match="expected an object, got list"):
        validate_config(Example, [1])
