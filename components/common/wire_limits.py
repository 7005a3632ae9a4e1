"""How big a local pub/sub message may be: nucleus lite's limits, defined once, and the wire encoding.

Greengrass nucleus lite (``aws-greengrass/aws-greengrass-lite``; facts in
``/work/shared/reference/nucleus-lite.md``) has two limits that break a component silently:

- **IPC buffer**: ``GGL_IPC_MAX_MSG_LEN`` is 10,000 bytes (``modules/ggipcd/src/ipc_server.h``).
  A larger packet closes the publisher's whole IPC connection (``ipc_server.c``: "EventStream
  packet does not fit in configured IPC buffer size."). Observed: JSON messages over about
  9,800 bytes, binary ones over about 7,400 (a binary payload travels base64 inside the frame).
- **Subscription payload nodes**: ``PAYLOAD_MAX_SUBOBJECTS`` is 50
  (``modules/core-bus/src/client_subscribe.c``). A JSON message of more than about 50 keys and
  values is dropped for the subscriber, and that subscription receives nothing more. A binary
  payload is one node whatever its size.

So every message the bundle publishes goes as a **binary payload of compact UTF-8 JSON**
(:func:`encode`): one node under lite, and delivered unchanged by the classic nucleus, whose
subscribers get the same bytes. Its size is held to :data:`MAX_MESSAGE_BYTES`, which leaves room
under lite's observed binary limit for the frame's headers, the topic and base64's growth. The
classic nucleus allows far more, so a message within these limits passes under both.

Subscribers accept either form (``components.common.ipc.decode_subscription_message``): what
other producers (a line's PLC bridge, the cloud's shadow deltas) send stays readable.
"""

from __future__ import annotations

import json
from typing import Any

from components.common.exceptions import MessageTooLargeError

#: nucleus lite's IPC buffer (``GGL_IPC_MAX_MSG_LEN``, ``modules/ggipcd/src/ipc_server.h``).
LITE_IPC_MAX_MSG_LEN = 10_000
#: The largest binary payload seen to pass lite's IPC buffer (the frame carries it base64-encoded).
LITE_OBSERVED_MAX_BINARY_BYTES = 7_400
#: The largest JSON message seen to pass lite's IPC buffer.
LITE_OBSERVED_MAX_JSON_BYTES = 9_800
#: nucleus lite's subscription decode limit (``PAYLOAD_MAX_SUBOBJECTS``,
#: ``modules/core-bus/src/client_subscribe.c``): keys and values of the decoded payload.
LITE_PAYLOAD_MAX_SUBOBJECTS = 50

#: The most bytes of encoded JSON the bundle puts in one message: 12 % under lite's observed
#: binary limit. Base64 makes 6,500 bytes 8,668 characters of the 10,000-byte frame, which
#: leaves over 1,300 for its headers (operation, stream id, content type: ~250) and the topic.
MAX_MESSAGE_BYTES = 6_500
#: The most characters of free text (an error, a reason) a message carries: drivers, cameras
#: and the cloud put no bound on theirs, and a message needs one.
MAX_TEXT_CHARS = 200
#: The most nodes a message may have in the form lite's subscription path decodes. A binary
#: payload is one; kept well under lite's 50 for JSON from other producers the docs describe.
MAX_MESSAGE_NODES = 40

#: The one message kind allowed past :data:`MAX_MESSAGE_BYTES`, with its own bound: camera frames
#: (``edgebundle.image.v1``, ``components.common.messages.IMAGE_V1``; a string here because
#: ``messages`` imports this module). A frame of any useful size is larger than lite's whole IPC
#: buffer (96x96 RGB is 27,648 bytes of pixels), so frames travel under the **classic nucleus
#: only**, whose event-stream messages may reach 24 MiB (greengrass-ipc.md 1.3): 16 MiB of pixels,
#: base64, and room for the other fields. They are off unless ``frames.topic`` is set.
CLASSIC_ONLY_LIMITS: dict[str, int] = {"edgebundle.image.v1": 16 * 1024 * 1024 * 4 // 3 + 4096}

_SEPARATORS = (",", ":")


def encode(message: Any) -> bytes:
    """The message as it goes on the wire: compact UTF-8 JSON for a binary payload.

    Encoded as the awsiotsdk client encodes a ``JsonMessage`` (Python's ``json``), so what a
    subscriber decodes is what it decoded before the bundle switched to binary payloads.
    """
    return json.dumps(message, separators=_SEPARATORS, ensure_ascii=False).encode("utf-8")


def encode_checked(topic: str, message: Any) -> bytes:
    """:func:`encode`, refusing a message over :data:`MAX_MESSAGE_BYTES`.

    Raises:
        MessageTooLargeError: the encoded message is too large; names the topic, the size and
            the limit. Sending it would close the component's IPC connection under nucleus lite.
    """
    payload = encode(message)
    schema = message.get("schema") if isinstance(message, dict) else None
    limit = (
        CLASSIC_ONLY_LIMITS.get(schema, MAX_MESSAGE_BYTES) if isinstance(schema, str) else MAX_MESSAGE_BYTES
    )
    if len(payload) > limit:
        raise MessageTooLargeError(
            f"message on {topic!r} is {len(payload)} bytes of JSON; expected at most "
            f"{limit} (nucleus lite closes the IPC connection of a message over {MAX_MESSAGE_BYTES})"
        )
    return payload


def count_nodes(value: Any) -> int:
    """Nodes of ``value`` as lite's subscription decoder counts them: every value (a map or a list
    included) and every map key.

    A map of 20 keys is 41 (itself, 20 keys, 20 values); lite passed 20 keys and dropped 30.
    """
    if isinstance(value, dict):
        return 1 + sum(1 + count_nodes(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return 1 + sum(count_nodes(item) for item in value)
    return 1


def wire_nodes(payload: bytes | dict[str, Any]) -> int:
    """Nodes of a message in the form it is published: one for a binary payload, else its JSON."""
    return 1 if isinstance(payload, (bytes, bytearray)) else count_nodes(payload)


def clip_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """``text`` cut to ``limit`` characters (an ellipsis marks the cut): error strings from drivers,
    cameras and the cloud have no length bound of their own, and a message must."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip_strings(value: Any, limit: int = MAX_TEXT_CHARS) -> Any:
    """A copy of ``value`` with every string value (not map keys) cut by :func:`clip_text`."""
    if isinstance(value, str):
        return clip_text(value, limit)
    if isinstance(value, dict):
        return {key: clip_strings(item, limit) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [clip_strings(item, limit) for item in value]
    return value
