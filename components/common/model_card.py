"""The model card: what feeds a model's input and how its outputs are read, validated at load.

A card sits in the manifest entry of a shipped model (``"card"``) or in a JSON file beside a
model of your own (``detector.tflite`` -> ``detector.card.json``, or the ``card`` key of the
component configuration). Keys are camelCase and strict: an unknown key is refused, naming it.
The tensors the card describes are checked against the model file by
:func:`components.common.model_host.check_card`.

Example (a 96x96 RGB classifier with inputs in [-1, 1])::

    {"schema": "edgebundle.model-card.v1", "name": "shelf-products", "version": "1.0.0",
     "input": {"source": "image", "colour": "rgb", "layout": "nhwc",
               "normalisation": {"range": [-1.0, 1.0]}},
     "output": {"kind": "classification", "activation": "softmax",
                "labelsFile": "labels.txt", "topK": 3}}

Inputs (``input.source``):

* ``sensorWindow``: ``length`` consecutive readings of one sensor's ``fields``; ``preprocessing``
  is ``sensor_window_v1`` (the shipped anomaly model's features, tensor ``[1, length, 5]``),
  ``standardise`` (``(x - mean) / std`` per field) or ``none``, into ``[1, length, fields]``
  (or ``[1, length * fields]``, time first); a failed read is carried forward.
* ``image``: a camera frame resized to the tensor's height and width, in ``colour`` order
  (``rgb``, ``bgr``, ``grey``), ``layout`` ``nhwc`` or ``nchw``, normalised by ``range``
  (pixels 0..255 mapped linearly onto ``[lo, hi]``), ``mean``/``std`` per channel, or ``raw``
  (pixel values as they are: the integers of a uint8 input).

Outputs (``output.kind``): ``score`` (one probability per item: anomaly or defect),
``classification`` (``softmax`` probabilities or ``logits``; top-k with labels),
``detection`` (``postprocess``: the boxes, classes, scores and count tensors TFLite's detection
post-process op emits; ``raw``: box and per-class score tensors, non-maximum suppression done by
the host), or ``raw`` (every output tensor, as arrays).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from msgspec import Meta

from components.common.model_errors import ModelCardError
from components.common.preprocessing import WINDOW
from components.common.structs import ConfigStruct, Id, StructError, convert

CARD_SCHEMA = "edgebundle.model-card.v1"
CARD_SUFFIX = ".card.json"
MAX_LABELS = 10_000

TensorIndex = Annotated[int, Meta(ge=0, le=63)]
Share = Annotated[float, Meta(ge=0.0, le=1.0)]
FieldName = Annotated[str, Meta(min_length=1, max_length=64)]


class SensorWindowInput(ConfigStruct, frozen=True, tag_field="source", tag="sensorWindow"):
    """A window of one sensor's readings."""

    source: ClassVar[str] = "sensorWindow"
    fields: Annotated[tuple[FieldName, ...], Meta(min_length=1, max_length=16)] = ("temperature", "humidity")
    length: Annotated[int, Meta(ge=1, le=100_000)] = 64
    preprocessing: Literal["sensor_window_v1", "standardise", "none"] = "none"
    mean: tuple[float, ...] | None = None  # per field, for standardise
    std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.preprocessing == "standardise":
            for key, values in (("mean", self.mean), ("std", self.std)):
                if values is None or len(values) != len(self.fields):
                    raise ValueError(
                        f"standardise needs '{key}' with one value per field ({len(self.fields)})"
                    )
            if self.std is not None and any(s <= 0 for s in self.std):
                raise ValueError(f"'std' values must be > 0, got {list(self.std)}")
        elif self.mean is not None or self.std is not None:
            raise ValueError("'mean' and 'std' are only used with preprocessing 'standardise'")
        if self.preprocessing == "sensor_window_v1" and self.fields != ("temperature", "humidity"):
            raise ValueError(
                f"sensor_window_v1 reads fields ['temperature', 'humidity'], got {list(self.fields)}"
            )
        if self.preprocessing == "sensor_window_v1" and self.length != WINDOW:
            raise ValueError(f"sensor_window_v1 windows are {WINDOW} readings long, got length {self.length}")


