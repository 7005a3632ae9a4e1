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

from typing import Annotated, ClassVar, Literal

from msgspec import Meta

from components.common.replay import ReplayConfig
from components.common.structs import ConfigStruct, Pin, Sha256

#: Default spool folder, relative to the component's working directory (``{work:path}`` under
#: Greengrass and localcore); see ``docs/spool.md``.
DEFAULT_SPOOL_DIR = "inspection-spool"

Size = Annotated[int, Meta(ge=1, le=8192)]
Seconds = Annotated[float, Meta(gt=0.0, le=600.0)]
Share = Annotated[float, Meta(ge=0.0, le=1.0)]
NonEmpty = Annotated[str, Meta(min_length=1)]


# Camera kinds are told apart by their "type" key ({"type": "folder", ...}): it is msgspec's tag,
# so it is not a field. Each kind repeats it as a ClassVar so code (the status line) can read
# ``camera.type`` whichever kind it is; test_config checks the two agree.


class SyntheticCameraConfig(ConfigStruct, frozen=True, tag_field="type", tag="synthetic"):
    """Part images from ``components/inspection/cameras/parts.py``, with ground truth carried along for scoring."""

    type: ClassVar[Literal["synthetic"]] = "synthetic"
    seed: Annotated[int, Meta(ge=0, le=2**31 - 1)] = 7
    defect_rate: Share = 0.1


class FolderCameraConfig(ConfigStruct, frozen=True, tag_field="type", tag="folder"):
    """PNG/JPEG files from a folder, in name order; ``loop`` starts again after the last."""

    type: ClassVar[Literal["folder"]] = "folder"
    path: NonEmpty
    loop: bool = True


class OpenCvCameraConfig(ConfigStruct, frozen=True, tag_field="type", tag="opencv"):
    """A USB camera index (``"0"``), an RTSP/HTTP URL, a video file or a GStreamer pipeline."""

    type: ClassVar[Literal["opencv"]] = "opencv"
    device: NonEmpty = "0"
    backend: Literal["any", "gstreamer", "ffmpeg", "v4l2"] = "any"
    width: Size | None = None
    height: Size | None = None


class Picamera2CameraConfig(ConfigStruct, frozen=True, tag_field="type", tag="picamera2"):
    """A Raspberry Pi camera through picamera2 (where installed)."""

    type: ClassVar[Literal["picamera2"]] = "picamera2"
    width: Annotated[int, Meta(ge=16, le=8192)] = 640
    height: Annotated[int, Meta(ge=16, le=8192)] = 480


CameraConfig = SyntheticCameraConfig | FolderCameraConfig | OpenCvCameraConfig | Picamera2CameraConfig


class CameraRetryConfig(ConfigStruct, frozen=True):
    """How a failing or stalled camera is retried."""

    stall_timeout_seconds: Seconds = 5.0  # a read longer is a stall
    backoff_initial_seconds: Seconds = 0.5
    backoff_max_seconds: Annotated[float, Meta(gt=0.0, le=3600.0)] = 30.0


class TriggerConfig(ConfigStruct, frozen=True):
    """``free_run``: ``rateHz`` frames a second; ``topic``: one frame per trigger message."""

    mode: Literal["free_run", "topic"] = "free_run"
    # Above what the line can do: as fast as it can.
    rate_hz: Annotated[float, Meta(gt=0.0, le=10_000.0)] = 5.0
    # Triggers queued before dropping.
    max_pending: Annotated[int, Meta(ge=1, le=100_000)] = 256


# kw_only is repeated: msgspec applies it to the fields of the class that sets it only, and
# the required width and height follow x and y, which have defaults.
class CropConfig(ConfigStruct, frozen=True, kw_only=True):
    """The region of the frame the part is in, in pixels of the camera frame."""

    x: Annotated[int, Meta(ge=0)] = 0
    y: Annotated[int, Meta(ge=0)] = 0
    width: Annotated[int, Meta(ge=1)]
    height: Annotated[int, Meta(ge=1)]


