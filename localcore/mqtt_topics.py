"""MQTT topic names and filters: the one place localcore checks and matches them.

Two matchers, because the two brokers a Greengrass device talks to differ:

- :func:`iot_core_matches`, IoT Core (MQTT 3.1.1 section 4.7): ``+`` fills exactly one level,
  ``#`` is last and alone in its level and matches the parent level and everything below it; a
  filter starting with a wildcard never matches a ``$``-topic (4.7.2), which is why ``#`` does
  not see ``$aws/things/...`` shadow traffic. Used by the embedded cloud's broker, its topic
  rules and the in-memory recording cloud.
- :func:`local_pubsub_matches`, the nucleus' local publish/subscribe (NUC ``SubscriptionTrie``):
  the same wildcards, with one quirk kept from the nucleus: filter ``a/#`` is *not* matched by a
  publish to ``a`` itself (the trie only follows ``#`` on deeper levels), and ``$`` is not special.

Example:
    >>> iot_core_matches("factory/+/alerts", "factory/dev-1/alerts")
    True
    >>> iot_core_matches("a/#", "a"), local_pubsub_matches("a/#", "a")
    (True, False)
"""

from __future__ import annotations

# IoT Core limits: 256 bytes of topic, 7 forward slashes beyond reserved prefixes; the byte limit
# is what users hit, the level count varies with $aws prefixes so it is not enforced here.
MAX_TOPIC_BYTES = 256


class TopicFilterError(ValueError):
    """An MQTT topic or topic filter is malformed (misplaced ``+``/``#``, empty, too long)."""


def has_wildcard(topic_filter: str) -> bool:
    """Whether a subscription filter uses MQTT wildcards."""
    return "+" in topic_filter or "#" in topic_filter


def validate_topic_name(topic: str) -> None:
    """Raise :class:`TopicFilterError` unless ``topic`` can be published to (no wildcards)."""
    if not topic:
        raise TopicFilterError("topic is empty; expected a name such as 'factory/dev-1/alerts'")
    if len(topic.encode("utf-8")) > MAX_TOPIC_BYTES:
        raise TopicFilterError(f"topic {topic[:40]!r}... is longer than {MAX_TOPIC_BYTES} bytes")
    if has_wildcard(topic):
        raise TopicFilterError(f"topic {topic!r} contains a wildcard; publish needs a concrete topic")
    if "\x00" in topic:
        raise TopicFilterError(f"topic {topic!r} contains a NUL character")


def validate_topic_filter(topic_filter: str) -> None:
    """Raise :class:`TopicFilterError` unless ``topic_filter`` is a valid MQTT subscription filter."""
    if not topic_filter:
        raise TopicFilterError("topic filter is empty; expected e.g. 'factory/+/commands'")
    if len(topic_filter.encode("utf-8")) > MAX_TOPIC_BYTES:
        raise TopicFilterError(
            f"topic filter {topic_filter[:40]!r}... is longer than {MAX_TOPIC_BYTES} bytes"
        )
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise TopicFilterError(
                f"topic filter {topic_filter!r}: '#' must be a whole level and the last one (level {index})"
            )
        if "+" in level and level != "+":
            raise TopicFilterError(
                f"topic filter {topic_filter!r}: '+' must be a whole level (level {index})"
            )


def _levels_match(filter_levels: list[str], topic_levels: list[str], *, hash_matches_parent: bool) -> bool:
    for index, level in enumerate(filter_levels):
        if level == "#":
            # A lone '#' covers everything; 'a/#' covers 'a' itself only on IoT Core.
            return hash_matches_parent or index == 0 or index < len(topic_levels)
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(topic_levels) == len(filter_levels)


def iot_core_matches(topic_filter: str, topic: str) -> bool:
    """Whether the concrete ``topic`` matches ``topic_filter`` (assumed valid) as IoT Core matches."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    return _levels_match(topic_filter.split("/"), topic.split("/"), hash_matches_parent=True)


def local_pubsub_matches(topic_filter: str, topic: str) -> bool:
    """Whether ``topic`` matches ``topic_filter`` under the nucleus' local SubscriptionTrie rules."""
    if topic_filter == topic:
        return True
    if not has_wildcard(topic_filter):
        return False
    return _levels_match(topic_filter.split("/"), topic.split("/"), hash_matches_parent=False)


def topic_level(topic: str, position: int) -> str | None:
    """IoT SQL ``topic(n)``: the 1-based level ``position`` of ``topic``, or ``None`` past the end."""
    levels = topic.split("/")
    if 1 <= position <= len(levels):
        return levels[position - 1]
    return None