class Normalisation(ConfigStruct, frozen=True):
    """Exactly one of ``range``, ``mean`` with ``std``, or ``raw``."""

    range: tuple[float, float] | None = None
    mean: tuple[float, ...] | None = None  # per channel, on pixel values 0..255
    std: tuple[float, ...] | None = None
    raw: bool = False

    def __post_init__(self) -> None:
        given = [self.range is not None, self.mean is not None or self.std is not None, self.raw]
        if sum(given) != 1:
            raise ValueError("give exactly one of 'range', 'mean' with 'std', or 'raw': true")
        if (self.mean is None) != (self.std is None):
            raise ValueError("'mean' and 'std' go together")
        if self.mean is not None and self.std is not None:
            if len(self.mean) != len(self.std) or len(self.mean) not in (1, 3):
                raise ValueError("'mean' and 'std' need 1 or 3 values each, the same count")
            if any(s <= 0 for s in self.std):
                raise ValueError(f"'std' values must be > 0, got {list(self.std)}")
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"'range' must be [low, high] with low < high, got {list(self.range)}")


class ImageInput(ConfigStruct, frozen=True, tag_field="source", tag="image"):
    """A camera frame (or an image from a topic), resized to the tensor."""

    source: ClassVar[str] = "image"
    colour: Literal["rgb", "bgr", "grey"] = "rgb"
    layout: Literal["nhwc", "nchw"] = "nhwc"
    normalisation: Normalisation = Normalisation(range=(0.0, 1.0))

    def __post_init__(self) -> None:
        channels = 1 if self.colour == "grey" else 3
        mean = self.normalisation.mean
        if mean is not None and len(mean) not in (1, channels):
            raise ValueError(
                f"normalisation.mean has {len(mean)} values, {self.colour} has {channels} channels"
            )


class ScoreOutput(ConfigStruct, frozen=True, tag_field="kind", tag="score"):
    """One probability per item (anomaly, defect) in output ``tensor``."""

    kind: ClassVar[str] = "score"
    tensor: TensorIndex = 0
    threshold: Share = 0.5


class ClassificationOutput(ConfigStruct, frozen=True, tag_field="kind", tag="classification"):
    """Class probabilities (``softmax``) or ``logits`` (the host applies softmax) in ``tensor``."""

    kind: ClassVar[str] = "classification"
    tensor: TensorIndex = 0
    activation: Literal["softmax", "logits"] = "softmax"
    labels: Annotated[tuple[str, ...], Meta(min_length=1, max_length=MAX_LABELS)] | None = None
    labels_file: str | None = None  # one label a line, relative to the card's folder
    top_k: Annotated[int, Meta(ge=1, le=100)] = 3

    def __post_init__(self) -> None:
        if (self.labels is None) == (self.labels_file is None):
            raise ValueError("give exactly one of 'labels' or 'labelsFile'")


class DetectionOutput(ConfigStruct, frozen=True, tag_field="kind", tag="detection"):
    """Detections: TFLite's post-process tensors, or raw boxes and scores with NMS by the host.

    Boxes are normalised to [0, 1]; ``boxEncoding`` says their order (``yxyx``: ymin, xmin,
    ymax, xmax as TFLite's op emits them).
    """

    kind: ClassVar[str] = "detection"
    format: Literal["postprocess", "raw"] = "postprocess"
    labels: Annotated[tuple[str, ...], Meta(min_length=1, max_length=MAX_LABELS)] | None = None
    labels_file: str | None = None
    boxes: TensorIndex = 0
    classes: TensorIndex | None = 1  # postprocess only
    scores: TensorIndex = 2
    count: TensorIndex | None = 3  # postprocess only
    box_encoding: Literal["yxyx", "xyxy", "cxcywh"] = "yxyx"
    score_threshold: Share = 0.3  # detections below are dropped by the host
    iou_threshold: Share = 0.5  # raw format: NMS overlap
    max_detections: Annotated[int, Meta(ge=1, le=1000)] = 20

    def __post_init__(self) -> None:
        if (self.labels is None) == (self.labels_file is None):
            raise ValueError("give exactly one of 'labels' or 'labelsFile'")
        if self.format == "postprocess" and (self.classes is None or self.count is None):
            raise ValueError("format 'postprocess' needs the 'classes' and 'count' tensors")
        if self.format == "raw" and (self.classes is not None or self.count is not None):
            raise ValueError("format 'raw' has no 'classes' or 'count' tensors: set them to null")


