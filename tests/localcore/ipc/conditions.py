"""Waiting on conditions (never sleeping) in the IPC tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


def wait_until(condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)


class Collector:
    """Stream events and closes from a subscription, with waits."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.events: list[Any] = []
        self.closed = False
        self.errors: list[Exception] = []

    def on_event(self, event: Any) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def on_error(self, error: Exception) -> bool:
        with self._cond:
            self.errors.append(error)
            self._cond.notify_all()
        return True

    def on_closed(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def handlers(self) -> dict[str, Any]:
        """Keyword arguments for a V2 subscribe call."""
        return {
            "on_stream_event": self.on_event,
            "on_stream_error": self.on_error,
            "on_stream_closed": self.on_closed,
        }

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.events) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} events, got {len(self.events)}: {self.events}")
                self._cond.wait(left)
            return list(self.events)

    def wait_closed(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("the stream was not closed")
                self._cond.wait(left)
