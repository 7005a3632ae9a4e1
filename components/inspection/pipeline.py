"""One frame to one published decision: preprocess, score, decide, actuate, publish, spool.

:class:`Serving` is everything a decision needs, replaced as a whole when the configuration
changes (a model swap is one reference assignment, between two frames). :class:`Inspector`
runs on the inspection thread only; its counters are read by the health thread.
"""

from __future__ import annotations

import dataclasses
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from components.common import topics
from components.common.detections import Detection
from components.common.image_preprocess import Preprocessor
from components.common.image_spool import entry_stem, image_file_name
from components.common.messages import inspection_message
from components.common.model_errors import ModelError
from components.common.model_interpret import Prediction
from components.inspection.actuator import PulseActuator
from components.inspection.cameras.base import Frame
from components.inspection.config import CropConfig, InspectionConfig
from components.inspection.decision import (
    QualityFigures,
    decide,
    decisive_probability,
    detection_counts,
    rejecting_detections,
)
from components.inspection.model import DefectModel
from components.inspection.overlay import draw_boxes
from components.inspection.spool import SpoolWriter

COMPONENT_SOURCE = "inspection"
#: Decision latencies kept for the health message's percentiles.
LATENCY_WINDOW = 1024


class Publisher(Protocol):
    """Where decisions and health go."""

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        """Send ``message`` on ``topic``; must not block for long."""


@dataclass(frozen=True)
class Serving:
    """What decisions are made with; swapped as a whole."""

    config: InspectionConfig
    model: DefectModel
    preprocessor: Preprocessor
    actuator: PulseActuator
    spool: SpoolWriter


def in_frame(prediction: Prediction, crop: CropConfig, frame_shape: tuple[int, ...]) -> Prediction:
    """``prediction`` with its boxes mapped from the crop (what the model saw) to the whole frame."""
    height, width = frame_shape[0], frame_shape[1]

    def mapped(d: Detection) -> Detection:
        ymin, xmin, ymax, xmax = d.box
        box = (
            (crop.y + ymin * crop.height) / height,
            (crop.x + xmin * crop.width) / width,
            (crop.y + ymax * crop.height) / height,
            (crop.x + xmax * crop.width) / width,
        )
        return dataclasses.replace(d, box=box)

    return dataclasses.replace(prediction, detections=tuple(mapped(d) for d in prediction.detections))


class LatencyWindow:
    """The last :data:`LATENCY_WINDOW` latencies in a preallocated ring, for percentiles."""

    def __init__(self, size: int = LATENCY_WINDOW) -> None:
        self._values = np.zeros(size, dtype=np.float64)
        self._count = 0

    def add(self, value_ms: float) -> None:
        """Record one latency."""
        self._values[self._count % len(self._values)] = value_ms
        self._count += 1

    def summary(self) -> dict[str, float | None]:
        """p50/p99/max of the window, ms (``None`` before the first)."""
        n = min(self._count, len(self._values))
        if n == 0:
            return {"p50": None, "p99": None, "max": None}
        window = self._values[:n]
        p50, p99 = np.percentile(window, [50, 99])
        return {
            "p50": round(float(p50), 3),
            "p99": round(float(p99), 3),
            "max": round(float(window.max()), 3),
        }


