"""MQTT topic names and topic filters as IoT Core matches them (MQTT 3.1.1 section 4.7).

``+`` fills exactly one level, ``#`` is last and alone in its level and matches the parent level
and everything below it; a filter starting with a wildcard never matches a ``$``-topic (4.7.2),
which is why ``#`` does not see ``$aws/things/...`` shadow traffic.

Example:
    >>> topic_matches("edgebundle/+/alerts", "edgebundle/dev-1/alerts")
    True
    >>> topic_matches("a/#", "a")
    True
"""

from __future__ import annotations

from localcore.cloud.exceptions import TopicFilterError

# IoT Core limits: 256 bytes of topic, 7 forward slashes beyond reserved prefixes; the byte limit
# is what users hit, the level count varies with $aws prefixes so it is not enforced here.
MAX_TOPIC_BYTES = 256


def validate_topic_name(topic: str) -> None:
    """Raise :class:`TopicFilterError` unless ``topic`` can be published to (no wildcards)."""
    if not topic:
        raise TopicFilterError("topic is empty; expected a name such as 'edgebundle/dev-1/alerts'")
    if len(topic.encode("utf-8")) > MAX_TOPIC_BYTES:
        raise TopicFilterError(f"topic {topic[:40]!r}... is longer than {MAX_TOPIC_BYTES} bytes")
    if "+" in topic or "#" in topic:
        raise TopicFilterError(f"topic {topic!r} contains a wildcard; publish needs a concrete topic")
    if "\x00" in topic:
        raise TopicFilterError(f"topic {topic!r} contains a NUL character")


def validate_topic_filter(topic_filter: str) -> None:
    """Raise :class:`TopicFilterError` unless ``topic_filter`` is a valid MQTT subscription filter."""
    if not topic_filter:
        raise TopicFilterError("topic filter is empty; expected e.g. 'edgebundle/+/commands'")
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


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether the concrete ``topic`` matches ``topic_filter`` (assumed valid)."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(topic_levels) == len(filter_levels)


def topic_level(topic: str, position: int) -> str | None:
    """IoT SQL ``topic(n)``: the 1-based level ``position`` of ``topic``, or ``None`` past the end."""
    levels = topic.split("/")
    if 1 <= position <= len(levels):
        return levels[position - 1]
    return None
