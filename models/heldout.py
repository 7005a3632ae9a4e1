"""The held-out sets and the metrics: one definition for ``train.py`` (manifest figures) and the tests.

Held-out data never overlaps training data: it uses other seeds. Both are regenerated, numpy
only, from these specs, so ``make test`` checks each shipped model on exactly the data the
manifest's figures came from, with the runtime the device uses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from components.common.preprocessing import part_images_v1
from components.inspection.cameras.parts import part_dataset
from models.data.sensor_windows import labelled_windows

SENSOR_HELDOUT = {"seed": 90_001, "segments": 8, "samples_per_segment": 2500, "stride": 4}
PARTS_HELDOUT = {"seed": 90_002, "count": 2000, "defect_rate": 0.5}


@dataclass(frozen=True)
class HeldOut:
    """Preprocessed inputs and 0/1 labels."""

    x: np.ndarray
    y: np.ndarray


def sensor_heldout() -> HeldOut:
    """The sensor-window held-out set (ambiguous windows left out, see ``sensor_windows``)."""
    data = labelled_windows(**SENSOR_HELDOUT)  # type: ignore[arg-type]
    return HeldOut(data.x, data.y)


def parts_heldout() -> HeldOut:
    """2,000 held-out parts, half of them defective."""
    images, labels, _ = part_dataset(**PARTS_HELDOUT)  # type: ignore[arg-type]
    return HeldOut(part_images_v1(images), labels)


HELDOUT: dict[str, Callable[[], HeldOut]] = {"sensor_anomaly": sensor_heldout, "part_defect": parts_heldout}


def binary_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Accuracy, precision, recall and F1 of ``scores >= threshold`` against 0/1 ``labels``."""
    predicted = np.asarray(scores).reshape(-1) >= threshold
    truth = np.asarray(labels).reshape(-1) == 1
    tp = float(np.sum(predicted & truth))
    fp = float(np.sum(predicted & ~truth))
    fn = float(np.sum(~predicted & truth))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": float(np.mean(predicted == truth)),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "samples": float(len(truth)),
        "positives": float(np.sum(truth)),
    }


# The shelf models: scored through the host's own interpretation (top-1 class; decoded, NMS'd boxes).
SHELF_PRODUCTS_HELDOUT = {"seed": 90_003, "count": 1200}
SHELF_DETECTOR_HELDOUT = {"seed": 90_004, "count": 600}
DETECTION_IOU = 0.5


def classification_metrics(predicted: np.ndarray, labels: np.ndarray, n_classes: int) -> dict[str, float]:
    """Top-1 accuracy, macro F1 and the worst class's recall of predicted label indices."""
    predicted = np.asarray(predicted).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    f1s, recalls = [], []
    for k in range(n_classes):
        tp = float(np.sum((predicted == k) & (labels == k)))
        fp = float(np.sum((predicted == k) & (labels != k)))
        fn = float(np.sum((predicted != k) & (labels == k)))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
        recalls.append(recall)
    return {
        "accuracy": float(np.mean(predicted == labels)),
        "macro_f1": float(np.mean(f1s)),
        "min_recall": float(min(recalls)),
        "samples": float(len(labels)),
    }


def _box_iou(a: np.ndarray, b: np.ndarray) -> float:
    ymin, xmin = max(a[0], b[0]), max(a[1], b[1])
    ymax, xmax = min(a[2], b[2]), min(a[3], b[3])
    inter = max(ymax - ymin, 0.0) * max(xmax - xmin, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def detector_batch_metrics(
    predictions: Sequence[Any], boxes: list[np.ndarray], classes: list[np.ndarray]
) -> dict[str, float]:
    """Precision, recall and F1 of detections against ground truth: a match is the same class at IoU >= 0.5.

    ``predictions`` are :class:`components.common.model_host.Prediction` (``.detections``);
    each true object is matched at most once, greedily by score. ``count_accuracy``: the share
    of images whose detection count per class is exactly right (shelf counting).
    """
    tp = fp = fn = 0
    counts_right = 0
    for prediction, true_boxes, true_classes in zip(predictions, boxes, classes, strict=True):
        used = [False] * len(true_boxes)
        for detection in prediction.detections:
            best, best_iou = -1, DETECTION_IOU
            for j, (box, cls) in enumerate(zip(true_boxes, true_classes, strict=True)):
                overlap = _box_iou(np.asarray(detection.box), box)
                if not used[j] and int(cls) == detection.class_id and overlap >= best_iou:
                    best, best_iou = j, overlap
            if best >= 0:
                used[best] = True
                tp += 1
            else:
                fp += 1
        fn += used.count(False)
        found = sorted(d.class_id for d in prediction.detections)
        counts_right += int(found == sorted(int(c) for c in true_classes))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "count_accuracy": counts_right / max(len(predictions), 1),
        "objects": float(tp + fn),
        "samples": float(len(predictions)),
    }
