"""Per-sensor sliding windows over readings, and the bounded queue of windows waiting to be scored.

Every reading (a failed one too: its values are ``nan``) enters its sensor's ring; once the
ring is full, every ``hop``-th reading emits a :class:`Window` (a copy, so the ring moves on).
Windows wait in a :class:`WindowQueue` that the model's worker drains in batches: when the
worker falls behind, the next batch is simply bigger (one invoke for many windows), and only
beyond ``capacity`` are the oldest windows dropped, counted, never queued without bound.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Window:
    """One sensor's last ``n`` readings."""

    sensor: str
    temperature: np.ndarray  # (n,) C, nan for a failed read
    humidity: np.ndarray  # (n,) %
    start_ts: float
    end_ts: float
    received: float  # time.perf_counter() when the window's last reading arrived


class _Ring:
    __slots__ = ("count", "h", "pos", "t", "ts")

    def __init__(self, size: int) -> None:
        self.t = np.full(size, np.nan)
        self.h = np.full(size, np.nan)
        self.ts = np.zeros(size)
        self.pos = 0
        self.count = 0


class SlidingWindows:
    """Per-sensor rings of ``size`` readings that emit a window every ``hop`` readings."""

    def __init__(self, size: int, hop: int) -> None:
        self.size = size
        self.hop = hop
        self._rings: dict[str, _Ring] = {}

    def add(self, sensor: str, ts: float, temperature: float | None, humidity: float | None) -> Window | None:
        """Add a reading; return the window it completes, if any."""
        ring = self._rings.get(sensor)
        if ring is None:
            ring = self._rings[sensor] = _Ring(self.size)
        i = ring.pos
        ring.t[i] = np.nan if temperature is None else temperature
        ring.h[i] = np.nan if humidity is None else humidity
        ring.ts[i] = ts
        ring.pos = (i + 1) % self.size
        ring.count += 1
        if ring.count < self.size or (ring.count - self.size) % self.hop:
            return None
        order = np.r_[ring.pos : self.size, 0 : ring.pos]
        return Window(sensor, ring.t[order], ring.h[order], float(ring.ts[order[0]]), ts, time.perf_counter())

    @property
    def sensors(self) -> list[str]:
        """The sensors seen so far."""
        return sorted(self._rings)


class WindowQueue:
    """A bounded FIFO of windows, drained in batches by one worker."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: deque[Window] = deque()
        self._cond = threading.Condition()
        self.dropped = 0
        self.high_water = 0

    def put(self, window: Window) -> None:
        """Queue a window; beyond capacity the oldest one is dropped (and counted)."""
        with self._cond:
            if len(self._items) >= self.capacity:
                self._items.popleft()
                self.dropped += 1
            self._items.append(window)
            self.high_water = max(self.high_water, len(self._items))
            self._cond.notify()

    def take(self, max_items: int, timeout: float) -> list[Window]:
        """Up to ``max_items`` windows, oldest first; waits up to ``timeout`` for the first."""
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            count = min(max_items, len(self._items))
            return [self._items.popleft() for _ in range(count)]

    def wake(self) -> None:
        """Wake a waiting :meth:`take` (used at stop)."""
        with self._cond:
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
