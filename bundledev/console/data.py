"""What the console shows of the bundle's own traffic: readings, alerts, scores, decisions, sync.

Fed one local pub/sub message at a time (the same IPC subscription as the terminal view, see
:mod:`bundledev.live_view`) and read by the web app. Every stored point gets a sequence number so
each browser asks only for what it has not seen (:meth:`ConsoleData.changes_since`); history is
bounded (``history`` points per series), so an unwatched console holds a fixed amount of memory.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass, field
from typing import Any

from components.common import topics
from components.common.messages import MessageError, iter_readings

DEFAULT_HISTORY = 600
INSPECTIONS_KEPT = 12
REJECT_RATE_WINDOW = 20


@dataclass
class _Event:
    seq: int
    kind: str
    data: dict[str, Any]


@dataclass
class ConsoleData:
    """The bundle's recent traffic, thread-safe; ``history`` bounds every series."""

    history: int = DEFAULT_HISTORY
    sync: dict[str, Any] = field(default_factory=dict)
    actuators: dict[str, dict[str, Any]] = field(default_factory=dict)
    active_alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    _events: collections.deque[_Event] = field(default_factory=collections.deque)
    _inspections: collections.deque[dict[str, Any]] = field(default_factory=collections.deque)
    _recent_decisions: collections.deque[str] = field(default_factory=collections.deque)
    _seq: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self._changed = threading.Condition(self._lock)

    @property
    def seq(self) -> int:
        """The sequence number of the newest stored event."""
        with self._lock:
            return self._seq

    def observe(self, topic: str, message: Any) -> None:
        """Keep what ``message`` (received on ``topic``) tells; anything unreadable is skipped."""
        if not isinstance(message, dict):
            return
        if topic == topics.READINGS:
            try:
                readings = list(iter_readings(message))
            except MessageError:
                return
            for reading in readings:
                for metric, value in reading.values.items():
                    if isinstance(value, int | float):
                        self._add(
                            "reading",
                            {"sensor": reading.source, "metric": metric, "ts": reading.ts, "value": value},
                        )
            return
        if topic == topics.ALERTS:
            self._alert(message)
        elif topic == topics.ANOMALIES:
            self._add(
                "anomaly",
                {
                    "sensor": str(message.get("source", "?")),
                    "model": str(message.get("model", "?")),
                    "ts": _number(message.get("ts")),
                    "score": _number(message.get("score")),
                    "threshold": _number(message.get("threshold")),
                    "isAnomaly": bool(message.get("isAnomaly")),
                },
            )
        elif topic == topics.INSPECTION_DECISIONS:
            self._inspection(message)
        elif topic == topics.SYNC_STATUS:
            metrics = message.get("metrics")
            if isinstance(metrics, dict):
                with self._changed:
                    self.sync = metrics
                    self._changed.notify_all()
        elif topic == topics.ACTUATOR:
            with self._changed:
                self.actuators[str(message.get("actuator", "?"))] = {
                    "on": bool(message.get("on")),
                    "reason": str(message.get("reason", "")),
                    "ts": _number(message.get("ts")),
                }
                self._changed.notify_all()

    def _alert(self, message: dict[str, Any]) -> None:
        reading = message.get("reading") if isinstance(message.get("reading"), dict) else {}
        alert: dict[str, Any] = {
            "ruleId": str(message.get("ruleId", "?")),
            "state": str(message.get("state", "?")),
            "severity": str(message.get("severity", "?")),
            "message": str(message.get("message", "")),
            "ts": _number(message.get("ts")),
            "sensor": str((reading or {}).get("source") or message.get("source", "?")),
        }
        with self._changed:
            if alert["state"] == "raised":
                self.active_alerts[alert["ruleId"]] = alert
            elif alert["state"] == "cleared":
                self.active_alerts.pop(alert["ruleId"], None)
        self._add("alert", alert)

    def _inspection(self, message: dict[str, Any]) -> None:
        decision = str(message.get("decision", "?"))
        part: dict[str, Any] = {
            "partId": str(message.get("partId", "?")),
            "decision": decision,
            "probability": _number(message.get("probability")),
            "model": str(message.get("model", "?")),
            "ts": _number(message.get("ts")),
            "image": message.get("image") if isinstance(message.get("image"), str) else None,
            "detections": message.get("detections") if isinstance(message.get("detections"), list) else [],
        }
        with self._changed:
            self._inspections.append(part)
            while len(self._inspections) > INSPECTIONS_KEPT:
                self._inspections.popleft()
            self._recent_decisions.append(decision)
            while len(self._recent_decisions) > REJECT_RATE_WINDOW:
                self._recent_decisions.popleft()
            rate = self._recent_decisions.count("reject") / len(self._recent_decisions)
        self._add("inspection", {**part, "rejectRate": round(rate, 4)})

    def _add(self, kind: str, data: dict[str, Any]) -> None:
        with self._changed:
            self._seq += 1
            self._events.append(_Event(self._seq, kind, data))
            # One bound for all kinds keeps the arithmetic simple: a few series share it.
            while len(self._events) > self.history * 8:
                self._events.popleft()
            self._changed.notify_all()

    def changes_since(self, seq: int) -> tuple[int, list[dict[str, Any]]]:
        """Events newer than ``seq`` (``{"kind", ...data}``) and the newest sequence number."""
        with self._lock:
            events = [{"kind": e.kind, **e.data} for e in self._events if e.seq > seq]
            return self._seq, events

    def wait_for_change(self, seq: int, timeout: float) -> bool:
        """Block until something newer than ``seq`` arrived (or ``timeout``); whether it did."""
        with self._changed:
            return self._changed.wait_for(lambda: self._seq > seq, timeout)

    def summary(self) -> dict[str, Any]:
        """What is not a time series: sync metrics, actuators, active alerts, the last parts."""
        with self._lock:
            return {
                "sync": dict(self.sync),
                "actuators": dict(self.actuators),
                "activeAlerts": list(self.active_alerts.values()),
                "inspections": list(self._inspections),
            }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
