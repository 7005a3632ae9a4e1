"""Configuration: defaults, camelCase keys, and refusals that name the key."""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.common.exceptions import ConfigError
from components.common.live_config import validate_config
from components.common.structs import to_json_dict
from components.inspection.component import parse_trigger
from components.inspection.config import (
    FolderCameraConfig,
    InspectionConfig,
    OpenCvCameraConfig,
    Picamera2CameraConfig,
    SyntheticCameraConfig,
)


def test_defaults_inspect_synthetic_parts_with_the_int8_model() -> None:
    config = InspectionConfig()
    assert config.camera.type == "synthetic" and config.model.variant == "int8"
    assert config.decision.threshold == 0.8 and config.trigger.mode == "free_run"


def test_camera_kinds_are_chosen_by_type() -> None:
    config = validate_config(
        InspectionConfig, {"camera": {"type": "folder", "path": "/data/parts", "loop": False}}
    )
    assert isinstance(config.camera, FolderCameraConfig) and not config.camera.loop
    config = validate_config(InspectionConfig, {"camera": {"type": "opencv", "device": "rtsp://cam/1"}})
    assert isinstance(config.camera, OpenCvCameraConfig)


@pytest.mark.parametrize(
    ("camera", "kind"),
    [
        ({"type": "synthetic", "seed": 3, "defectRate": 0.2}, SyntheticCameraConfig),
        ({"type": "folder", "path": "/data/parts"}, FolderCameraConfig),
        ({"type": "opencv", "device": "0", "backend": "v4l2", "width": 640}, OpenCvCameraConfig),
        ({"type": "picamera2", "width": 1280, "height": 720}, Picamera2CameraConfig),
    ],
)
def test_every_camera_kind_parses_and_reports_its_type(camera: dict[str, Any], kind: type) -> None:
    config = validate_config(InspectionConfig, {"camera": camera})
    assert isinstance(config.camera, kind)
    # The "type" key is msgspec's tag; the ClassVar the status line reads must say the same.
    assert config.camera.type == camera["type"]
    dumped = to_json_dict(config)["camera"]
    assert dumped["type"] == camera["type"] and dumped.items() >= camera.items()


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ({"camera": {"type": "webcam"}}, "camera.type: Invalid value 'webcam'"),
        ({"camera": {"path": "/data/parts"}}, "camera: Object missing required field `type`"),
        ({"camera": {"type": "folder"}}, "camera: Object missing required field `path`"),
        ({"camera": {"type": "folder", "path": ""}}, "camera.path: Expected `str` of length >= 1"),
        ({"camera": {"type": "opencv", "width": 0}}, "camera.width: Expected `int` >= 1 (got 0)"),
        ({"decision": {"threshold": 1.5}}, "decision.threshold: Expected `float` <= 1.0 (got 1.5)"),
        (
            {"decision": {"threshold": 0.6, "reviewThreshold": 0.7}},
            "decision: reviewThreshold (0.7) must not be above threshold (0.6)",
        ),
        ({"actuator": {"driver": "gpio", "pin": "gpio 17"}}, "actuator.pin: Expected `str` matching regex"),
        (
            {"model": {"path": "/tmp/m.tflite"}},
            "model: a model 'path' outside the manifest needs its 'sha256'",
        ),
        ({"model": {"sha256": "xyz"}}, "model.sha256: Expected `str` matching regex"),
        ({"trigger": {"mode": "topic", "rateHz": 0}}, "trigger.rateHz: Expected `float` > 0.0 (got 0)"),
        ({"spool": {"maxBytes": 10}}, "spool.maxBytes: Expected `int` >= 65536 (got 10)"),
        ({"crop": {"x": 0, "y": 0, "width": 0, "height": 10}}, "crop.width: Expected `int` >= 1 (got 0)"),
        ({"cameraa": {}}, "unknown field `cameraa`"),
        # Keys are camelCase only: the snake_case spelling is an unknown key, not an alias.
        (
            {"cameraRetry": {"stall_timeout_seconds": 1}},
            "cameraRetry: Object contains unknown field `stall_timeout_seconds`",
        ),
    ],
)
def test_bad_configuration_names_the_key(raw: dict[str, Any], names: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(names)):
        validate_config(InspectionConfig, raw)


def test_trigger_messages_carry_a_part_id() -> None:
    assert parse_trigger({"partId": "A-17", "ts": 1.0}) == "A-17"
    for bad in ({"partId": ""}, {"part": "A"}, ["A"], {"partId": 17}, {"partId": "x" * 129}):
        with pytest.raises(ValueError, match="trigger"):
            parse_trigger(bad)
