"""Event-stream RPC framing (protocol 0.1.0): message types, flags and the frames the server sends.

Every frame the server sends carries the three INT32 headers ``:message-type``,
``:message-flags`` and ``:stream-id``; the client closes the connection otherwise (reference 2.1).
Application frames with a body also carry ``:content-type: application/json`` and
``service-model-type``. The constant part of each header block is built once and cached, since it
only varies by stream id on the hot path.
"""

from __future__ import annotations

import json
import struct
from enum import IntEnum
from typing import Any

from localcore.ipc.codec import Header, encode_headers, encode_raw

VERSION = "0.1.0"
CONTENT_TYPE_JSON = "application/json"


class MessageType(IntEnum):
    """``:message-type`` values (aws-c-event-stream ``event_stream_rpc.h``)."""

    APPLICATION_MESSAGE = 0
    APPLICATION_ERROR = 1
    PING = 2
    PING_RESPONSE = 3
    CONNECT = 4
    CONNECT_ACK = 5
    PROTOCOL_ERROR = 6
    INTERNAL_ERROR = 7


CONNECTION_ACCEPTED = 0x1
TERMINATE_STREAM = 0x2

_STREAM_ID_PREFIX = bytes([len(":stream-id")]) + b":stream-id" + bytes([4])
_I32 = struct.Struct(">i")
_prefix_cache: dict[tuple[int, int, str | None, str | None], bytes] = {}


def _prefix(message_type: int, flags: int, model_type: str | None, content_type: str | None) -> bytes:
    key = (message_type, flags, model_type, content_type)
    block = _prefix_cache.get(key)
    if block is None:
        headers = [Header.int32(":message-type", message_type), Header.int32(":message-flags", flags)]
        if content_type is not None:
            headers.append(Header.string(":content-type", content_type))
        if model_type is not None:
            headers.append(Header.string("service-model-type", model_type))
        block = encode_headers(headers)
        _prefix_cache[key] = block
    return block


def frame(
    message_type: int,
    flags: int,
    stream_id: int,
    payload: bytes = b"",
    *,
    model_type: str | None = None,
    content_type: str | None = None,
) -> bytes:
    """One server frame; ``content_type`` defaults to JSON when a ``model_type`` is given."""
    if model_type is not None and content_type is None:
        content_type = CONTENT_TYPE_JSON
    headers = (
        _prefix(message_type, flags, model_type, content_type) + _STREAM_ID_PREFIX + _I32.pack(stream_id)
    )
    return encode_raw(headers, payload)


_ENCODER = json.JSONEncoder(
    separators=(",", ":"), allow_nan=False
)  # built once: dumps() with options rebuilds it


def json_bytes(body: Any) -> bytes:
    """Serialize a JSON body the way the Python client expects to read it (UTF-8, no NaN)."""
    if not body:
        return b"{}" if isinstance(body, dict) else _ENCODER.encode(body).encode("utf-8")
    return _ENCODER.encode(body).encode("utf-8")


def connect_ack(accepted: bool) -> bytes:
    """CONNECT_ACK: flags 1 accepts the connection, 0 refuses it."""
    return frame(MessageType.CONNECT_ACK, CONNECTION_ACCEPTED if accepted else 0, 0)


def ping_response(payload: bytes = b"") -> bytes:
    """PING_RESPONSE on stream 0."""
    return frame(MessageType.PING_RESPONSE, 0, 0, payload)


def protocol_error(message: str) -> bytes:
    """PROTOCOL_ERROR on stream 0, sent before the server drops a misbehaving connection."""
    return frame(
        MessageType.PROTOCOL_ERROR, 0, 0, json_bytes({"message": message}), content_type=CONTENT_TYPE_JSON
    )
