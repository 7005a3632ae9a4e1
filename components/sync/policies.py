"""Per-stream policies applied before a record is stored: deadband filtering and the disk watermark.

Size limits (``maxBytes`` with ``RejectNewData`` / ``OverwriteOldestData``) are applied by the
store inside the commit, because only it knows what each stream holds; this module turns the
policies into the :class:`StreamLimits` it needs.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.sync.config import StreamPolicy
from components.sync.store.base import StreamLimits


@dataclass
class _LastKept:
    ts: float
    values: dict[str, Any]
    quality: Any


class DeadbandFilter:
    """Decides whether a reading is significant enough to keep (per source).

    A reading is kept when any field named in the policy's ``deadband`` moved by at least its
    threshold since the last kept reading of the same source, when a field appears, disappears or
    becomes null, when the quality changes, or when ``heartbeatSeconds`` passed since the last kept
    one (so a flat signal still shows it is alive). The first reading of a source is always kept.

    Example:
        >>> from components.sync.config import StreamPolicy
        >>> policy = StreamPolicy(upload="deadband", deadband={"t": 0.5}, heartbeatSeconds=60)
        >>> band = DeadbandFilter()
        >>> [band.keep(policy, {"source": "s", "ts": ts, "values": {"t": v}, "quality": "good"})
        ...  for ts, v in [(0, 20.0), (1, 20.2), (2, 20.6), (70, 20.6)]]
        [True, False, True, True]
    """

    def __init__(self) -> None:
        self._last: dict[str, _LastKept] = {}

    def keep(self, policy: StreamPolicy, message: dict[str, Any]) -> bool:
        """Whether ``message`` passes the policy's deadband (always True for ``upload: all``)."""
        if policy.upload != "deadband":
            return True
        source = str(message.get("source"))
        values = message.get("values")
        if not isinstance(values, dict):
            return True
        ts = float(message.get("ts") or 0.0)
        quality = message.get("quality")
        last = self._last.get(source)
        if last is None or self._significant(policy, last, ts, values, quality):
            self._last[source] = _LastKept(ts, dict(values), quality)
            return True
        return False

    @staticmethod
    def _significant(
        policy: StreamPolicy, last: _LastKept, ts: float, values: dict[str, Any], quality: Any
    ) -> bool:
        if ts - last.ts >= policy.heartbeat_seconds or ts < last.ts or quality != last.quality:
            return True
        if values.keys() != last.values.keys():
            return True
        for name, value in values.items():
            before = last.values[name]
            if (value is None) != (before is None):
                return True
            if value is None or before is None:
                continue
            threshold = policy.deadband.get(name)
            if threshold is None:
                continue  # a field without a threshold never triggers on its own
            if not (math.isfinite(value) and math.isfinite(before)) or abs(value - before) >= threshold:
                return True
        return False

    def forget(self, source: str) -> None:
        """Drop the remembered state of one source (the next reading is kept)."""
        self._last.pop(source, None)


class DiskGuard:
    """Whether free disk space under the store is above the watermark (re-checked at most once a second).

    Args:
        path: a path on the store's file system.
        watermark_bytes: below this much free space bulk streams stop growing.
        free_bytes: how free space is measured (injectable for tests).
    """

    def __init__(
        self,
        path: Path,
        watermark_bytes: int,
        free_bytes: Callable[[Path], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self.watermark_bytes = watermark_bytes
        self._free_bytes = free_bytes or (lambda p: shutil.disk_usage(p).free)
        self._clock = clock
        self._checked_at = -math.inf
        self._ok = True

    def ok(self) -> bool:
        """True while free space is at or above the watermark."""
        now = self._clock()
        if now - self._checked_at >= 1.0:
            self._checked_at = now
            self._ok = self._free_bytes(self._path) >= self.watermark_bytes
        return self._ok


def store_limits(policies: dict[str, StreamPolicy], disk_ok: bool) -> dict[str, StreamLimits]:
    """The limits the store applies to each stream; bulk streams accept nothing while disk is low."""
    return {
        stream: StreamLimits(
            max_bytes=policy.max_bytes,
            overwrite_oldest=policy.strategy_on_full == "OverwriteOldestData",
            accept=disk_ok or not policy.is_bulk,
        )
        for stream, policy in policies.items()
    }
