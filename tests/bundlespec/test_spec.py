"""The bundle spec loads and validates; errors name the key."""

import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from bundlespec import SpecError, load_spec, parse_spec


def shipped_raw() -> dict[str, Any]:
    """The shipped bundle.yaml as a mutable mapping with its camelCase keys."""
    raw = msgspec.to_builtins(load_spec())
    assert isinstance(raw, dict)
    return raw


def test_shipped_spec_loads() -> None:
    spec = load_spec()
    assert spec.fleet.things
    assert spec.bucket_name("123456789012") == "edge-bundle-data-123456789012-us-east-1"
    assert spec.iot.topic(spec.iot.alerts_topic, "dev-1") == "edgebundle/dev-1/alerts"


def test_keys_are_the_camel_case_of_the_fields() -> None:
    raw = shipped_raw()
    assert set(raw["fleet"]) == {"thingGroup", "things", "iotPolicy", "tokenExchangeRole", "roleAlias"}
    assert raw["iot"]["rules"][0]["action"]["dynamodb"]["hashKey"] == "thing"
    assert parse_spec(raw) == load_spec()


def test_unknown_key_is_named() -> None:
    raw = shipped_raw()
    raw["fleet"]["thingGroupp"] = "x"
    with pytest.raises(SpecError, match=re.escape("fleet: Object contains unknown field `thingGroupp`")):
        parse_spec(raw)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("fleet", "thingGroup"), 7, "fleet.thingGroup: Expected `str`, got `int`"),
        (
            ("iot", "rules", 0, "action", "dynamodb", "table"),
            "other",
            "iot.rules.0.action.dynamodb.table: Invalid enum value 'other'",
        ),
        (
            ("greengrass",),
            {"componentPrefix": "com.x", "componentVersion": "1.0.0"},
            "greengrass: Object contains unknown field `componentVersion`",
        ),
    ],
)
def test_wrong_value_names_the_key_path(path: tuple[str | int, ...], value: Any, message: str) -> None:
    raw = shipped_raw()
    parent: Any = raw
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    with pytest.raises(SpecError, match=re.escape(message)):
        parse_spec(raw)


def test_load_spec_names_the_file_and_the_key(tmp_path: Path) -> None:
    raw = shipped_raw()
    # snake_case was accepted as an alias by the old loader; keys are camelCase only now.
    raw["data"]["alerts_table"] = raw["data"].pop("alertsTable")
    path = tmp_path / "bundle.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(
        SpecError, match=re.escape(f"{path}: data: Object contains unknown field `alerts_table`")
    ):
        load_spec(path)
    path.write_text("- not a mapping\n", encoding="utf-8")
    with pytest.raises(SpecError, match="expected a mapping at the top level, got list"):
        load_spec(path)
