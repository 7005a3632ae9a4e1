"""The periodic health report every component publishes: one thread, one loop, defined once.

:class:`HealthLoop` calls ``publish`` every ``interval()`` seconds (read afresh each time, so a
configuration change applies from the next report) until ``stop`` is set. A failing publish is
logged and the loop goes on: health must never end the component.

Example::

    loop = HealthLoop("inference-health", component.publish_health, lambda: config.health_interval_seconds, stop)
    loop.start()
    ...
    stop.set(); loop.join(2.0)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from components.common.logs import kv

log = logging.getLogger(__name__)

#: Before a configuration is applied.
DEFAULT_INTERVAL_SECONDS = 10.0


class HealthLoop:
    """A daemon thread publishing health; see the module docstring."""

    def __init__(
        self, name: str, publish: Callable[[], None], interval: Callable[[], float], stop: threading.Event
    ) -> None:
        self._publish = publish
        self._interval = interval
        self._stop = stop
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start publishing."""
        self.thread.start()

    def join(self, timeout: float) -> None:
        """Wait for the loop to end (after ``stop`` is set)."""
        if self.thread.is_alive():
            self.thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self._interval()):
            try:
                self._publish()
            except Exception as err:  # a failed report must not end the loop
                log.warning(kv(event="health_failed", error=repr(err)))
