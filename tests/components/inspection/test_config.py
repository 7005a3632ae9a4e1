"""Configuration: defaults, camelCase keys, and refusals that name the key."""

from __future__ import annotations

import pytest

from components.common.live_config import ConfigError, validate_config
from components.inspection.component import parse_trigger
from components.inspection.config import FolderCameraConfig, InspectionConfig, OpenCvCameraConfig


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
    ("raw", "names"),
    [
        ({"camera": {"type": "webcam"}}, "camera"),
        ({"camera": {"type": "folder"}}, "camera.folder.path"),
        ({"decision": {"threshold": 1.5}}, "decision.threshold"),
        ({"decision": {"threshold": 0.6, "reviewThreshold": 0.7}}, "reviewThreshold (0.7) must not be above"),
        ({"actuator": {"driver": "gpio", "pin": "gpio 17"}}, "actuator.pin"),
        ({"model": {"path": "/tmp/m.tflite"}}, "needs its 'sha256'"),
        ({"model": {"sha256": "xyz"}}, "model.sha256"),
        ({"trigger": {"mode": "topic", "rateHz": 0}}, "trigger.rateHz"),
        ({"spool": {"maxBytes": 10}}, "spool.maxBytes"),
        ({"crop": {"x": 0, "y": 0, "width": 0, "height": 10}}, "crop.width"),
        ({"cameraa": {}}, "cameraa"),
    ],
)
def test_bad_configuration_names_the_key(raw: dict, names: str) -> None:
    with pytest.raises(ConfigError, match=names.replace("(", "\\(").replace(")", "\\)")):
        validate_config(InspectionConfig, raw)


def test_trigger_messages_carry_a_part_id() -> None:
    assert parse_trigger({"partId": "A-17", "ts": 1.0}) == "A-17"
    for bad in ({"partId": ""}, {"part": "A"}, ["A"], {"partId": 17}, {"partId": "x" * 129}):
        with pytest.raises(ValueError, match="trigger"):
            parse_trigger(bad)
