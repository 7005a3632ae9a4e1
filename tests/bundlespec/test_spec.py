"""The bundle spec loads and validates; errors name the key."""

import pydantic
import pytest

from bundlespec import load_spec, parse_spec


def test_shipped_spec_loads() -> None:
    spec = load_spec()
    assert spec.fleet.things
    assert spec.bucket_name("123456789012") == "edge-bundle-data-123456789012-us-east-1"
    assert spec.iot.topic(spec.iot.alerts_topic, "dev-1") == "edgebundle/dev-1/alerts"


def test_unknown_key_is_named() -> None:
    raw = load_spec().model_dump(by_alias=True)
    raw["fleet"]["thingGroupp"] = "x"
    with pytest.raises(pydantic.ValidationError, match="thingGroupp"):
        parse_spec(raw)
