"""The cloud side of IoT Core, in process: one broker, its subscribers and the topic rules.

Every message published to the broker (by the device or from the cloud side, e.g.
``localcore cloud publish``) is offered to the topic rules and delivered to every matching
subscription, as IoT Core does; MQTT 3.1.1 has no "no local", so a device subscribed to a topic
it publishes receives its own message back, as on a real core.

Rules run on a worker thread, as IoT's rules engine runs after the PUBACK: a publish never waits
for a DynamoDB write. :meth:`CloudBroker.flush` waits for the rules to catch up.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from localcore.cloud.rules import RuleEngine
from localcore.contracts import IotMessage, Unsubscribe
from localcore.logfmt import kv
from localcore.mqtt_topics import iot_core_matches, validate_topic_filter, validate_topic_name

log = logging.getLogger("localcore.cloud.broker")

_RULE_QUEUE_SIZE = 10_000
_RULE_QUEUE_WAIT_S = 5.0

DEVICE, CLOUD = "device", "cloud"


@dataclass(frozen=True)
class _Subscription:
    ident: int
    topic_filter: str
    client: str
    on_message: Callable[[IotMessage], None]


class CloudBroker:
    """Topic-filter subscriptions plus the rule engine, thread-safe."""

    def __init__(self, rules: RuleEngine | None = None, *, background_rules: bool = True) -> None:
        self.rules = rules
        self._subscriptions: dict[int, _Subscription] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.published = {DEVICE: 0, CLOUD: 0}
        self.rules_dropped = 0
        self._background = background_rules
        self._rule_queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=_RULE_QUEUE_SIZE)
        self._worker: threading.Thread | None = None

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
                s for s in self._subscriptions.values() if iot_core_matches(s.topic_filter, message.topic)
            ]
        if self.rules is not None:
            self._offer_to_rules(message.topic, message.payload)
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

    # --- rules on their own thread
    def _offer_to_rules(self, topic: str, payload: bytes) -> None:
        rules = self.rules
        if rules is None:
            return
        if not self._background:
            rules.handle(topic, payload)
            return
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run_rules, name="cloud-rules", daemon=True)
                self._worker.start()
        try:
            # A full queue slows the publisher down a little before anything is dropped.
            self._rule_queue.put((topic, payload), timeout=_RULE_QUEUE_WAIT_S)
        except queue.Full:
            self.rules_dropped += 1
            log.warning(kv(event="rules_backlog_full_dropped", topic=topic))

    def _run_rules(self) -> None:
        while True:
            item = self._rule_queue.get()
            try:
                if item is None:
                    return
                if self.rules is not None:
                    self.rules.handle(*item)
            except Exception as err:  # a rule bug must not stop the rules for every later message
                log.exception(kv(event="rules_failed", topic=item[0] if item else "", error=err))
            finally:
                self._rule_queue.task_done()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every message offered so far went through the rules; ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        with self._rule_queue.all_tasks_done:
            while self._rule_queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._rule_queue.all_tasks_done.wait(remaining)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Run the rules for what is queued, then stop the rules thread."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is None:
            return
        self.flush(timeout)
        self._rule_queue.put(None)
        worker.join(timeout)
