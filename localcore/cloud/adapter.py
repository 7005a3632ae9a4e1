"""``EmbeddedCloudAdapter``: the nucleus' MQTT connection to the embedded cloud (a CloudAdapter).

While the connection is down, PublishToIoTCore follows the nucleus spooler (greengrass-nucleus
component docs, ``mqtt.spooler``): QoS 1 messages are kept in a spool bounded by
``maxSizeInBytes`` (default 2.5 MB, oldest dropped first when full), QoS 0 messages are dropped
unless ``keepQos0WhenOffline`` is true. On reconnect the spool drains in order before any newer
message. Cloud-to-device messages reach subscribers only while connected (the link is down
otherwise). While flaky, QoS 0 publishes are lost at the flaky rate; QoS 1 ones are retried by
the MQTT client until acknowledged, so they arrive.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from localcore.cloud.broker import DEVICE, CloudBroker
from localcore.cloud.connectivity import Connectivity
from localcore.cloud.exceptions import CloudError
from localcore.contracts import IotMessage, Unsubscribe
from localcore.logfmt import kv
from localcore.mqtt_topics import validate_topic_filter, validate_topic_name

log = logging.getLogger("localcore.cloud.adapter")

DEFAULT_SPOOL_BYTES = 2_621_440  # nucleus default maxSizeInBytes


class MessageTooLargeForSpoolError(CloudError):
    """A message bigger than the whole spool cannot be kept (the nucleus refuses it too)."""


@dataclass(frozen=True)
class SpoolerConfig:
    """The nucleus ``mqtt.spooler`` settings that the embedded cloud honours."""

    max_size_in_bytes: int = DEFAULT_SPOOL_BYTES
    keep_qos0_when_offline: bool = False

    def __post_init__(self) -> None:
        if self.max_size_in_bytes <= 0:
            raise ValueError(f"spooler maxSizeInBytes must be > 0, got {self.max_size_in_bytes}")


@dataclass
class SpoolStats:
    """What happened to publishes while the connection was down."""

    spooled: int = 0
    dropped_qos0: int = 0
    dropped_oldest: int = 0
    drained: int = 0
    lost_flaky_qos0: int = 0


class EmbeddedCloudAdapter:
    """CloudAdapter over an in-process :class:`CloudBroker`, following a :class:`Connectivity`."""

    def __init__(
        self,
        broker: CloudBroker,
        connectivity: Connectivity,
        spooler: SpoolerConfig | None = None,
    ) -> None:
        self.broker = broker
        self.connectivity = connectivity
        self.spooler = spooler or SpoolerConfig()
        self.stats = SpoolStats()
        self._spool: collections.deque[IotMessage] = collections.deque()
        self._spool_bytes = 0
        self._connected = connectivity.is_up()
        self._draining = False
        self._lock = threading.RLock()
        self._listeners: list[Callable[[bool], None]] = []
        self._remove_state_listener = connectivity.add_listener(self._on_state)

    def close(self) -> None:
        """Stop following the connectivity state."""
        self._remove_state_listener()

    # --- CloudAdapter
    def publish(self, message: IotMessage) -> None:
        """Send now, or spool per the nucleus rules while offline (or while the spool drains)."""
        validate_topic_name(message.topic)
        with self._lock:
            if not self._connected or self._draining or self._spool:
                self._enqueue(message)
                return
        if message.qos == 0 and self.connectivity.should_drop():
            self.stats.lost_flaky_qos0 += 1
            return
        self.broker.publish(message, origin=DEVICE)

    def subscribe(self, topic_filter: str, qos: int, on_message: Callable[[IotMessage], None]) -> Unsubscribe:
        """Deliver cloud messages matching ``topic_filter`` while the connection is up."""
        validate_topic_filter(topic_filter)

        def _deliver(message: IotMessage) -> None:
            if self._connected:
                on_message(message)

        return self.broker.subscribe(topic_filter, _deliver, client=DEVICE)

    def is_connected(self) -> bool:
        """Whether the MQTT connection is up."""
        return self._connected

    def add_connection_listener(self, listener: Callable[[bool], None]) -> Unsubscribe:
        """``listener(connected)`` on every change."""
        with self._lock:
            self._listeners.append(listener)

        def _remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return _remove

    # --- spool
    def spooled(self) -> list[IotMessage]:
        """The messages waiting to be sent, oldest first."""
        with self._lock:
            return list(self._spool)

    def _enqueue(self, message: IotMessage) -> None:
        if message.qos == 0 and not self.spooler.keep_qos0_when_offline and not self._connected:
            self.stats.dropped_qos0 += 1
            return
        size = len(message.payload)
        if size > self.spooler.max_size_in_bytes:
            raise MessageTooLargeForSpoolError(
                f"message of {size} bytes on {message.topic} is larger than the spool "
                f"(maxSizeInBytes={self.spooler.max_size_in_bytes})"
            )
        while self._spool and self._spool_bytes + size > self.spooler.max_size_in_bytes:
            oldest = self._spool.popleft()
            self._spool_bytes -= len(oldest.payload)
            self.stats.dropped_oldest += 1
            log.warning(kv(event="spool_full_dropped_oldest", topic=oldest.topic))
        self._spool.append(message)
        self._spool_bytes += size
        self.stats.spooled += 1

    def _on_state(self, _state: str, _drop: float) -> None:
        up = self.connectivity.is_up()
        with self._lock:
            if up == self._connected:
                return
            self._connected = up
            if up:
                self._draining = True
            listeners = list(self._listeners)
        log.info(kv(event="mqtt_connection", connected=up, spooled=len(self._spool)))
        if up:
            self._drain()
        for listener in listeners:
            try:
                listener(up)
            except Exception as err:  # a listener's bug must not wedge the connection state
                log.warning(kv(event="connection_listener_failed", error=err))

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._connected or not self._spool:
                    self._draining = False
                    return
                message = self._spool.popleft()
                self._spool_bytes -= len(message.payload)
            self.broker.publish(message, origin=DEVICE)
            self.stats.drained += 1
