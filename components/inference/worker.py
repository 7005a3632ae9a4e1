"""One hosted model at work: its readings in, its windows queued, scored in batches, events out.

Readings arrive on the IPC callback thread (:meth:`ModelWorker.on_reading`): a cheap parse, a
ring update and, when a window is complete, a queue put. The worker thread takes as many queued
windows as are waiting (up to ``max_batch``), preprocesses them together and runs one invoke,
so falling behind makes batches bigger rather than the queue longer. The model is swapped
between two batches (:meth:`ModelWorker.swap`): no window is lost or scored twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from components.common.logs import kv
from components.common.messages import (
    READING_BATCH_V1,
    READING_V1,
    MessageError,
    anomaly_message,
    iter_readings,
    parse_message,
)
from components.inference.host import LoadedModel, window_input
from components.inference.windows import SlidingWindows, Window, WindowQueue

log = logging.getLogger(__name__)
_STATS_KEPT = 2048  # recent batches/windows the latency percentiles are computed over


class Publisher(Protocol):
    """Where events go (an :class:`~components.common.publisher.IpcPublisher` in the component)."""

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        """Send ``message`` on ``topic``."""


def _percentiles(values: deque[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None}
    array = np.fromiter(values, dtype=np.float64)
    return {
        "p50": round(float(np.percentile(array, 50)), 4),
        "p99": round(float(np.percentile(array, 99)), 4),
    }


class ModelWorker:
    """Runs one hosted model; see the module docstring.

    Args:
        model: the validated model to start with.
        publisher: where anomaly events go.
        next_seq: ``next_seq(source, topic)`` gives each event's sequence number.
        max_batch: most windows per invoke.
        max_pending: queued windows before the oldest are dropped.
    """

    def __init__(
        self,
        model: LoadedModel,
        publisher: Publisher,
        next_seq: Callable[[str, str], int],
        *,
        max_batch: int,
        max_pending: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._model = model
        self._publisher = publisher
        self._next_seq = next_seq
        self._clock = clock
        self.max_batch = max_batch
        self.windows = SlidingWindows(model.window.length, model.config.hop)
        self.queue = WindowQueue(max_pending)
        self._ring_lock = threading.Lock()
        self._state: dict[str, bool] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.readings = 0
        self.ignored = 0
        self.invalid = 0
        self.scored = 0
        self.published = 0
        self.batches = 0
        self.largest_batch = 0
        self.errors = 0
        self.swaps = 0
        self._invoke_ms: deque[float] = deque(maxlen=_STATS_KEPT)
        self._window_ms: deque[float] = deque(maxlen=_STATS_KEPT)
        self._rate_mark = (time.perf_counter(), 0)

    @property
    def model(self) -> LoadedModel:
        """The model serving now."""
        return self._model

    def swap(self, model: LoadedModel) -> None:
        """Serve ``model`` from the next batch on (it is already validated)."""
        if model.window.length != self.windows.size:
            raise ValueError(f"window of {model.window.length} readings, running {self.windows.size}")
        with self._ring_lock:
            self.windows.hop = model.config.hop
        if model.runtime is not self._model.runtime:
            self.swaps += 1
        self._model = model

    # -- readings (IPC thread) ---------------------------------------------------------------------
    def on_reading(self, payload: Any) -> None:
        """Take one message from the input topic: a reading or a batch of readings.

        An invalid message is counted once and skipped (a batch is taken whole or not at all);
        a valid message of another schema, and readings this model does not use, are ignored.
        """
        schema = payload.get("schema") if isinstance(payload, dict) else None
        try:
            if schema in (READING_V1, READING_BATCH_V1):
                readings = iter_readings(payload)
            else:
                parse_message(payload)  # tells an invalid message from one of another schema
                self.ignored += 1
                return
        except MessageError as err:
            self.invalid += 1
            log.debug(kv(event="invalid_reading", error=err))
            return
        sensors = self._model.config.sensors
        for reading in readings:
            values = reading.values
            if (
                "temperature" not in values
                or "humidity" not in values
                or (sensors and reading.source not in sensors)
            ):
                self.ignored += 1
                continue
            with self._ring_lock:
                self.readings += 1
                window = self.windows.add(
                    reading.source, reading.ts, values["temperature"], values["humidity"]
                )
            if window is not None:
                self.queue.put(window)

    # -- scoring (worker thread) ---------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker thread."""
        self._thread = threading.Thread(
            target=self._run, name=f"inference-{self._model.config.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Score what is queued, then stop."""
        self._stop.set()
        self.queue.wake()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            batch = self.queue.take(self.max_batch, timeout=0.2)
            if batch:
                self.score(batch)
            elif self._stop.is_set():
                return

    def score(self, batch: list[Window]) -> None:
        """Score a batch of windows with the current model and publish their events."""
        model = self._model
        try:
            x = window_input(
                model.window,
                model.runtime.inputs[0].shape,
                np.stack([w.temperature for w in batch]),
                np.stack([w.humidity for w in batch]),
            )
            start = time.perf_counter()
            scores = model.runtime.predict(x)[:, 0]
            invoke_ms = (time.perf_counter() - start) * 1000.0
        except Exception as err:  # a model that fails at run time must not end the worker
            self.errors += len(batch)
            log.error(
                kv(event="inference_failed", model=model.config.name, windows=len(batch), error=repr(err))
            )
            return
        self.batches += 1
        self.largest_batch = max(self.largest_batch, len(batch))
        self._invoke_ms.append(invoke_ms)
        config = model.config
        now = self._clock()
        for window, score in zip(batch, scores.tolist(), strict=True):
            anomalous = score >= model.threshold
            changed = self._state.get(window.sensor, False) != anomalous
            self._state[window.sensor] = anomalous
            if config.publish == "all" or changed:
                message = anomaly_message(
                    window.sensor,
                    self._next_seq(window.sensor, config.output_topic),
                    now,
                    model=config.name,
                    model_version=model.version,
                    score=round(float(score), 6),
                    threshold=model.threshold,
                    window_start=window.start_ts,
                    window_end=window.end_ts,
                    inference_ms=round(invoke_ms, 4),
                )
                self._publisher.publish(config.output_topic, message)
                self.published += 1
            self._window_ms.append((time.perf_counter() - window.received) * 1000.0)
        self.scored += len(batch)

    # -- health ------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Per-model figures for the component's health message."""
        now = time.perf_counter()
        mark_t, mark_n = self._rate_mark
        self._rate_mark = (now, self.scored)
        model = self._model
        return {
            "model": model.hosted.name,
            "variant": model.config.variant,
            "version": model.version,
            # The first 16 hex digits identify the file (the log has all 64): eight models' status
            # must fit one message within the wire limit (components.common.wire_limits).
            "sha256Prefix": model.sha256[:16],
            "threshold": model.threshold,
            "readings": self.readings,
            "ignored": self.ignored,
            "invalid": self.invalid,
            "windowsScored": self.scored,
            "windowsPerSecond": round((self.scored - mark_n) / max(now - mark_t, 1e-9), 2),
            "windowsDropped": self.queue.dropped,
            "windowsPending": len(self.queue),
            "pendingHighWater": self.queue.high_water,
            "eventsPublished": self.published,
            "batches": self.batches,
            "largestBatch": self.largest_batch,
            "errors": self.errors,
            "swaps": self.swaps,
            "invokeMs": _percentiles(self._invoke_ms),
            "windowLatencyMs": _percentiles(self._window_ms),
        }
