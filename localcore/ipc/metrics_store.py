"""PutComponentMetric storage: the metrics components emitted, kept in memory and queryable."""

from __future__ import annotations

import threading
from collections import deque

from localcore.contracts import Metric


class MetricStore:
    """A bounded, thread-safe in-memory list of metrics, oldest dropped first.

    Args:
        capacity: how many metrics to keep (the nucleus aggregates and uploads; locally we keep
            the most recent ones for inspection and tests).
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._metrics: deque[Metric] = deque(maxlen=capacity)

    def add(self, metrics: list[Metric]) -> None:
        """Keep ``metrics``."""
        with self._lock:
            self._metrics.extend(metrics)

    def query(self, component: str | None = None) -> list[Metric]:
        """All kept metrics, oldest first, optionally only ``component``'s."""
        with self._lock:
            return [m for m in self._metrics if component is None or m.component == component]
