"""The configuration model base and its errors: key path, what was expected, the value found."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from msgspec import Meta

from components.common.exceptions import StructError
from components.common.structs import ConfigStruct, Id, convert, to_json_dict


class Probe(ConfigStruct, frozen=True):
    interval_seconds: Annotated[float, Meta(ge=0.5)] = 2.0
    labels: dict[str, str] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.interval_seconds > 60 and not self.labels:
            raise ValueError("a slow probe needs a label")


class Station(ConfigStruct, frozen=True):
    name: Annotated[str, Meta(pattern=r"^[a-z]+$")]
    probes: tuple[Probe, ...] = ()


def test_keys_are_camel_case_and_round_trip() -> None:
    station = convert({"name": "east", "probes": [{"intervalSeconds": 5}]}, Station)
    assert station.probes[0].interval_seconds == 5.0
    assert to_json_dict(station) == {"name": "east", "probes": [{"intervalSeconds": 5.0, "labels": {}}]}
    assert convert(to_json_dict(station), Station) == station


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"name": "east", "probes": [{}, {"intervalSeconds": 0.1}]},
            "probes.1.intervalSeconds: Expected `float` >= 0.5 (got 0.1)",
        ),
        ({"name": "East"}, "name: Expected `str` matching regex '^[a-z]+$' (got 'East')"),
        (
            {"name": "east", "probes": [{"interval_seconds": 1}]},
            "probes.0: Object contains unknown field `interval_seconds`",
        ),
        ({"probes": []}, "<root>: Object missing required field `name`"),
        ({"name": "east", "probes": [{"intervalSeconds": 90}]}, "probes.0: a slow probe needs a label"),
        ({"name": "east", "probes": [{"labels": {"a": 1}}]}, "probes.0.labels.*: Expected `str`, got `int`"),
        ([], "<root>: Expected `object`, got `array`"),
    ],
)
def test_errors_name_the_path_the_expectation_and_the_value(raw: object, message: str) -> None:
    with pytest.raises(StructError) as info:
        convert(raw, Station)
    assert str(info.value) == message


def test_numbers_written_as_strings_are_accepted_unless_strict() -> None:
    assert convert({"intervalSeconds": "7.5"}, Probe).interval_seconds == 7.5
    with pytest.raises(StructError, match="intervalSeconds: Expected `float`, got `str`"):
        convert({"intervalSeconds": "7.5"}, Probe, strict=True)


def test_models_are_frozen_and_hashable() -> None:
    probe = Probe()
    with pytest.raises(AttributeError):
        probe.interval_seconds = 3.0  # type: ignore[misc]
    assert hash(Station(name="a")) == hash(Station(name="a"))


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_float_either_converts_or_names_the_key(value: float) -> None:
    try:
        probe = convert({"intervalSeconds": value}, Probe)
    except StructError as err:
        assert str(err).startswith("intervalSeconds: ") or "a slow probe" in str(err)
    else:
        assert probe.interval_seconds == value >= 0.5


class Line(ConfigStruct, frozen=True):
    station: Id
    mode: Literal["run", "idle"] = "run"
    camera: Usb | Folder = msgspec.field(default_factory=lambda: Usb())

    def __post_init__(self) -> None:
        if self.station == "reserved":
            raise ValueError("station: 'reserved' is kept for the line controller")


class Usb(ConfigStruct, frozen=True, tag_field="type", tag="usb"):
    index: int = 0


class Folder(ConfigStruct, frozen=True, tag_field="type", tag="folder"):
    path: str = "/frames"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"station": "a", "mode": "off"}, "mode: Invalid enum value 'off'; expected one of ['idle', 'run']"),
        (
            {"station": "a", "camera": {"type": "webcam"}},
            "camera.type: Invalid value 'webcam'; expected one of ['usb', 'folder']",
        ),
        ({"station": "reserved"}, "station: 'reserved' is kept for the line controller"),
        ({"station": "line1\n"}, "station: Expected `str` matching regex"),
    ],
)
def test_choices_are_listed_and_keyed_checks_keep_their_key(raw: object, message: str) -> None:
    with pytest.raises(StructError) as info:
        convert(raw, Line)
    assert str(info.value).startswith(message)
    assert convert({"station": "a", "camera": {"type": "folder"}}, Line).camera == Folder()
