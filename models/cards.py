"""The model cards of the shipped models, written into ``models/manifest.json`` by ``train.py``.

Each is validated by :func:`components.common.model_card.parse_card` before it is written, and
again at load on the device. The detector's tensor indices are read from the converted file
(the converter does not promise the Keras output order), see :func:`detector_card`.
"""

from __future__ import annotations

from typing import Any

from components.common.model_card import CARD_SCHEMA, parse_card


def sensor_anomaly_card(version: str, threshold: float) -> dict[str, Any]:
    """The 1-D CNN over 64-reading windows of one DHT22."""
    return {
        "schema": CARD_SCHEMA,
        "name": "sensor_anomaly",
        "version": version,
        "description": "does a 64-reading window of one DHT22 show an injected anomaly",
        "input": {
            "source": "sensorWindow",
            "fields": ["temperature", "humidity"],
            "length": 64,
            "preprocessing": "sensor_window_v1",
        },
        "output": {"kind": "score", "tensor": 0, "threshold": threshold},
    }


def part_defect_card(version: str, threshold: float) -> dict[str, Any]:
    """The 2-D CNN over 64x64 grey part images, pixels scaled to [0, 1]."""
    return {
        "schema": CARD_SCHEMA,
        "name": "part_defect",
        "version": version,
        "description": "is a 64x64 grayscale part image defective",
        "input": {
            "source": "image",
            "colour": "grey",
            "layout": "nhwc",
            "normalisation": {"range": [0.0, 1.0]},
        },
        "output": {"kind": "score", "tensor": 0, "threshold": threshold},
    }


def shelf_products_card(version: str, labels: tuple[str, ...]) -> dict[str, Any]:
    """The 96x96 RGB product classifier, pixels scaled to [-1, 1]."""
    return {
        "schema": CARD_SCHEMA,
        "name": "shelf_products",
        "version": version,
        "description": "which product (or none) is on a 96x96 RGB shelf image",
        "input": {
            "source": "image",
            "colour": "rgb",
            "layout": "nhwc",
            "normalisation": {"range": [-1.0, 1.0]},
        },
        "output": {
            "kind": "classification",
            "tensor": 0,
            "activation": "softmax",
            "labels": list(labels),
            "topK": 3,
        },
    }


def detector_card(
    version: str, labels: tuple[str, ...], boxes: int, scores: int, score_threshold: float
) -> dict[str, Any]:
    """The 96x96 RGB product detector: raw boxes and per-class scores, NMS by the host."""
    return {
        "schema": CARD_SCHEMA,
        "name": "shelf_detector",
        "version": version,
        "description": "cans and boxes on a 96x96 RGB shelf image, with their boxes",
        "input": {
            "source": "image",
            "colour": "rgb",
            "layout": "nhwc",
            "normalisation": {"range": [-1.0, 1.0]},
        },
        "output": {
            "kind": "detection",
            "format": "raw",
            "labels": list(labels),
            "boxes": boxes,
            "scores": scores,
            "classes": None,
            "count": None,
            "boxEncoding": "yxyx",
            "scoreThreshold": score_threshold,
            "iouThreshold": 0.4,
            "maxDetections": 10,
        },
    }


def checked(card: dict[str, Any]) -> dict[str, Any]:
    """``card`` after validating it as the device will."""
    parse_card(card, f"models/train.py card {card.get('name')}")
    return card
