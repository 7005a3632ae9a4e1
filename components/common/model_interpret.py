"""What a model's outputs mean, per its card: checking the tensors against it, and reading them.

:func:`check_card` holds a loaded model's tensors to its card (a mismatch names the file, the
tensor and what was expected); :func:`interpret` turns batch-first outputs into one
:class:`Prediction` per item: every output tensor, and a score, the top-k classes or detections.
Kept apart from :mod:`components.common.model_host` (which needs the IPC stack for its
configuration error) so training can score models through exactly this code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from components.common.detections import Detection, decode_postprocess, decode_raw
from components.common.model_card import (
    ClassificationOutput,
    DetectionOutput,
    ImageInput,
    LoadedCard,
    ScoreOutput,
    SensorWindowInput,
)
from components.common.model_errors import ModelCardMismatchError
from components.common.model_manifest import TensorSpec
from components.common.model_runtime import ModelRuntime
from components.common.preprocessing import CHANNELS


@dataclass(frozen=True)
class Prediction:
    """One item's result: its outputs (batch axis removed) and their meaning per the card."""

    outputs: tuple[np.ndarray, ...]
    score: float | None = None
    classes: tuple[tuple[str, float], ...] = ()  # top-k (label, probability), best first
    detections: tuple[Detection, ...] = field(default=())

    def to_json(self, kind: str) -> dict[str, Any]:
        """The message form of this result for an output ``kind``."""
        if kind == "score":
            return {"score": None if self.score is None else round(self.score, 6)}
        if kind == "classification":
            return {"classes": [{"label": label, "probability": round(p, 6)} for label, p in self.classes]}
        if kind == "detection":
            return {"detections": [d.to_json() for d in self.detections]}
        return {"outputs": [np.round(o.astype(np.float64), 6).tolist() for o in self.outputs]}


def _fail(
    runtime: ModelRuntime, card: LoadedCard, kind: str, index: int, what: str
) -> ModelCardMismatchError:
    tensors = runtime.inputs if kind == "input" else runtime.outputs
    name = tensors[index].name if index < len(tensors) else "?"
    shape = list(tensors[index].shape) if index < len(tensors) else None
    return ModelCardMismatchError(
        f"{runtime.source}: {kind} {index} ({name}, shape {shape}) does not fit the card {card.source}: expected {what}"
    )


def _output(runtime: ModelRuntime, card: LoadedCard, index: int, role: str) -> TensorSpec:
    if index >= len(runtime.outputs):
        raise ModelCardMismatchError(
            f"{runtime.source}: the card {card.source} reads output {index} as {role}, "
            f"the model has {len(runtime.outputs)} outputs"
        )
    return runtime.outputs[index]


def _per_item(spec: TensorSpec) -> int:
    return int(np.prod(spec.shape[1:])) if len(spec.shape) > 1 else 1


