"""Publishing to the local pub/sub without waiting for each acknowledgement, but never unboundedly.

A synchronous ``PublishToTopic`` waits one IPC round trip per message, which caps a sensor at a
few thousand readings a second; the async form pipelines them. A semaphore bounds the messages in
flight, so a slow core makes the sensor loop wait (back-pressure) instead of queueing without limit.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from typing import Any

from components.common.ipc import ComponentIpc
from components.common.logs import kv

log = logging.getLogger(__name__)


class IpcPublisher:
    """Publishes JSON messages through :meth:`ComponentIpc.publish_json_async`.

    Args:
        ipc: the component's IPC wrapper.
        max_in_flight: messages sent but not yet acknowledged before :meth:`publish` waits.
        wait_s: longest a publish waits for room before the message is counted as dropped.
    """

    def __init__(self, ipc: ComponentIpc, max_in_flight: int = 64, wait_s: float = 5.0) -> None:
        self._ipc = ipc
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._max_in_flight = max_in_flight
        self._wait_s = wait_s
        self._lock = threading.Lock()
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.last_error: str | None = None

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        """Send ``message``; waits only while ``max_in_flight`` messages are unacknowledged."""
        if not self._slots.acquire(timeout=self._wait_s):
            with self._lock:
                self.dropped += 1
            log.warning(kv(event="publish_dropped", topic=topic, reason="core not acknowledging"))
            return
        try:
            future = self._ipc.publish_json_async(topic, message)
        except Exception as err:
            self._slots.release()
            self._record_failure(topic, err)
            return
        future.add_done_callback(lambda done: self._done(topic, done))

    def _done(self, topic: str, future: Future[Any]) -> None:
        self._slots.release()
        error = future.exception()
        if error is None:
            with self._lock:
                self.sent += 1
        else:
            self._record_failure(topic, error)

    def _record_failure(self, topic: str, error: BaseException) -> None:
        with self._lock:
            self.failed += 1
            first = self.failed == 1 or self.last_error != repr(error)
            self.last_error = repr(error)
        if first:  # one line per new kind of failure, not one per message
            log.warning(kv(event="publish_failed", topic=topic, error=repr(error)))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every message sent has been acknowledged (or ``timeout``); True if all were."""
        taken = 0
        ok = True
        for _ in range(self._max_in_flight):
            if not self._slots.acquire(timeout=timeout):
                ok = False
                break
            taken += 1
        for _ in range(taken):
            self._slots.release()
        return ok

    def metrics(self) -> dict[str, Any]:
        """Counts for the health message."""
        with self._lock:
            return {
                "sent": self.sent,
                "failed": self.failed,
                "dropped": self.dropped,
                "lastError": self.last_error,
            }
