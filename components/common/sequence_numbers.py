"""Per-(source, topic) sequence numbers for every component's messages.

Every message the bundle publishes carries ``seq`` (see :mod:`components.common.messages`); the
sync component keys its records by source, stream and ``seq``, so the numbers of one source on one
topic must increase strictly, also across restarts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class SequenceNumbers:
    """Per-(source, topic) sequence numbers, strictly increasing across restarts.

    They start at the current time in microseconds, so a restarted component continues above
    the numbers it used before (the sync component keys records by source, stream and seq)
    without keeping a file, as long as it publishes fewer than a million messages a second.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._base = int(clock() * 1_000_000)
        self._next: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def next(self, source: str, topic: str) -> int:
        """The next number for ``source`` on ``topic``."""
        key = (source, topic)
        with self._lock:
            value = self._next.get(key, self._base)
            self._next[key] = value + 1
            return value