class RawOutput(ConfigStruct, frozen=True, tag_field="kind", tag="raw"):
    """Every output tensor, published as arrays."""

    kind: ClassVar[str] = "raw"


CardInput = SensorWindowInput | ImageInput
CardOutput = ScoreOutput | ClassificationOutput | DetectionOutput | RawOutput


class ModelCard(ConfigStruct, frozen=True, kw_only=True):
    """One model's card; see the module docstring."""

    schema: Literal["edgebundle.model-card.v1"] = "edgebundle.model-card.v1"
    name: Id
    version: Annotated[str, Meta(min_length=1, max_length=64)] = "1.0.0"
    description: str = ""
    # A streaming model keeps state between invokes: never warmed up, never batched, resettable.
    stateful: bool = False
    input: CardInput
    output: CardOutput


class LoadedCard:
    """A validated card, where it came from, and its labels read."""

    def __init__(self, card: ModelCard, source: str, labels: tuple[str, ...] | None) -> None:
        self.card = card
        self.source = source
        self.labels = labels

    def __repr__(self) -> str:
        return f"LoadedCard({self.card.name!r} from {self.source})"


def _labels(output: CardOutput, base: Path | None, source: str) -> tuple[str, ...] | None:
    if not isinstance(output, ClassificationOutput | DetectionOutput):
        return None
    if output.labels is not None:
        return output.labels
    assert output.labels_file is not None
    path = Path(output.labels_file)
    if not path.is_absolute():
        if base is None:
            raise ModelCardError(
                f"{source}: 'labelsFile' {output.labels_file!r} must be absolute in an inline card"
            )
        path = base / path
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except OSError as err:
        raise ModelCardError(f"{source}: labels file {path} cannot be read: {err}") from err
    labels = tuple(line for line in lines if line)
    if not labels or len(labels) > MAX_LABELS:
        raise ModelCardError(
            f"{source}: labels file {path} has {len(labels)} labels, expected 1 to {MAX_LABELS}"
        )
    return labels


def parse_card(raw: object, source: str, base: Path | None = None) -> LoadedCard:
    """Validate a card's parsed JSON.

    Args:
        raw: the card object.
        source: where it came from, for messages (a file, or ``manifest models.<name>.card``).
        base: the folder a ``labelsFile`` is relative to.

    Raises:
        ModelCardError: naming the source, the key and what was expected.
    """
    try:
        card = convert(raw, ModelCard, strict=True)
    except StructError as err:
        raise ModelCardError(f"model card {source}: {err}") from err
    return LoadedCard(card, source, _labels(card.output, base, source))


def load_card(path: Path | str) -> LoadedCard:
    """Read and validate a card file.

    Raises:
        ModelCardError: missing, not JSON, or not a valid card (naming the key).
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ModelCardError(f"model card {path} does not exist") from err
    except (OSError, ValueError) as err:
        raise ModelCardError(f"model card {path} is not readable JSON: {err}") from err
    return parse_card(raw, str(path), path.parent)


def card_path_for(model_path: Path) -> Path:
    """Where a model file's card is looked for by default: ``x.tflite`` -> ``x.card.json``."""
    return model_path.with_name(model_path.stem + CARD_SUFFIX)