class ModelConfig(ConfigStruct, frozen=True):
    """The model: a manifest variant, or a file outside the manifest with its sha256 and card."""

    model: str | None = "part_defect"  # the manifest's model (tensors, card)
    variant: str = "int8"  # the manifest variant: float32, pruned or int8
    path: str | None = None  # a model file outside the manifest (needs sha256)
    sha256: Sha256 | None = None
    card: str | None = None  # its model card; default: <path without .tflite>.card.json
    version: str | None = None  # defaults to the manifest's version
    num_threads: Annotated[int, Meta(ge=1, le=8)] = 1

    def __post_init__(self) -> None:
        if self.path is not None and self.sha256 is None:
            raise ValueError("a model 'path' outside the manifest needs its 'sha256'")
        if self.card is not None and self.path is None:
            raise ValueError("a 'card' describes a model 'path' of your own; a manifest model has its card")


class DecisionConfig(ConfigStruct, frozen=True):
    """Probability above ``threshold`` rejects; from ``reviewThreshold`` up to it flags for review.

    The probability is the model's score (a ``score`` card), the winning class's probability
    when it is one of ``rejectClasses`` (a ``classification`` card), or the best score of a
    detection of one of ``rejectClasses`` (a ``detection`` card); ``countDetections`` adds the
    per-class count of detections above the card's score threshold to every decision.
    """

    threshold: Share = 0.8
    review_threshold: Share = 0.5
    reject_classes: tuple[NonEmpty, ...] = ()  # labels that reject (classification, detection)
    count_detections: bool = False

    def __post_init__(self) -> None:
        if self.review_threshold > self.threshold:
            raise ValueError(
                f"reviewThreshold ({self.review_threshold}) must not be above threshold ({self.threshold})"
            )


class ActuatorConfig(ConfigStruct, frozen=True):
    """The reject diverter: a timed pulse on a GPIO pin (``gpio``), or in memory (``simulated``)."""

    driver: Literal["simulated", "gpio"] = "simulated"
    pin: Pin = "D17"
    pulse_ms: Annotated[float, Meta(gt=0.0, le=10_000.0)] = 50.0


class SpoolConfig(ConfigStruct, frozen=True):
    """Where defect images (and a sample of good ones) wait for the sync component, and its bounds."""

    dir: NonEmpty = DEFAULT_SPOOL_DIR
    max_bytes: Annotated[int, Meta(ge=64 * 1024)] = 256 * 1024 * 1024
    max_entries: Annotated[int, Meta(ge=1, le=10_000_000)] = 5000
    # Free space left on the disk, whatever the other bounds.
    min_free_bytes: Annotated[int, Meta(ge=0)] = 512 * 1024 * 1024
    save_rejects: bool = True
    save_reviews: bool = True
    good_sample_rate: Share = 0.01  # share of accepted parts kept
    max_queued: Annotated[int, Meta(ge=1, le=10_000)] = 64  # images waiting to be written


class FramesConfig(ConfigStruct, frozen=True):
    """Camera frames published as ``edgebundle.image.v1``, so image models in the inference
    component can run on the same camera (the topic needs a policy merged into accessControl)."""

    topic: NonEmpty | None = None  # none: frames are not published
    every: Annotated[int, Meta(ge=1, le=100_000)] = 1  # every n-th inspected frame


class InspectionConfig(ConfigStruct, frozen=True):
    """Everything the inspection component needs; the defaults inspect synthetic parts at 5 Hz."""

    camera: CameraConfig = SyntheticCameraConfig()
    camera_retry: CameraRetryConfig = CameraRetryConfig()
    trigger: TriggerConfig = TriggerConfig()
    crop: CropConfig | None = None
    model: ModelConfig = ModelConfig()
    decision: DecisionConfig = DecisionConfig()
    actuator: ActuatorConfig = ActuatorConfig()
    spool: SpoolConfig = SpoolConfig()
    frames: FramesConfig = FramesConfig()
    health_interval_seconds: Annotated[float, Meta(gt=0.0, le=3600.0)] = 10.0
    manifest_path: str | None = None  # defaults to models/manifest.json
    # What stays recoverable for Sync, decisions per source (components.common.replay).
    replay: ReplayConfig = ReplayConfig()
