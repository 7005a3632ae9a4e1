"""Least-squares slope of one metric over a sliding time window.

Why least squares rather than first-vs-last: the slope of a fit uses every reading in the window,
so independent sensor noise averages out (its spread falls like 1/sqrt(n)), whereas the
difference of two readings carries the full noise of both, whatever the window.
Running sums make each reading O(1), so a fast sensor with a long window stays cheap.
"""

from __future__ import annotations

from collections import deque

# Evaluate only once the readings span this share of the window: a few readings a second apart
# would give a noise-dominated slope right after start-up.
MIN_SPAN_FRACTION = 0.5


class WindowTrend:
    """The slope (units per second) of the readings seen in the last ``window_seconds``."""

    def __init__(self, window_seconds: float) -> None:
        self.window_seconds = window_seconds
        self._points: deque[tuple[float, float]] = deque()
        self._base = 0.0  # times are summed relative to this, to keep the sums well conditioned
        self._st = self._sv = self._stt = self._stv = 0.0

    def _add(self, t: float, v: float, sign: float) -> None:
        x = t - self._base
        self._st += sign * x
        self._sv += sign * v
        self._stt += sign * x * x
        self._stv += sign * x * v

    def _rebase(self) -> None:
        self._base = self._points[0][0] if self._points else 0.0
        self._st = self._sv = self._stt = self._stv = 0.0
        for t, v in self._points:
            self._add(t, v, 1.0)

    def add(self, ts: float, value: float) -> float | None:
        """Add a reading (``ts`` after the last one) and return the window's slope, or ``None``
        while the window does not yet hold enough history to judge."""
        if self._points and ts <= self._points[-1][0]:
            return None
        if not self._points:
            self._base = ts
        self._points.append((ts, value))
        self._add(ts, value, 1.0)
        while self._points[0][0] < ts - self.window_seconds:
            old_t, old_v = self._points.popleft()
            self._add(old_t, old_v, -1.0)
        # Subtracting leaves rounding behind; recompute from scratch now and then.
        if ts - self._base > 10 * self.window_seconds:
            self._rebase()
        n = len(self._points)
        if n < 3 or ts - self._points[0][0] < MIN_SPAN_FRACTION * self.window_seconds:
            return None
        sxx = n * self._stt - self._st * self._st
        if sxx <= 0.0:
            return None
        return (n * self._stv - self._st * self._sv) / sxx
