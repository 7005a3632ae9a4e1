"""Publishing to the local pub/sub without waiting for each acknowledgement, but never unboundedly.

A synchronous ``PublishToTopic`` waits one IPC round trip per message, which caps a sensor at a
few thousand readings a second; the async form pipelines them. Two paths share the connection:

- :meth:`IpcPublisher.publish` of anything but readings (alerts, health, actuator changes,
  anomaly events, inspection decisions): each message goes as it is. A semaphore bounds the
  messages in flight, so a slow core makes the caller wait (back-pressure, at most ``wait_s``)
  instead of queueing without limit. Readings never take these slots, so an alert never waits
  behind readings.
- readings, when :class:`Coalescing` is configured for their topic. The awsiotsdk client spends
  ~300 µs of CPU per publish, so one reading per message cannot go much past 3,000 readings/s.
  While fewer than ``window`` reading messages are unacknowledged and the last one left at least
  ``min_interval_s`` ago, a reading goes at once as its own message, from the caller's thread
  (low rates: one message per reading, no added latency). Otherwise readings queue; as soon as
  a slot is free and the interval has passed, everything queued, up to a cap, goes as one
  ``edgebundle.reading-batch.v1`` message. The cap is in readings and in bytes of the JSON on
  the wire (``wire_limits.MAX_MESSAGE_BYTES``: nucleus lite closes the IPC connection of a
  larger message), cut exactly; every message goes as one binary payload, which lite's
  subscription node limit counts as one node. The interval bounds the reading messages a second
  whatever the rate (5 ms: at most 200), which is where the CPU goes: at 5,000 readings/s a
  fast core acknowledges quickly enough for ~1,700 messages of three readings a second, and
  the client's per-message work took ~70 % of a core. The queue is bounded: on overflow the
  oldest readings are dropped and counted. The sensor loop never waits for the core.

The acknowledgement callback runs on the SDK's event-loop thread, which also writes every frame
to the socket: sending a batch there (the JSON of a few dozen readings, ~0.3 ms of Python) would
hold an alert queued behind it. So the callback only frees the slot and wakes the publisher's own
sender thread, which sends the batch. Only one thread sends reading messages at a time (the
"pump" role, a flag taken under the lock, not a lock held while sending), so readings leave in
the order they were queued.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import threading
import time
from collections import deque
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass
from typing import Any

from components.common.exceptions import MessageTooLargeError
from components.common.ipc import ComponentIpc
from components.common.logs import kv
from components.common.messages import reading_batch_message
from components.common.wire_limits import MAX_MESSAGE_BYTES, encode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Coalescing:
    """How readings on ``topic`` are coalesced into batches when the core falls behind.

    Args:
        topic: the readings topic; only messages published on it are coalesced.
        source: the batch envelope's ``source`` (the component).
        window: reading messages sent but not acknowledged before readings queue.
        min_interval_s: least time between two reading messages; readings arriving sooner
            queue and leave together once it has passed (0: only the window holds them back).
        max_queued: readings waiting for a slot before the oldest are dropped.
        max_batch: most readings in one batch message.
        max_batch_bytes: most bytes in one batch message, as the compact JSON that goes on the
            wire; at most ``wire_limits.MAX_MESSAGE_BYTES`` (a larger message would close the
            component's IPC connection under nucleus lite). A batch travels as one binary
            payload, so lite's node limit counts it as one node whatever it holds.
    """

    topic: str
    source: str
    window: int = 1
    min_interval_s: float = 0.0
    max_queued: int = 20_000
    max_batch: int = 500
    max_batch_bytes: int = MAX_MESSAGE_BYTES

    def __post_init__(self) -> None:
        for name in ("window", "max_queued", "max_batch", "max_batch_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Coalescing.{name}: {value!r}; expected an integer >= 1")
        if self.max_batch_bytes > MAX_MESSAGE_BYTES:
            raise ValueError(
                f"Coalescing.max_batch_bytes: {self.max_batch_bytes}; expected at most "
                f"{MAX_MESSAGE_BYTES} (wire_limits.MAX_MESSAGE_BYTES: nucleus lite closes the IPC "
                "connection of a larger message)"
            )
        interval = self.min_interval_s
        if not isinstance(interval, (int, float)) or not 0.0 <= interval <= 1.0:
            raise ValueError(
                f"Coalescing.min_interval_s: {interval!r}; expected seconds from 0 to 1 "
                "(readings would wait longer than any consumer expects)"
            )


class IpcPublisher:
    """Publishes JSON messages through :meth:`ComponentIpc.publish_json_async`.

    Args:
        ipc: the component's IPC wrapper.
        max_in_flight: messages (other than coalesced readings) sent but not yet acknowledged
            before :meth:`publish` waits.
        wait_s: longest such a publish waits for room before the message is counted as dropped.
        coalescing: coalesce readings on ``coalescing.topic`` (see the module docstring); None
            sends every message on its own.
    """

    def __init__(
        self,
        ipc: ComponentIpc,
        max_in_flight: int = 64,
        wait_s: float = 5.0,
        *,
        coalescing: Coalescing | None = None,
    ) -> None:
        self._ipc = ipc
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._max_in_flight = max_in_flight
        self._wait_s = wait_s
        self._coalescing = coalescing
        self._lock = threading.Lock()
        # Notified when a slot frees with readings queued, and when the readings go idle.
        self._changed = threading.Condition(self._lock)
        self._queue: deque[dict[str, Any]] = deque()
        self._readings_in_flight = 0
        # When the next reading message may leave (time.monotonic()), per min_interval_s.
        self._next_reading_at = 0.0
        self._pumping = False
        self._closed = False
        self._sender: threading.Thread | None = None
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.last_error: str | None = None
        self.readings_sent = 0
        self.readings_failed = 0
        self.readings_dropped = 0
        self.batches = 0
        self.batched_readings = 0
        self.largest_batch = 0
        if coalescing is not None:
            self._sender = threading.Thread(
                target=self._send_when_woken, args=(coalescing,), name="publisher-readings", daemon=True
            )
            self._sender.start()

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        """Send ``message``; a reading to coalesce never waits, anything else waits only while
        ``max_in_flight`` messages are unacknowledged (at most ``wait_s``)."""
        coalescing = self._coalescing
        if coalescing is not None and topic == coalescing.topic:
            self._publish_reading(coalescing, message)
            return
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
        error = _error_of(future)
        if error is None:
            with self._lock:
                self.sent += 1
        else:
            self._record_failure(topic, error)

    # -- coalesced readings ------------------------------------------------------------------------
    def _publish_reading(self, coalescing: Coalescing, message: dict[str, Any]) -> None:
        dropped = 0
        with self._lock:
            self._queue.append(message)
            overflow = len(self._queue) > coalescing.max_queued
            if overflow:
                self._queue.popleft()
                self.readings_dropped += 1
                self.dropped += 1
                dropped = self.readings_dropped
            # Otherwise it stays queued: the sender thread (or the thread pumping) sends it.
            pump = self._can_pump(coalescing) and self._next_reading_at <= time.monotonic()
            if pump:
                self._pumping = True
            elif len(self._queue) == 1:
                # The sender thread may be waiting with nothing queued: it must learn when to send.
                self._changed.notify_all()
        if overflow and _is_power_of_ten(dropped):  # a line per decade, not one per reading
            log.warning(
                kv(
                    event="readings_dropped",
                    topic=coalescing.topic,
                    dropped=dropped,
                    reason=f"more than {coalescing.max_queued} readings waiting for the core",
                )
            )
        if pump:
            self._pump(coalescing)

    def _send_when_woken(self, coalescing: Coalescing) -> None:
        """The sender thread: sends queued readings once a slot is free and the interval passed."""
        while True:
            with self._lock:
                while not self._closed:
                    if not self._can_pump(coalescing):
                        self._changed.wait()
                        continue
                    delay = self._next_reading_at - time.monotonic()
                    if delay <= 0:
                        break
                    self._changed.wait(delay)
                if self._closed:
                    return
                self._pumping = True
            self._pump(coalescing)

    def _can_pump(self, coalescing: Coalescing) -> bool:
        """Readings wait, a slot is free and nobody is sending; called with the lock held."""
        return bool(self._queue) and not self._pumping and self._readings_in_flight < coalescing.window

    def _pump(self, coalescing: Coalescing) -> None:
        """Send queued readings while the window has room and the interval has passed; the
        caller holds the pump role."""
        while True:
            with self._lock:
                if (
                    not self._queue
                    or self._readings_in_flight >= coalescing.window
                    or time.monotonic() < self._next_reading_at
                ):
                    self._pumping = False
                    # flush() may be waiting for the queue to empty; the sender thread for the time
                    self._changed.notify_all()
                    return
                readings = self._take_batch(coalescing)
                self._readings_in_flight += 1
            payload: bytes | None = None
            try:
                payload, readings = self._encode_batch(coalescing, readings)
            except MessageTooLargeError as err:
                readings = readings[:1]
                self._record_failure(coalescing.topic, err, readings=1)
            except Exception as err:  # a reading JSON cannot carry: its batch is lost, and said so
                self._record_failure(coalescing.topic, err, readings=len(readings))
            count = len(readings)
            future: Future[Any] | None = None
            if payload is not None:
                try:
                    future = self._ipc.publish_encoded_async(coalescing.topic, payload)
                except Exception as err:
                    self._record_failure(coalescing.topic, err, readings=count)
            with self._lock:
                # From the hand-over to the client, not from the decision to send: building a
                # big batch takes a while, and no two messages may leave closer than the interval.
                self._next_reading_at = time.monotonic() + coalescing.min_interval_s
                if future is None:
                    self._readings_in_flight -= 1
                elif count > 1:
                    self.batches += 1
                    self.batched_readings += count
                    self.largest_batch = max(self.largest_batch, count)
            if future is not None:
                future.add_done_callback(functools.partial(self._reading_done, coalescing, count))

    def _take_batch(self, coalescing: Coalescing) -> list[dict[str, Any]]:
        """Pop the next message's readings from the queue; called with the lock held.

        How many is estimated from the first reading's size with a quarter of headroom, an upper
        bound :meth:`_encode_batch` then cuts exactly (serializing under the lock would hold the
        sensor threads).
        """
        queue = self._queue
        if len(queue) == 1:
            return [queue.popleft()]
        per_reading = _json_size(queue[0]) * 3 // 4 + 1
        count = min(len(queue), coalescing.max_batch, max(1, coalescing.max_batch_bytes // per_reading))
        return [queue.popleft() for _ in range(count)]

    def _encode_batch(
        self, coalescing: Coalescing, readings: list[dict[str, Any]]
    ) -> tuple[bytes, list[dict[str, Any]]]:
        """The wire bytes of the next reading message and the readings it carries; the caller holds
        the pump role.

        Each reading is encoded once and the batch is spliced from the pieces, so the cut by
        ``max_batch_bytes`` is exact; readings that do not fit go back to the front of the
        queue, in order, for the next message.

        Raises:
            MessageTooLargeError: the first reading alone is over ``max_batch_bytes``; it is the
                only one taken (the others went back to the queue).
        """
        limit = coalescing.max_batch_bytes
        head = encode(reading_batch_message(coalescing.source, []))
        prefix, suffix = head[: -len(b"]}")], b"]}"
        size = len(prefix) + len(suffix)
        parts: list[bytes] = []
        for reading in readings:
            part = encode(reading)
            added = len(part) + (1 if parts else 0)
            if size + added > limit:
                break
            parts.append(part)
            size += added
        taken = max(1, len(parts))  # an oversized first reading is taken, to be refused alone
        rest = readings[taken:]
        if rest:
            with self._lock:
                self._queue.extendleft(reversed(rest))
            readings = readings[:taken]
        if not parts:
            oversized = len(encode(readings[0]))
            raise MessageTooLargeError(
                f"reading on {coalescing.topic!r} is {oversized} bytes of JSON; expected at most {limit}"
            )
        if len(parts) == 1:
            return parts[0], readings
        return prefix + b",".join(parts) + suffix, readings

    def _reading_done(self, coalescing: Coalescing, count: int, future: Future[Any]) -> None:
        """A reading message's acknowledgement (on the SDK's event-loop thread): free its slot and
        wake the sender thread if readings wait; never send from here (see the module docstring)."""
        error = _error_of(future)
        with self._lock:
            self._readings_in_flight -= 1
            if error is None:
                self.sent += 1
                self.readings_sent += count
            self._changed.notify_all()
        if error is not None:
            self._record_failure(coalescing.topic, error, readings=count)

    # -- bookkeeping -------------------------------------------------------------------------------
    def _record_failure(self, topic: str, error: BaseException, readings: int = 0) -> None:
        with self._lock:
            self.failed += 1
            self.readings_failed += readings
            first = self.failed == 1 or self.last_error != repr(error)
            self.last_error = repr(error)
        if first:  # one line per new kind of failure, not one per message
            log.warning(kv(event="publish_failed", topic=topic, error=repr(error)))

    def flush(self, timeout: float = 5.0) -> bool:
        """Send every queued reading and wait until everything sent has been acknowledged (or
        ``timeout`` passed); True if all was."""
        deadline = time.monotonic() + timeout
        with self._lock:
            readings_done = self._changed.wait_for(
                lambda: not self._queue and self._readings_in_flight == 0 and not self._pumping,
                timeout=timeout,
            )
        taken = 0
        ok = readings_done
        for _ in range(self._max_in_flight):
            if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
                ok = False
                break
            taken += 1
        for _ in range(taken):
            self._slots.release()
        return ok

    def close(self) -> None:
        """Stop the sender thread (after :meth:`flush`: readings still queued are not sent)."""
        with self._lock:
            self._closed = True
            self._changed.notify_all()
        if self._sender is not None and self._sender is not threading.current_thread():
            self._sender.join(5.0)

    def metrics(self) -> dict[str, Any]:
        """Counts for the health message.

        ``sent``/``failed`` count messages (a batch is one); ``dropped`` counts messages never
        sent (a reading dropped from a full queue is one). The ``readings*`` counts are in
        readings: ``readingsSent`` acknowledged, ``readingsFailed`` in messages that failed,
        ``readingsDropped`` dropped from the queue, ``readingsQueued`` waiting now.
        """
        with self._lock:
            metrics: dict[str, Any] = {
                "sent": self.sent,
                "failed": self.failed,
                "dropped": self.dropped,
                "lastError": self.last_error,
            }
            if self._coalescing is not None:
                metrics.update(
                    readingsSent=self.readings_sent,
                    readingsFailed=self.readings_failed,
                    readingsDropped=self.readings_dropped,
                    readingsQueued=len(self._queue),
                    batches=self.batches,
                    batchedReadings=self.batched_readings,
                    largestBatch=self.largest_batch,
                )
            return metrics


def _error_of(future: Future[Any]) -> BaseException | None:
    if future.cancelled():
        return CancelledError("publish cancelled")
    return future.exception()


def _json_size(message: dict[str, Any]) -> int:
    return len(json.dumps(message, separators=(",", ":")))


def _is_power_of_ten(n: int) -> bool:
    return n > 0 and 10 ** round(math.log10(n)) == n
