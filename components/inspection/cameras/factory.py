"""Builds the camera a configuration names."""

from __future__ import annotations

from collections.abc import Callable

from components.inspection.cameras.base import Camera
from components.inspection.cameras.folder import FolderCamera
from components.inspection.cameras.opencv import OpenCvCamera
from components.inspection.cameras.picamera import Picamera2Camera
from components.inspection.cameras.synthetic import SyntheticCamera
from components.inspection.config import (
    CameraConfig,
    FolderCameraConfig,
    OpenCvCameraConfig,
    Picamera2CameraConfig,
    SyntheticCameraConfig,
)

#: ``factory(config) -> Camera``: tests pass their own to inject a fake camera.
CameraFactory = Callable[[CameraConfig], Camera]


def build_camera(config: CameraConfig) -> Camera:
    """The (unopened) camera ``config`` describes."""
    if isinstance(config, SyntheticCameraConfig):
        return SyntheticCamera(config.seed, config.defect_rate)
    if isinstance(config, FolderCameraConfig):
        return FolderCamera(config.path, config.loop)
    if isinstance(config, OpenCvCameraConfig):
        return OpenCvCamera(config.device, config.backend, config.width, config.height)
    if isinstance(config, Picamera2CameraConfig):
        return Picamera2Camera(config.width, config.height)
    raise TypeError(f"unknown camera configuration {type(config).__name__}")
