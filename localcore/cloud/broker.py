"""The cloud side of IoT Core, in process: one broker, its subscribers and the topic rules.

Every message published to the broker (by the device or from the cloud side, e.g.
``localcore cloud publish``) is offered to the topic rules and delivered to every matching
subscription, as IoT Core does; MQTT 3.1.1 has no "no local", so a device subscribed to a topic
it publishes receives its own message back, as on a real core.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from components.common.logs import kv
from localcore.cloud.rules import RuleEngine
from localcore.cloud.topics import topic_matches, validate_topic_filter, validate_topic_name
from localcore.contracts import IotMessage, Unsubscribe

log = logging.getLogger("localcore.cloud.broker")

DEVICE, CLOUD = "device", "cloud"


@dataclass(frozen=True)
class _Subscription:
    ident: int
    topic_filter: str
    client: str
    on_message: Callable[[IotMessage], None]


class CloudBroker:
    """Topic-filter subscriptions plus the rule engine, thread-safe."""

    def __init__(self, rules: RuleEngine | None = None) -> None:
        self.rules = rules
        self._subscriptions: dict[int, _Subscription] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.published = {DEVICE: 0, CLOUD: 0}

    def subscribe(
        self, topic_filter: str, on_message: Callable[[IotMessage], None], client: str = CLOUD
    ) -> Unsubscribe:
        """Deliver every message matching ``topic_filter`` to ``on_message`` until unsubscribed."""
        validate_topic_filter(topic_filter)
        subscription = _Subscription(next(self._ids), topic_filter, client, on_message)
        with self._lock:
            self._subscriptions[subscription.ident] = subscription

        def _unsubscribe() -> None:
            with self._lock:
                self._subscriptions.pop(subscription.ident, None)

        return _unsubscribe

    def publish(self, message: IotMessage, origin: str = CLOUD) -> int:
        """Apply the rules and deliver ``message``; return how many subscribers received it."""
        validate_topic_name(message.topic)
        with self._lock:
            self.published[origin] = self.published.get(origin, 0) + 1
            targets = [
                s for s in self._subscriptions.values() if topic_matches(s.topic_filter, message.topic)
            ]
        if self.rules is not None:
            self.rules.handle(message.topic, message.payload)
        delivered = 0
        for subscription in targets:
            try:
                subscription.on_message(message)
                delivered += 1
            except Exception as err:  # one broken subscriber must not starve the others
                log.warning(
                    kv(event="subscriber_failed", topic=message.topic, client=subscription.client, error=err)
                )
        return delivered
