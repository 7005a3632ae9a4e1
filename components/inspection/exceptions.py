"""Errors of the quality inspection component; each names what is wrong and what was expected."""

from __future__ import annotations

from components.common.exceptions import ModelSwapRejected

# Defined once for both model-hosting components; re-exported for this component's callers.
from components.common.model_errors import FrameError


class InspectionError(Exception):
    """Base of the inspection component's own errors."""


class CameraError(InspectionError):
    """A camera failed to deliver a frame (the source is retried with back-off)."""


class CameraUnavailableError(CameraError):
    """A camera source cannot be opened: its library is missing or the device/path does not exist."""


class CameraStalledError(CameraError):
    """A read did not return within the stall timeout (the camera is restarted)."""


class CameraExhaustedError(CameraError):
    """A finite source (a folder not looping, a video file) has no more frames."""


class ActuatorUnavailableError(InspectionError):
    """The reject actuator's GPIO library or pin cannot be used."""


class SpoolWriteError(InspectionError):
    """An image or its metadata could not be written to the spool."""


__all__ = [
    "ActuatorUnavailableError",
    "CameraError",
    "CameraExhaustedError",
    "CameraUnavailableError",
    "FrameError",
    "InspectionError",
    "ModelSwapRejected",
    "SpoolWriteError",
]
