"""The held-out sets and the metrics: one definition for ``train.py`` (manifest figures) and the tests.

Held-out data never overlaps training data: it uses other seeds. Both are regenerated, numpy
only, from these specs, so ``make test`` checks each shipped model on exactly the data the
manifest's figures came from, with the runtime the device uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from models.data.parts import part_dataset
from models.data.sensor_windows import labelled_windows
from models.preprocessing import part_images_v1

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
