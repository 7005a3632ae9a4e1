"""The bounded image spool the sync component uploads from.

The entries' format (file names, metadata, write order) is
:mod:`components.common.image_spool`, which the sync component reads with; this module keeps
the folder within its bounds (``docs/spool.md``).

Bounds, checked before every write: at most ``max_entries`` entries and ``max_bytes`` bytes,
the oldest entries removed first; and at least ``min_free_bytes`` left free on the file system
whatever else is there: if removing every entry of ours cannot keep that floor, the new image
is dropped (and counted), never written. The sync component removes entries it uploaded, so
the spool re-reads the folder when its own count says a bound is reached, and every
``rescan_s`` seconds.

:class:`SpoolWriter` runs the writes on their own thread behind a bounded queue, so encoding and
disk time never delay a decision.
"""

from __future__ import annotations

import collections
import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from components.common.image_spool import entry_sizes, evict_entry, leftovers, metadata_document, write_entry
from components.common.logs import kv
from components.inspection.exceptions import SpoolWriteError
from components.inspection.png import encode_png

log = logging.getLogger(__name__)

DiskUsage = Callable[[Path], Any]  # shutil.disk_usage: an object with .free


class ImageSpool:
    """The spool folder and its bounds (not thread-safe: one writer thread).

    Args:
        directory: the spool folder (created if missing).
        max_bytes, max_entries, min_free_bytes: the bounds (see the module docstring).
        disk_usage: ``shutil.disk_usage`` (tests pass a fake disk).
        rescan_s: longest time between two re-reads of the folder.
    """

    def __init__(
        self,
        directory: Path | str,
        *,
        max_bytes: int,
        max_entries: int,
        min_free_bytes: int,
        disk_usage: DiskUsage = shutil.disk_usage,
        rescan_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.min_free_bytes = min_free_bytes
        self._disk_usage = disk_usage
        self._rescan_s = rescan_s
        self._clock = clock
        self._entries: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._bytes = 0
        self._scanned_at = 0.0
        self.written = 0
        self.evicted = 0
        self.dropped_low_disk = 0
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise SpoolWriteError(f"cannot create the spool folder {self.directory}: {err}") from err
        self._clean_leftovers()
        self.rescan()

    def _clean_leftovers(self) -> None:
        """Remove what a crash mid-write leaves: temporary files and images without metadata."""
        for path in list(leftovers(self.directory)):
            path.unlink(missing_ok=True)

    def rescan(self) -> None:
        """Re-read the folder: entries removed by the uploader are no longer counted."""
        sizes = entry_sizes(self.directory)
        # Stems start with the capture time in milliseconds, so name order is capture order.
        self._entries = collections.OrderedDict((stem, sizes[stem]) for stem in sorted(sizes))
        self._bytes = sum(sizes.values())
        self._scanned_at = self._clock()

    @property
    def entries(self) -> int:
        """Entries counted in the spool."""
        return len(self._entries)

    @property
    def bytes(self) -> int:
        """Bytes counted in the spool."""
        return self._bytes

    def _evict_oldest(self) -> int:
        stem, size = self._entries.popitem(last=False)
        evict_entry(self.directory, stem)
        self._bytes -= size
        self.evicted += 1
        return size

    def _make_room(self, size: int) -> bool:
        over = len(self._entries) + 1 > self.max_entries or self._bytes + size > self.max_bytes
        if over or self._clock() - self._scanned_at > self._rescan_s:
            self.rescan()
        while self._entries and (
            len(self._entries) + 1 > self.max_entries or self._bytes + size > self.max_bytes
        ):
            self._evict_oldest()
        if size > self.max_bytes:
            return False
        free = int(self._disk_usage(self.directory).free)
        while free - size < self.min_free_bytes:
            if not self._entries:
                return False
            free += self._evict_oldest()
        return True

    def write(self, stem: str, image: np.ndarray, metadata: dict[str, Any]) -> bool:
        """Store one entry; returns False if it was dropped to keep the free-space floor.

        Raises:
            SpoolWriteError: the files could not be written (the entry is not left half-written).
            ValueError: the image is not 8-bit grayscale/RGB.
        """
        png = encode_png(image)
        document = metadata_document(stem, metadata)
        size = len(png) + len(document)
        if not self._make_room(size):
            self.dropped_low_disk += 1
            return False
        try:
            write_entry(self.directory, stem, png, document)
        except OSError as err:
            raise SpoolWriteError(f"cannot write spool entry {stem} in {self.directory}: {err}") from err
        self._entries[stem] = size
        self._bytes += size
        self.written += 1
        return True

    def metrics(self) -> dict[str, Any]:
        """Counts for the health message."""
        return {
            "dir": str(self.directory),
            "entries": len(self._entries),
            "bytes": self._bytes,
            "written": self.written,
            "evicted": self.evicted,
            "droppedLowDisk": self.dropped_low_disk,
        }


class SpoolWriter:
    """Writes entries to an :class:`ImageSpool` on its own thread, from a bounded queue."""

    def __init__(self, spool: ImageSpool, max_queued: int = 64) -> None:
        self.spool = spool
        self._queue: queue.Queue[tuple[str, np.ndarray, dict[str, Any]] | None] = queue.Queue(max_queued)
        self._lock = threading.Lock()
        self.dropped_queue_full = 0
        self.errors = 0
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name="inspection-spool", daemon=True)
        self._thread.start()

    def submit(self, stem: str, image: np.ndarray, metadata: dict[str, Any]) -> bool:
        """Queue an entry; returns False (and counts it) if the queue is full."""
        try:
            self._queue.put_nowait((stem, image, metadata))
        except queue.Full:
            with self._lock:
                self.dropped_queue_full += 1
            return False
        return True

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                stem, image, metadata = item
                try:
                    self.spool.write(stem, image, metadata)
                except (SpoolWriteError, ValueError, OSError) as err:
                    with self._lock:
                        self.errors += 1
                        first = self.last_error != str(err)
                        self.last_error = str(err)
                    if first:
                        log.warning(kv(event="spool_write_failed", error=err))
            finally:
                self._queue.task_done()

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until every queued entry is written (or ``timeout``); True if all were."""
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._queue.all_tasks_done.wait(remaining)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (up to ``timeout``) and stop the thread."""
        self.drain(timeout)
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def metrics(self) -> dict[str, Any]:
        """The spool's counts and the writer's."""
        with self._lock:
            return {
                **self.spool.metrics(),
                "queued": self._queue.qsize(),
                "droppedQueueFull": self.dropped_queue_full,
                "errors": self.errors,
                "lastError": self.last_error,
            }
