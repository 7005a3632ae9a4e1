"""The reject decision and the running quality figures against ground truth.

A probability above ``threshold`` rejects the part; from ``review_threshold`` up to and
including ``threshold`` it is flagged for a person to look at; below, accepted. With
``review_threshold == threshold`` there is no uncertain band.
"""

from __future__ import annotations

import threading
from typing import Any, Literal

Decision = Literal["accept", "reject", "review"]


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
