"""The reject decision and the running quality figures against ground truth.

A probability above ``threshold`` rejects the part; from ``review_threshold`` up to and
including ``threshold`` it is flagged for a person to look at; below, accepted. With
``review_threshold == threshold`` there is no uncertain band.

:func:`decisive_probability` says which probability that is for each kind of model card: the
score; the winning class's probability when it is a reject class (0 otherwise); the best score
among detections of a reject class (0 when there is none). :func:`check_reject_classes` holds
the configured classes to the card's labels when a configuration is applied.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Literal

from components.common.detections import Detection
from components.common.model_card import LoadedCard
from components.common.model_interpret import Prediction

Decision = Literal["accept", "reject", "review"]


def check_reject_classes(card: LoadedCard, reject_classes: tuple[str, ...]) -> str | None:
    """Why ``decision.rejectClasses`` does not fit the card, or ``None``."""
    kind = card.card.output.kind
    if kind in ("classification", "detection"):
        assert card.labels is not None
        if not reject_classes:
            return f"decision.rejectClasses: a {kind} model needs the labels that reject, one of {list(card.labels)}"
        unknown = [c for c in reject_classes if c not in card.labels]
        if unknown:
            return f"decision.rejectClasses: {unknown} are not labels of {card.source}; expected some of {list(card.labels)}"
        return None
    if kind == "raw":
        return f"model card {card.source}: output kind 'raw' gives no decision; use score, classification or detection"
    if reject_classes:
        return f"decision.rejectClasses: a {kind} model has no classes; leave it empty"
    return None


def decisive_probability(kind: str, prediction: Prediction, reject_classes: tuple[str, ...]) -> float:
    """The probability the decision is made on (see the module docstring)."""
    if kind == "score":
        return float(prediction.score if prediction.score is not None else float("nan"))
    if kind == "classification":
        label, probability = prediction.classes[0]
        return probability if label in reject_classes else 0.0
    if kind == "detection":
        scores = [d.score for d in prediction.detections if d.label in reject_classes]
        return max(scores, default=0.0)
    return 0.0


def rejecting_detections(prediction: Prediction, reject_classes: tuple[str, ...]) -> list[Detection]:
    """The detections of a reject class, best first."""
    return [d for d in prediction.detections if d.label in reject_classes]


def detection_counts(prediction: Prediction) -> dict[str, int]:
    """Detections per label in one frame (shelf counting)."""
    return dict(sorted(Counter(d.label for d in prediction.detections).items()))


def decide(probability: float, threshold: float, review_threshold: float) -> Decision:
    """The decision for one part's defect probability (see the module docstring)."""
    if probability > threshold:
        return "reject"
    if probability >= review_threshold and review_threshold < threshold:
        return "review"
    return "accept"


class QualityFigures:
    """Running counts of decisions against ground truth (a defective part is a positive).

    ``escapes`` (false accepts) are defective parts that went down the line; ``falseRejects``
    are good parts thrown out. Reviews are counted by truth, apart from both.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.true_rejects = 0
        self.false_rejects = 0
        self.true_accepts = 0
        self.false_accepts = 0
        self.reviews_defective = 0
        self.reviews_good = 0

    def add(self, decision: Decision, defective: bool) -> None:
        """Count one decision on a part whose truth is known."""
        with self._lock:
            if decision == "reject":
                if defective:
                    self.true_rejects += 1
                else:
                    self.false_rejects += 1
            elif decision == "accept":
                if defective:
                    self.false_accepts += 1
                else:
                    self.true_accepts += 1
            elif defective:
                self.reviews_defective += 1
            else:
                self.reviews_good += 1

    def metrics(self) -> dict[str, Any]:
        """Counts and rates for the health message (rates are ``None`` until defined)."""
        with self._lock:
            tr, fr, ta, fa = self.true_rejects, self.false_rejects, self.true_accepts, self.false_accepts
            rd, rg = self.reviews_defective, self.reviews_good
        defective, good = tr + fa + rd, ta + fr + rg
        precision = tr / (tr + fr) if tr + fr else None
        recall = tr / (tr + fa) if tr + fa else None
        f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
        return {
            "scored": defective + good,
            "trueRejects": tr,
            "falseRejects": fr,
            "trueAccepts": ta,
            "falseAccepts": fa,
            "reviewsDefective": rd,
            "reviewsGood": rg,
            "escapeRate": fa / defective if defective else None,
            "falseRejectRate": fr / good if good else None,
            "reviewRate": (rd + rg) / (defective + good) if defective + good else None,
            "precision": precision,
            "recall": recall,
            "f1": f1,
        }