def check_card(runtime: ModelRuntime, card: LoadedCard) -> None:
    """Hold the model's tensors to its card.

    Raises:
        ModelCardMismatchError: naming the model file, the tensor and what the card expects.
    """
    spec = runtime.inputs[0]
    source = card.card.input
    if isinstance(source, SensorWindowInput):
        allowed: list[tuple[int, ...]]
        if source.preprocessing == "sensor_window_v1":
            allowed = [(1, source.length, len(CHANNELS))]
        else:
            width = len(source.fields)
            allowed = [(1, source.length, width), (1, source.length * width)]
        if spec.shape not in allowed:
            raise _fail(runtime, card, "input", 0, " or ".join(str(list(s)) for s in allowed))
    elif isinstance(source, ImageInput):
        channels = 1 if source.colour == "grey" else 3
        axis = 3 if source.layout == "nhwc" else 1
        if len(spec.shape) != 4 or spec.shape[0] != 1 or spec.shape[axis] != channels:
            layout = "[1, H, W, C]" if source.layout == "nhwc" else "[1, C, H, W]"
            raise _fail(
                runtime, card, "input", 0, f"{layout} with C = {channels} ({source.colour}, {source.layout})"
            )
        if source.normalisation.raw and spec.dtype not in ("uint8", "float32"):
            raise _fail(runtime, card, "input", 0, "a uint8 or float32 tensor for raw pixel values")
    if spec.dtype not in ("float32", "int8", "uint8", "int16"):
        raise _fail(runtime, card, "input", 0, "float32, int8, uint8 or int16")
    output = card.card.output
    labels = card.labels
    if isinstance(output, ScoreOutput):
        if _per_item(_output(runtime, card, output.tensor, "the score")) != 1:
            raise _fail(runtime, card, "output", output.tensor, "one score per item ([1, 1])")
    elif isinstance(output, ClassificationOutput):
        t = _output(runtime, card, output.tensor, "class scores")
        assert labels is not None
        if _per_item(t) != len(labels):
            raise _fail(runtime, card, "output", output.tensor, f"[1, {len(labels)}]: one score per label")
    elif isinstance(output, DetectionOutput):
        assert labels is not None
        boxes = _output(runtime, card, output.boxes, "boxes")
        if len(boxes.shape) != 3 or boxes.shape[2] != 4:
            raise _fail(runtime, card, "output", output.boxes, "boxes [1, N, 4]")
        n = boxes.shape[1]
        scores = _output(runtime, card, output.scores, "scores")
        if output.format == "raw":
            want = [(1, n, len(labels))] + ([(1, n)] if len(labels) == 1 else [])
            if scores.shape not in want:
                raise _fail(
                    runtime,
                    card,
                    "output",
                    output.scores,
                    f"scores {[list(w) for w in want]}: {len(labels)} labels",
                )
        else:
            assert output.classes is not None and output.count is not None
            if scores.shape != (1, n):
                raise _fail(runtime, card, "output", output.scores, f"scores [1, {n}]")
            if _output(runtime, card, output.classes, "classes").shape != (1, n):
                raise _fail(runtime, card, "output", output.classes, f"classes [1, {n}]")
            if _per_item(_output(runtime, card, output.count, "the count")) != 1:
                raise _fail(runtime, card, "output", output.count, "a count [1]")


def _softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - np.max(x)
    e = np.exp(shifted)
    return np.asarray(e / np.sum(e))


def interpret(card: LoadedCard, outputs: tuple[np.ndarray, ...]) -> list[Prediction]:
    """Per-item predictions from batch-first outputs (as :meth:`ModelRuntime.predict_all` returns)."""
    n = outputs[0].shape[0]
    output = card.card.output
    results = []
    for i in range(n):
        item = tuple(o[i] for o in outputs)
        if isinstance(output, ScoreOutput):
            results.append(Prediction(item, score=float(item[output.tensor].reshape(-1)[0])))
        elif isinstance(output, ClassificationOutput):
            assert card.labels is not None
            values = item[output.tensor].reshape(-1).astype(np.float64)
            probabilities = _softmax(values) if output.activation == "logits" else values
            top = np.argsort(-probabilities, kind="stable")[: output.top_k]
            results.append(
                Prediction(item, classes=tuple((card.labels[k], float(probabilities[k])) for k in top))
            )
        elif isinstance(output, DetectionOutput):
            if output.format == "raw":
                found = decode_raw(
                    item[output.boxes],
                    item[output.scores],
                    labels=card.labels,
                    encoding=output.box_encoding,
                    score_threshold=output.score_threshold,
                    iou_threshold=output.iou_threshold,
                    max_detections=output.max_detections,
                )
            else:
                assert output.classes is not None and output.count is not None
                found = decode_postprocess(
                    item[output.boxes],
                    item[output.classes],
                    item[output.scores],
                    item[output.count],
                    labels=card.labels,
                    score_threshold=output.score_threshold,
                    max_detections=output.max_detections,
                )
            results.append(Prediction(item, detections=tuple(found)))
        else:
            results.append(Prediction(item))
    return results
