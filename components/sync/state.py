"""What the sync component reports: the ``sync`` shadow's ``reported`` state and the status topic.

``reported`` (next to LiveConfig's ``config`` / ``status`` / ``error``)::

    {"backlog": {"readings": {"records": 120, "bytes": 20480, "oldestAgeSeconds": 12.5,
                              "unconfirmed": 0}, ...},
     "lastUpload": "2026-11-28T12:00:00Z" | null, "bytesToday": 1234, "dailyByteBudget": 0,
     "budgetPaused": false, "link": "online" | "offline" | "unknown", "linkError": null,
     "policies": {"readings": {...StreamPolicy...}, ...},
     "counters": {"readings": {"stored": 10, "duplicates": 0, "expired": 0, ...},
                  "alerts": {"delivered": 4, "resent": 2, "retentionCapped": 0, ...}, ...},
     "storeIncident": null | "…moved to sync.db.unusable-…"}

The status topic carries the same document without ``policies``: they echo the configuration
(unbounded maps such as ``deadband``), and a local message must stay within nucleus lite's
limits (``components.common.wire_limits``); the shadow, where it exists, keeps them.

``records`` is what still waits to be sent; ``unconfirmed`` counts sent alerts kept for a re-send
(see :mod:`components.sync.uploader`); ``resent`` counts the re-sends.

Because local shadows sync to the cloud, operators see every device's backlog from the cloud.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from components.common import topics
from components.common.exceptions import ShadowUnavailableError
from components.common.logs import kv
from components.common.messages import health_message
from components.common.structs import to_json_dict
from components.sync.budget import DailyBudget
from components.sync.config import StreamPolicy
from components.sync.link import LinkMonitor
from components.sync.store.base import OfflineStore

log = logging.getLogger(__name__)


class StatusPublisher(Protocol):
    """The part of :class:`~components.common.ipc.ComponentIpc` the reporter uses."""

    def publish_json(self, topic: str, message: dict[str, Any]) -> None: ...

    def update_shadow(self, shadow: str, document: dict[str, Any]) -> dict[str, Any]: ...


def iso(ts: float | None) -> str | None:
    """A Unix time as ``YYYY-MM-DDTHH:MM:SSZ`` (None stays None)."""
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def status_document(
    store: OfflineStore,
    link: LinkMonitor,
    budget: DailyBudget,
    policies: dict[str, StreamPolicy],
    last_upload: float | None,
    budget_paused: bool,
    store_incident: str | None,
    now: float,
) -> dict[str, Any]:
    """The reported state (see the module docstring)."""
    held = store.backlog()
    sent = store.unconfirmed()
    backlog = {}
    for stream in policies:
        entry = held.get(stream)
        backlog[stream] = {
            "records": entry.records if entry else 0,
            "bytes": entry.bytes if entry else 0,
            "oldestAgeSeconds": (
                round(max(0.0, now - entry.oldest_received), 3)
                if entry and entry.oldest_received is not None
                else None
            ),
            "unconfirmed": sent.get(stream, 0),
        }
    return {
        "backlog": backlog,
        "lastUpload": iso(last_upload),
        "bytesToday": budget.spent_today,
        "dailyByteBudget": budget.limit_bytes,
        "budgetPaused": budget_paused,
        "link": link.state(),
        "linkError": link.last_error,
        "policies": {s: to_json_dict(p) for s, p in policies.items()},
        "counters": store.counters(),
        "storeIncident": store_incident,
    }


def status_message(document: dict[str, Any]) -> dict[str, Any]:
    """The status topic's metrics: the reported document without its ``policies`` (see above)."""
    return {key: value for key, value in document.items() if key != "policies"}


class StatusReporter:
    """Publishes the status on ``topics.SYNC_STATUS`` and writes it to the ``sync`` shadow.

    Args:
        publisher: the component's IPC wrapper.
        build: returns the current status document.
        clock: Unix time.
    """

    def __init__(
        self,
        publisher: StatusPublisher,
        build: Callable[[], dict[str, Any]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._publisher = publisher
        self._build = build
        self._clock = clock
        self._seq = 0
        self._shadow_unavailable = False

    def report(self) -> dict[str, Any]:
        """Build, publish and write the status once; failures are logged, never raised."""
        document = self._build()
        self._seq += 1
        try:
            self._publisher.publish_json(
                topics.SYNC_STATUS, health_message("sync", self._seq, self._clock(), status_message(document))
            )
        except Exception as err:
            log.warning(kv(event="status_publish_failed", error=repr(err)))
        try:
            self._publisher.update_shadow(topics.SHADOW_SYNC, {"state": {"reported": document}})
            self._shadow_unavailable = False
        except ShadowUnavailableError as err:
            # A core without shadows (nucleus lite) refuses every report: say so once, not each time.
            if not self._shadow_unavailable:
                self._shadow_unavailable = True
                log.warning(kv(event="shadow_report_unavailable", shadow=topics.SHADOW_SYNC, error=err))
        except Exception as err:
            log.warning(kv(event="shadow_report_failed", error=repr(err)))
        return document