class Inspector:
    """Makes and publishes decisions.

    Args:
        publisher: where decisions go.
        next_seq: ``next_seq(source, topic)`` sequence numbers.
        clock: wall time.
        sample: a ``random()`` for the good-part sample.
    """

    def __init__(
        self,
        publisher: Publisher,
        next_seq: Callable[[str, str], int],
        clock: Callable[[], float] = time.time,
        sample: Callable[[], float] | None = None,
    ) -> None:
        self._publisher = publisher
        self._next_seq = next_seq
        self._clock = clock
        self._sample = sample or random.Random(0).random
        self._lock = threading.Lock()
        self.quality = QualityFigures()
        self.latency = LatencyWindow()
        self.decisions: dict[str, int] = {"accept": 0, "reject": 0, "review": 0}
        self.uninspected = 0
        self.spooled = 0

    def inspect(self, serving: Serving, frame: Frame, part_id: str | None = None) -> dict[str, Any]:
        """Decide on one frame and publish it; returns the published message.

        Raises:
            FrameError: the frame cannot be preprocessed (nothing is published).
            ModelError: the model refused the input (nothing is published).
        """
        batch = serving.preprocessor(frame.image)
        decision_config = serving.config.decision
        prediction = serving.model.predict(batch)
        if prediction.detections and serving.config.crop is not None:
            prediction = in_frame(prediction, serving.config.crop, frame.image.shape[:2])
        kind = serving.model.kind
        raw = decisive_probability(kind, prediction, decision_config.reject_classes)
        if not math.isfinite(raw):
            # A NaN would compare as "not above the threshold" and accept the part: refuse it.
            raise ModelError(f"{serving.model.path}: non-finite defect probability {raw}")
        probability = min(1.0, max(0.0, raw))
        decision = decide(probability, decision_config.threshold, decision_config.review_threshold)
        actuated = serving.actuator.pulse() if decision == "reject" else False
        part = part_id or frame.name or f"part-{frame.index}"
        seq = self._next_seq(COMPONENT_SOURCE, topics.INSPECTION_DECISIONS)
        spool_config = serving.config.spool
        keep = (
            (decision == "reject" and spool_config.save_rejects)
            or (decision == "review" and spool_config.save_reviews)
            or (decision == "accept" and self._sample() < spool_config.good_sample_rate)
        )
        stem = entry_stem(frame.captured, part, seq) if keep else None
        extra: dict[str, Any] = {}
        if kind == "classification":
            extra["classes"] = prediction.to_json(kind)["classes"]
        elif kind == "detection":
            extra["detections"] = prediction.to_json(kind)["detections"]
            if decision_config.count_detections:
                extra["counts"] = detection_counts(prediction)
        latency_ms = (time.perf_counter() - frame.captured_perf) * 1000.0
        message = inspection_message(
            COMPONENT_SOURCE,
            seq,
            self._clock(),
            part_id=part,
            probability=probability,
            decision=decision,
            model=serving.model.name,
            model_version=serving.model.version,
            latency_ms=round(latency_ms, 3),
            inspected=True,
            capturedTs=frame.captured,
            frame=frame.index,
            actuated=actuated,
            image=image_file_name(stem) if stem else None,
            groundTruth=frame.defect,
            **extra,
        )
        self._publisher.publish(topics.INSPECTION_DECISIONS, message)
        self.latency.add(latency_ms)
        with self._lock:
            self.decisions[decision] += 1
        defective = frame.defective
        if defective is not None:
            self.quality.add(decision, defective)
        if stem is not None:
            image = frame.image
            if prediction.detections:
                # The spooled copy shows what was found: reject-class boxes bright, others dim.
                rejecting = rejecting_detections(prediction, decision_config.reject_classes)
                image = draw_boxes(image, prediction.detections, highlight=rejecting)
            if serving.spool.submit(stem, image, self._metadata(message, frame, image)):
                self.spooled += 1
        return message

    @staticmethod
    def _metadata(message: dict[str, Any], frame: Frame, image: np.ndarray) -> dict[str, Any]:
        height, width = image.shape[:2]
        return {
            **message,
            "ts": frame.captured,
            "width": width,
            "height": height,
            "channels": 1 if image.ndim == 2 else 3,
        }

    def uninspectable(self, serving: Serving, part_id: str, reason: str) -> dict[str, Any]:
        """Publish a ``review`` for a triggered part that could not be inspected (no frame, a bad
        frame, a full trigger queue): every part on the line gets a decision."""
        seq = self._next_seq(COMPONENT_SOURCE, topics.INSPECTION_DECISIONS)
        now = self._clock()
        message = inspection_message(
            COMPONENT_SOURCE,
            seq,
            now,
            part_id=part_id,
            probability=0.0,
            decision="review",
            model=serving.model.name,
            model_version=serving.model.version,
            latency_ms=0.0,
            inspected=False,
            reason=reason,
        )
        self._publisher.publish(topics.INSPECTION_DECISIONS, message)
        with self._lock:
            self.uninspected += 1
        return message

    def metrics(self) -> dict[str, Any]:
        """Decision counts, latency and quality figures for the health message."""
        with self._lock:
            decisions = dict(self.decisions)
            uninspected = self.uninspected
        return {
            "decisions": decisions,
            "uninspected": uninspected,
            "spooled": self.spooled,
            "latencyMs": self.latency.summary(),
            "quality": self.quality.metrics(),
        }
