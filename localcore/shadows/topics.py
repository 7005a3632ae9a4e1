"""ShadowManager's local pub/sub topics (reference section 6.5).

``$aws/things/{thing}/shadow`` (classic) or ``$aws/things/{thing}/shadow/name/{shadow}`` (named),
then ``/{get|update|delete}`` for requests and ``/{operation}/{accepted|rejected|delta|documents}``
for answers.
"""

from __future__ import annotations

from dataclasses import dataclass

OPERATIONS = ("get", "update", "delete")
# The IPC server subscribes ShadowManager to this filter and hands matches to handle_topic_request.
REQUEST_TOPIC_FILTER = "$aws/things/+/shadow/#"


@dataclass(frozen=True)
class ShadowTopicRequest:
    """A shadow request published on a local topic."""

    thing: str
    shadow: str  # "" for the classic shadow
    operation: str  # get | update | delete


def shadow_prefix(thing: str, shadow: str) -> str:
    """``$aws/things/{thing}/shadow`` or ``.../shadow/name/{shadow}``."""
    base = f"$aws/things/{thing}/shadow"
    return f"{base}/name/{shadow}" if shadow else base


def shadow_topic(thing: str, shadow: str, suffix: str) -> str:
    """A full topic, e.g. ``shadow_topic("t", "", "update/delta")``."""
    return f"{shadow_prefix(thing, shadow)}/{suffix}"


def parse_request_topic(topic: str) -> ShadowTopicRequest | None:
    """The request a topic names, or None if it is not a shadow request topic (answers included)."""
    parts = topic.split("/")
    if len(parts) < 5 or parts[0] != "$aws" or parts[1] != "things" or parts[3] != "shadow":
        return None
    thing, rest = parts[2], parts[4:]
    if len(rest) == 1:
        shadow, operation = "", rest[0]
    elif len(rest) == 3 and rest[0] == "name":
        shadow, operation = rest[1], rest[2]
        if not shadow:
            return None
    else:
        return None
    if not thing or operation not in OPERATIONS:
        return None
    return ShadowTopicRequest(thing=thing, shadow=shadow, operation=operation)
