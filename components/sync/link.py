"""The link to the cloud as the uploader sees it: IoT Core connection status plus upload failures.

Two signals: the nucleus' MQTT connection status (SubscribeToIoTCoreConnectionStatus) and the
outcome of our own uploads. A failure that looks like a lost link starts exponential back-off
with full jitter; the next attempt after the back-off is the probe. The link counts as back as
soon as an upload succeeds or the nucleus reports CONNECTED, which also wakes the uploader.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable


class LinkMonitor:
    """Online/offline state with back-off.

    Args:
        initial_backoff: first back-off in seconds.
        max_backoff: back-off cap in seconds.
        clock: monotonic seconds (injectable for tests).
        rng: jitter source (injectable for tests).
    """

    def __init__(
        self,
        initial_backoff: float = 1.0,
        max_backoff: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._mqtt_connected: bool | None = None  # None: not told yet
        self._failures = 0
        self._retry_at = 0.0
        self.wake = threading.Event()
        self.last_error: str | None = None
        self._ever_succeeded = False

    # -- signals ------------------------------------------------------------------------------------
    def mqtt_status(self, connected: bool) -> None:
        """The nucleus reported its IoT Core connection state."""
        with self._lock:
            self._mqtt_connected = connected
            if connected:
                self._failures = 0
                self._retry_at = 0.0
        if connected:
            self.wake.set()

    def succeeded(self) -> None:
        """An upload went through."""
        with self._lock:
            self._failures = 0
            self._retry_at = 0.0
            self.last_error = None
            self._ever_succeeded = True

    def failed(self, error: str) -> float:
        """An upload failed because of the link; returns the back-off chosen (seconds)."""
        with self._lock:
            self._failures += 1
            ceiling = min(self.max_backoff, self.initial_backoff * 2 ** min(self._failures - 1, 30))
            # Full jitter: many devices coming back at once do not retry in step.
            delay = self._rng.uniform(ceiling / 2, ceiling)
            self._retry_at = self._clock() + delay
            self.last_error = error
            return delay

    # -- questions ----------------------------------------------------------------------------------
    def bulk_ready(self) -> bool:
        """Whether an upload to S3 may be attempted now (not in back-off)."""
        with self._lock:
            return self._clock() >= self._retry_at

    def iot_ready(self) -> bool:
        """Whether to hand alerts to the nucleus now: not while it says MQTT is down.

        While disconnected, alerts stay in our durable store instead of the nucleus' spooler
        (which is in memory by default and bounded).
        """
        with self._lock:
            return self._mqtt_connected is not False and self._clock() >= self._retry_at

    def seconds_until_retry(self) -> float:
        """How long the current back-off still lasts (0 if none)."""
        with self._lock:
            return max(0.0, self._retry_at - self._clock())

    def state(self) -> str:
        """``online``, ``offline`` (MQTT down or backing off), or ``unknown`` before any signal."""
        with self._lock:
            if self._mqtt_connected is False or self._failures:
                return "offline"
            if self._mqtt_connected is None and not self._ever_succeeded:
                return "unknown"
            return "online"
