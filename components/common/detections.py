"""Detections from a detector's output tensors: decoding, score filtering and non-maximum suppression.

Two tensor layouts (see :class:`~components.common.model_card.DetectionOutput`):

* ``postprocess``: TFLite's ``TFLite_Detection_PostProcess`` op has already run NMS; its four
  outputs are boxes ``[N, 4]`` (ymin, xmin, ymax, xmax), classes ``[N]``, scores ``[N]`` and the
  count of valid rows;
* ``raw``: boxes ``[N, 4]`` and scores ``[N, C]`` (or ``[N]`` for one class) per anchor; the
  host keeps the best class per anchor, drops scores under the threshold and suppresses, per
  class, boxes overlapping a better one by more than the IoU threshold (greedy NMS).

Boxes are normalised to the image ([0, 1]) and returned as ``(ymin, xmin, ymax, xmax)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Detection:
    """One detected object."""

    label: str
    class_id: int
    score: float
    box: tuple[float, float, float, float]  # ymin, xmin, ymax, xmax in [0, 1]

    def to_json(self) -> dict[str, object]:
        """The message form: ``{"label", "classId", "score", "box": [ymin, xmin, ymax, xmax]}``."""
        return {
            "label": self.label,
            "classId": self.class_id,
            "score": round(self.score, 6),
            "box": [round(v, 5) for v in self.box],
        }


def to_yxyx(boxes: np.ndarray, encoding: str) -> np.ndarray:
    """``(N, 4)`` boxes in ``encoding`` (``yxyx``, ``xyxy``, ``cxcywh``) as ymin, xmin, ymax, xmax."""
    if encoding == "yxyx":
        return boxes
    if encoding == "xyxy":
        return boxes[:, [1, 0, 3, 2]]
    cx, cy, w, h = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    return np.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], axis=1)


def iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Intersection over union of one ``(4,)`` yxyx box with each of ``(M, 4)``."""
    ymin = np.maximum(box[0], others[:, 0])
    xmin = np.maximum(box[1], others[:, 1])
    ymax = np.minimum(box[2], others[:, 2])
    xmax = np.minimum(box[3], others[:, 3])
    inter = np.clip(ymax - ymin, 0, None) * np.clip(xmax - xmin, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, limit: int) -> list[int]:
    """Indices kept by greedy NMS, best score first, at most ``limit``."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < limit:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        order = rest[iou(boxes[best], boxes[rest]) <= iou_threshold]
    return keep


def _label(labels: tuple[str, ...] | None, class_id: int) -> str:
    return labels[class_id] if labels is not None and 0 <= class_id < len(labels) else str(class_id)


def decode_raw(
    boxes: np.ndarray,
    scores: np.ndarray,
    *,
    labels: tuple[str, ...] | None,
    encoding: str,
    score_threshold: float,
    iou_threshold: float,
    max_detections: int,
) -> list[Detection]:
    """One item's raw detector outputs (``(N, 4)`` boxes, ``(N, C)`` or ``(N,)`` scores) to detections."""
    yxyx = np.clip(to_yxyx(boxes.reshape(-1, 4).astype(np.float64), encoding), 0.0, 1.0)
    per_class = scores.reshape(yxyx.shape[0], -1)
    class_ids = np.argmax(per_class, axis=1)
    best = per_class[np.arange(per_class.shape[0]), class_ids]
    candidates = np.flatnonzero(best >= score_threshold)
    found: list[Detection] = []
    for class_id in np.unique(class_ids[candidates]):
        mine = candidates[class_ids[candidates] == class_id]
        for k in non_max_suppression(yxyx[mine], best[mine], iou_threshold, max_detections):
            i = int(mine[k])
            box = tuple(float(v) for v in yxyx[i])
            found.append(Detection(_label(labels, int(class_id)), int(class_id), float(best[i]), box))  # type: ignore[arg-type]
    found.sort(key=lambda d: -d.score)
    return found[:max_detections]


def decode_postprocess(
    boxes: np.ndarray,
    classes: np.ndarray,
    scores: np.ndarray,
    count: np.ndarray,
    *,
    labels: tuple[str, ...] | None,
    score_threshold: float,
    max_detections: int,
) -> list[Detection]:
    """One item's ``TFLite_Detection_PostProcess`` outputs to detections (NMS already done)."""
    n = int(np.asarray(count).reshape(-1)[0])
    boxes = boxes.reshape(-1, 4)
    n = max(0, min(n, boxes.shape[0]))
    found = []
    for i in range(n):
        score = float(scores.reshape(-1)[i])
        if score < score_threshold:
            continue
        class_id = round(float(classes.reshape(-1)[i]))
        box = tuple(float(v) for v in np.clip(boxes[i], 0.0, 1.0))
        found.append(Detection(_label(labels, class_id), class_id, score, box))  # type: ignore[arg-type]
    found.sort(key=lambda d: -d.score)
    return found[:max_detections]
