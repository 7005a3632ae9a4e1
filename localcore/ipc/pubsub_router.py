"""Local pub/sub routing: subscription filters with MQTT wildcards, matched as the nucleus does.

Matching follows NUC ``SubscriptionTrie`` (:func:`localcore.mqtt_topics.local_pubsub_matches`).

Runs only on the server's event loop thread, so it needs no lock.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from localcore.ipc.rpc import json_bytes
from localcore.logfmt import kv
from localcore.mqtt_topics import has_wildcard, local_pubsub_matches
from localcore.profiles.nodes import count_nodes

log = logging.getLogger(__name__)

# The nucleus' pub/sub event shape (reference 2.7).
EVENT_TYPE = "aws.greengrass#SubscriptionResponseMessage"


@dataclass(eq=False)
class Subscription:
    """One SubscribeToTopic stream: where its events go and whose publishes it skips."""

    topic_filter: str
    component: str
    skip_own: bool
    deliver: Callable[[bytes], None]  # takes the event's JSON body
    closed: bool = field(default=False)
    sink: Any = None  # the subscriber's Connection, for flow control
    # Past a node limit (nucleus lite) a subscription gets nothing more, with no stream error.
    quiet: bool = field(default=False)


class PubSubRouter:
    """Subscriptions and the fan-out of one publish to every matching subscriber, in publish order."""

    def __init__(self, max_nodes: int | None = None) -> None:
        """``max_nodes``: a JSON message of more nodes silences every subscription it reaches, as
        nucleus lite's subscription decoder does (``None``: no limit, the classic nucleus)."""
        self._max_nodes = max_nodes
        self._exact: dict[str, list[Subscription]] = {}
        self._wild: list[Subscription] = []
        self._cache: dict[str, tuple[Subscription, ...]] = {}

    def add(self, subscription: Subscription) -> None:
        """Start delivering to ``subscription``."""
        if has_wildcard(subscription.topic_filter):
            self._wild.append(subscription)
        else:
            self._exact.setdefault(subscription.topic_filter, []).append(subscription)
        self._cache.clear()

    def remove(self, subscription: Subscription) -> None:
        """Stop delivering to ``subscription`` (idempotent)."""
        subscription.closed = True
        if has_wildcard(subscription.topic_filter):
            if subscription in self._wild:
                self._wild.remove(subscription)
        else:
            subs = self._exact.get(subscription.topic_filter)
            if subs and subscription in subs:
                subs.remove(subscription)
                if not subs:
                    del self._exact[subscription.topic_filter]
        self._cache.clear()

    def matching(self, topic: str) -> tuple[Subscription, ...]:
        """The subscriptions ``topic`` goes to (cached until the subscriptions change)."""
        found = self._cache.get(topic)
        if found is None:
            found = tuple(self._exact.get(topic, ())) + tuple(
                sub for sub in self._wild if local_pubsub_matches(sub.topic_filter, topic)
            )
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[topic] = found
        return found

    def __len__(self) -> int:
        return sum(len(subs) for subs in self._exact.values()) + len(self._wild)

    def publish_json(self, topic: str, message: object, publisher: str) -> int:
        """Deliver a ``jsonMessage``; return how many subscribers got it."""
        subs = self.matching(topic)
        if not subs:
            return 0
        body = (
            b'{"jsonMessage":{"message":'
            + json_bytes(message)
            + b',"context":{"topic":'
            + json.dumps(topic).encode()
            + b"}}}"
        )
        if self._max_nodes is not None:
            nodes = count_nodes(message)
            if nodes > self._max_nodes:
                self._silence(subs, topic, publisher, nodes)
        return self._fan_out(subs, body, publisher)

    def _silence(self, subs: tuple[Subscription, ...], topic: str, publisher: str, nodes: int) -> None:
        for sub in subs:
            if sub.closed or sub.quiet or (sub.skip_own and sub.component == publisher):
                continue
            sub.quiet = True
            log.warning(
                kv(
                    event="subscription_silenced",
                    subscriber=sub.component,
                    topic=topic,
                    nodes=nodes,
                    limit=self._max_nodes,
                    why="nucleus lite cannot decode the message and the subscription receives nothing more",
                )
            )

    def publish_binary(self, topic: str, message_b64: str, publisher: str) -> int:
        """Deliver a ``binaryMessage`` whose bytes are already base64 (as they came over the wire)."""
        subs = self.matching(topic)
        if not subs:
            return 0
        body = (
            b'{"binaryMessage":{"message":'
            + json.dumps(message_b64).encode()
            + b',"context":{"topic":'
            + json.dumps(topic).encode()
            + b"}}}"
        )
        return self._fan_out(subs, body, publisher)

    def publish_bytes(self, topic: str, payload: bytes, publisher: str) -> int:
        """Deliver raw bytes as a ``binaryMessage``."""
        return self.publish_binary(topic, base64.b64encode(payload).decode("ascii"), publisher)

    @staticmethod
    def _fan_out(subs: tuple[Subscription, ...], body: bytes, publisher: str) -> int:
        delivered = 0
        for sub in subs:
            if sub.closed or sub.quiet or (sub.skip_own and sub.component == publisher):
                continue
            sub.deliver(body)
            delivered += 1
        return delivered
