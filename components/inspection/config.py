"""The inspection component's configuration: camera, trigger, model, decision, actuator, spool.

Keys are camelCase in the recipe, deployments and the ``inspection-config`` shadow. Example
(a USB camera triggered by the part-present sensor, rejects on GPIO D17)::

    {"camera": {"type": "opencv", "device": "0"},
     "trigger": {"mode": "topic"},
     "actuator": {"driver": "gpio", "pin": "D17", "pulseMs": 80}}

A model swap names another manifest variant, or a file beside the shipped ones with its sha256::

    {"model": {"variant": "float32"}}
    {"model": {"path": "/greengrass/v2/work/models/parts-v2.tflite", "sha256": "9f2c...", "version": "1.1.0"}}
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from components.sensing.config import PIN_PATTERN

SHA256_PATTERN = r"^[0-9a-f]{64}$"
#: Default spool folder, relative to the component's working directory (``{work:path}`` under
#: Greengrass and localcore); see ``docs/spool.md``.
DEFAULT_SPOOL_DIR = "inspection-spool"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, alias_generator=to_camel, frozen=True)


class SyntheticCameraConfig(_Model):
    """Part images from ``models/data/parts.py``, with ground truth carried along for scoring."""

    type: Literal["synthetic"] = "synthetic"
    seed: int = Field(default=7, ge=0, le=2**31 - 1)
    defect_rate: float = Field(default=0.1, ge=0.0, le=1.0)


class FolderCameraConfig(_Model):
    """PNG/JPEG files from a folder, in name order; ``loop`` starts again after the last."""

    type: Literal["folder"] = "folder"
    path: str = Field(min_length=1)
    loop: bool = True


class OpenCvCameraConfig(_Model):
    """A USB camera index (``"0"``), an RTSP/HTTP URL, a video file or a GStreamer pipeline."""

    type: Literal["opencv"] = "opencv"
    device: str = Field(default="0", min_length=1)
    backend: Literal["any", "gstreamer", "ffmpeg", "v4l2"] = "any"
    width: int | None = Field(default=None, ge=1, le=8192)
    height: int | None = Field(default=None, ge=1, le=8192)


class Picamera2CameraConfig(_Model):
    """A Raspberry Pi camera through picamera2 (where installed)."""

    type: Literal["picamera2"] = "picamera2"
    width: int = Field(default=640, ge=16, le=8192)
    height: int = Field(default=480, ge=16, le=8192)


CameraConfig = Annotated[
    SyntheticCameraConfig | FolderCameraConfig | OpenCvCameraConfig | Picamera2CameraConfig,
    Field(discriminator="type"),
]


class CameraRetryConfig(_Model):
    """How a failing or stalled camera is retried."""

    stall_timeout_seconds: float = Field(
        default=5.0, gt=0.0, le=600.0, description="a read longer is a stall"
    )
    backoff_initial_seconds: float = Field(default=0.5, gt=0.0, le=600.0)
    backoff_max_seconds: float = Field(default=30.0, gt=0.0, le=3600.0)


class TriggerConfig(_Model):
    """``free_run``: ``rateHz`` frames a second; ``topic``: one frame per trigger message."""

    mode: Literal["free_run", "topic"] = "free_run"
    rate_hz: float = Field(
        default=5.0, gt=0.0, le=10_000.0, description="above what the line can do: as fast as it can"
    )
    max_pending: int = Field(default=256, ge=1, le=100_000, description="triggers queued before dropping")


class CropConfig(_Model):
    """The region of the frame the part is in, in pixels of the camera frame."""

    x: int = Field(default=0, ge=0)
    y: int = Field(default=0, ge=0)
    width: int = Field(ge=1)
    height: int = Field(ge=1)


class ModelConfig(_Model):
    """The defect model: a manifest variant, or a file outside the manifest with its sha256."""

    model: str = Field(default="part_defect", description="the manifest's model (tensors, preprocessing)")
    variant: str = Field(default="int8", description="float32, pruned or int8")
    path: str | None = Field(default=None, description="a model file outside the manifest (needs sha256)")
    sha256: str | None = Field(default=None, pattern=SHA256_PATTERN)
    version: str | None = Field(default=None, description="defaults to the manifest's version")
    num_threads: int = Field(default=1, ge=1, le=8)

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        if self.path is not None and self.sha256 is None:
            raise ValueError("a model 'path' outside the manifest needs its 'sha256'")
        return self


class DecisionConfig(_Model):
    """Probability above ``threshold`` rejects; from ``reviewThreshold`` up to it flags for review."""

    threshold: float = Field(default=0.8, ge=0.0, le=1.0)
    review_threshold: float = Field(default=0.5, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _check(self) -> DecisionConfig:
        if self.review_threshold > self.threshold:
            raise ValueError(
                f"reviewThreshold ({self.review_threshold}) must not be above threshold ({self.threshold})"
            )
        return self


class ActuatorConfig(_Model):
    """The reject diverter: a timed pulse on a GPIO pin (``gpio``), or in memory (``simulated``)."""

    driver: Literal["simulated", "gpio"] = "simulated"
    pin: str = Field(default="D17", pattern=PIN_PATTERN)
    pulse_ms: float = Field(default=50.0, gt=0.0, le=10_000.0)


class SpoolConfig(_Model):
    """Where defect images (and a sample of good ones) wait for the sync component, and its bounds."""

    dir: str = Field(default=DEFAULT_SPOOL_DIR, min_length=1)
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=64 * 1024)
    max_entries: int = Field(default=5000, ge=1, le=10_000_000)
    min_free_bytes: int = Field(
        default=512 * 1024 * 1024, ge=0, description="free space left on the disk, whatever the other bounds"
    )
    save_rejects: bool = True
    save_reviews: bool = True
    good_sample_rate: float = Field(default=0.01, ge=0.0, le=1.0, description="share of accepted parts kept")
    max_queued: int = Field(default=64, ge=1, le=10_000, description="images waiting to be written")


class InspectionConfig(_Model):
    """Everything the inspection component needs; the defaults inspect synthetic parts at 5 Hz."""

    camera: CameraConfig = Field(default_factory=SyntheticCameraConfig)
    camera_retry: CameraRetryConfig = Field(default_factory=CameraRetryConfig)
    trigger: TriggerConfig = Field(default_factory=TriggerConfig)
    crop: CropConfig | None = None
    model: ModelConfig = Field(default_factory=ModelConfig)
    decision: DecisionConfig = Field(default_factory=DecisionConfig)
    actuator: ActuatorConfig = Field(default_factory=ActuatorConfig)
    spool: SpoolConfig = Field(default_factory=SpoolConfig)
    health_interval_seconds: float = Field(default=10.0, gt=0.0, le=3600.0)
    manifest_path: str | None = Field(default=None, description="defaults to models/manifest.json")
