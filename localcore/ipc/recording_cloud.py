"""RecordingCloudAdapter: an in-memory IoT Core for tests, implementing ``contracts.CloudService``.

It records every publish, lets a test inject cloud-to-device messages (delivered to every matching
subscription, MQTT wildcards included) and flip the connection state.

Example::

    cloud = RecordingCloudAdapter()
    ... component publishes with PublishToIoTCore ...
    cloud.wait_for_publishes(1)[0].topic  # "dt/line1/telemetry"
    cloud.inject(IotMessage("cmd/line1", b'{"go": 1}'))
    cloud.set_connected(False)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from localcore.contracts import CommandRegistry, IotMessage, Unsubscribe
from localcore.mqtt_topics import iot_core_matches


class CloudPublishRefused(RuntimeError):
    """Raised by ``publish`` when the test asked the adapter to fail publishes."""


class RecordingCloudAdapter:
    """An in-memory ``CloudAdapter``. Thread-safe.

    Args:
        connected: the initial connection state.
    """

    def __init__(self, *, connected: bool = True) -> None:
        self._cond = threading.Condition()
        self._published: list[IotMessage] = []
        self._subscriptions: list[tuple[str, int, Callable[[IotMessage], None]]] = []
        self._listeners: list[Callable[[bool], None]] = []
        self._connected = connected
        self.fail_publishes_with: str | None = None

    # --- CloudService: nothing to start, no environment, no commands -------------------------------
    def start(self) -> None:
        """Nothing to start: the adapter works from construction."""

    def stop(self) -> None:
        """Nothing to stop."""

    def environment(self, component: str, token: str, dependencies: list[str]) -> dict[str, str]:
        """No extra environment (there is no token exchange service in memory)."""
        return {}

    def register_control(self, control: CommandRegistry) -> None:
        """No control commands."""

    # --- CloudAdapter ------------------------------------------------------------------------------
    def publish(self, message: IotMessage) -> None:
        """Record ``message`` (or raise if a test asked for failures)."""
        if self.fail_publishes_with is not None:
            raise CloudPublishRefused(self.fail_publishes_with)
        with self._cond:
            self._published.append(message)
            self._cond.notify_all()

    def subscribe(self, topic_filter: str, qos: int, on_message: Callable[[IotMessage], None]) -> Unsubscribe:
        """Deliver injected messages matching ``topic_filter`` to ``on_message``."""
        entry = (topic_filter, qos, on_message)
        with self._cond:
            self._subscriptions.append(entry)
            self._cond.notify_all()

        def unsubscribe() -> None:
            with self._cond:
                if entry in self._subscriptions:
                    self._subscriptions.remove(entry)
                self._cond.notify_all()

        return unsubscribe

    def is_connected(self) -> bool:
        """The current connection state."""
        with self._cond:
            return self._connected

    def add_connection_listener(self, listener: Callable[[bool], None]) -> Unsubscribe:
        """``listener(connected)`` on every change made with :meth:`set_connected`."""
        with self._cond:
            self._listeners.append(listener)

        def remove() -> None:
            with self._cond:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    # --- test controls -----------------------------------------------------------------------------
    @property
    def published(self) -> list[IotMessage]:
        """Every message published so far, in order."""
        with self._cond:
            return list(self._published)

    def subscriptions(self) -> list[str]:
        """The topic filters currently subscribed."""
        with self._cond:
            return [topic_filter for topic_filter, _, _ in self._subscriptions]

    def inject(self, message: IotMessage) -> int:
        """Deliver a cloud message to every matching subscription; return how many got it."""
        with self._cond:
            targets = [cb for f, _, cb in self._subscriptions if iot_core_matches(f, message.topic)]
        for callback in targets:
            callback(message)
        return len(targets)

    def set_connected(self, connected: bool) -> None:
        """Change the connection state and tell the listeners if it changed."""
        with self._cond:
            changed = connected != self._connected
            self._connected = connected
            listeners = list(self._listeners)
        if changed:
            for listener in listeners:
                listener(connected)

    def wait_for_publishes(self, count: int, timeout: float = 5.0) -> list[IotMessage]:
        """Block until at least ``count`` messages were published; return them all.

        Raises:
            TimeoutError: fewer arrived within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._published) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"expected {count} IoT Core publishes, got {len(self._published)}")
                self._cond.wait(left)
            return list(self._published)

    def wait_for_subscription(self, topic_filter: str, timeout: float = 5.0) -> None:
        """Block until ``topic_filter`` is subscribed.

        Raises:
            TimeoutError: it was not within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while topic_filter not in [f for f, _, _ in self._subscriptions]:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no subscription to {topic_filter!r} within {timeout}s")
                self._cond.wait(left)
