"""Notices of committed changes, delivered in commit order and outside the lock that committed them.

The configuration store and the shadow store both commit a change under their lock and must then
tell others (IPC subscribers, listeners, topic publications). Telling them while holding the lock
would deadlock a callback that reads the store back; telling them after letting go lets two
threads' notices overtake each other. :class:`OrderedOutbox` keeps commit order: a notice is
queued under the owner's lock, and whichever caller of :meth:`OrderedOutbox.drain` finds nobody
delivering delivers everything queued, in order, outside the lock; the other callers return at once
(their notices are delivered by the thread already draining).

Example::

    with self._lock:
        self._apply(change)
        self._outbox.append(notice)
    self._outbox.drain(prepare=lambda notice: (notice, list(self._listeners)), deliver=self._tell)
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

ItemT = TypeVar("ItemT")
PreparedT = TypeVar("PreparedT")


class OrderedOutbox(Generic[ItemT]):
    """Items queued under the owner's ``lock`` and delivered one at a time, in queue order.

    Args:
        lock: the owner's lock; :meth:`append` is called while holding it, :meth:`drain` without it.
    """

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._items: deque[ItemT] = deque()
        self._draining = False

    def __len__(self) -> int:
        return len(self._items)

    def append(self, item: ItemT) -> None:
        """Queue ``item``; the caller holds the owner's lock, so queue order is commit order."""
        self._items.append(item)

    def drain(self, prepare: Callable[[ItemT], PreparedT], deliver: Callable[[PreparedT], None]) -> None:
        """Deliver everything queued unless another thread is already doing so.

        Args:
            prepare: called under the lock for each item as it is taken (to snapshot who to tell).
            deliver: called outside the lock with what ``prepare`` returned.

        Raises:
            BaseException: whatever ``deliver`` raised; the outbox is left ready for the next drain,
                which delivers what is still queued.
        """
        with self._lock:
            if self._draining:
                return
            self._draining = True
        while True:
            with self._lock:
                if not self._items:
                    # Cleared under the same lock as the emptiness check, so nothing is stranded.
                    self._draining = False
                    return
                prepared = prepare(self._items.popleft())
            try:
                deliver(prepared)
            except BaseException:
                with self._lock:
                    self._draining = False
                raise
