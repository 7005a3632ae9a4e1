"""Byte accounting: a daily byte budget that survives restarts, and a bandwidth cap.

The budget counts every byte uploaded (alerts included) per UTC day and persists after each
upload in the store's ``meta`` table, so a restart does not reset what was spent. When the day's
budget is spent, bulk streams pause until the next UTC day; alerts are never paused by it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

from components.sync.batching import utc_day
from components.sync.store.base import OfflineStore

BUDGET_META_KEY = "budget"


class DailyBudget:
    """Bytes uploaded today against a daily limit (0 = unlimited).

    Args:
        store: where the day's spending is persisted.
        limit_bytes: the daily budget for bulk uploads; 0 means no limit.
        clock: Unix time (injectable for tests).
    """

    def __init__(self, store: OfflineStore, limit_bytes: int, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self.limit_bytes = limit_bytes
        self._day = utc_day(clock())
        self._spent = 0
        raw = store.get_meta(BUDGET_META_KEY)
        if raw:
            try:
                saved = json.loads(raw)
                if saved.get("day") == self._day:
                    self._spent = int(saved.get("bytes", 0))
            except (ValueError, TypeError, AttributeError):
                self._spent = 0  # an unreadable record is treated as nothing spent, and rewritten

    def _roll(self) -> None:
        today = utc_day(self._clock())
        if today != self._day:
            self._day, self._spent = today, 0

    @property
    def spent_today(self) -> int:
        """Bytes uploaded so far this UTC day."""
        with self._lock:
            self._roll()
            return self._spent

    def bulk_allowed(self) -> bool:
        """True while today's budget is not spent (always True without a limit)."""
        with self._lock:
            self._roll()
            return self.limit_bytes == 0 or self._spent < self.limit_bytes

    def record(self, size: int) -> None:
        """Count ``size`` uploaded bytes and persist the day's total."""
        with self._lock:
            self._roll()
            self._spent += size
            state = json.dumps({"day": self._day, "bytes": self._spent})
        self._store.set_meta(BUDGET_META_KEY, state)


class BandwidthLimiter:
    """A token bucket capping upload bytes per second (0 = unlimited).

    Args:
        rate: bytes per second.
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(self, rate: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._available = float(rate)
        self._updated = clock()

    def delay_for(self, size: int) -> float:
        """Take ``size`` bytes from the bucket; return how long to wait before sending them."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        self._available = min(float(self.rate), self._available + (now - self._updated) * self.rate)
        self._updated = now
        self._available -= size
        return 0.0 if self._available >= 0 else -self._available / self.rate

    def acquire(self, size: int, stop: threading.Event) -> bool:
        """Wait (interruptibly) until ``size`` bytes may be sent; False if ``stop`` was set."""
        delay = self.delay_for(size)
        return not (delay > 0 and stop.wait(delay))
