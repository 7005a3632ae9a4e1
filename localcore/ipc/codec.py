"""The event-stream frame codec (``vnd.amazon.eventstream``) that Greengrass IPC runs on.

Layout (big-endian), as in aws-c-event-stream::

    total_length u32 | headers_length u32 | prelude_crc u32 | headers | payload | message_crc u32

Both CRCs are plain CRC-32 (``zlib.crc32``): the prelude CRC over the first 8 bytes, the message
CRC over everything before it. Limits are the C library's: 24 MiB per message, header names up to
255 bytes, string and byte-buffer values up to 32767 bytes.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from localcore.ipc.errors import FrameError

PRELUDE_LENGTH = 12
TRAILER_LENGTH = 4
OVERHEAD = PRELUDE_LENGTH + TRAILER_LENGTH
MAX_MESSAGE_SIZE = 24 * 1024 * 1024
MAX_HEADERS_SIZE = MAX_MESSAGE_SIZE
MAX_HEADER_NAME_LENGTH = 255
MAX_HEADER_VALUE_LENGTH = 32767

_PRELUDE = struct.Struct(">III")
_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")
_I8 = struct.Struct(">b")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")


class HeaderType(IntEnum):
    """Header value types on the wire (aws-c-event-stream ``aws_event_stream_header_value_type``)."""

    BOOL_TRUE = 0
    BOOL_FALSE = 1
    BYTE = 2
    INT16 = 3
    INT32 = 4
    INT64 = 5
    BYTE_BUF = 6
    STRING = 7
    TIMESTAMP = 8
    UUID = 9


@dataclass(frozen=True)
class Header:
    """One header. ``value`` is ``bool`` (BOOL_*), ``int`` (BYTE, INT*, TIMESTAMP), ``bytes``
    (BYTE_BUF), ``str`` (STRING) or ``uuid.UUID`` (UUID)."""

    name: str
    type: HeaderType
    value: Any

    @classmethod
    def string(cls, name: str, value: str) -> Header:
        """A STRING header."""
        return cls(name, HeaderType.STRING, value)

    @classmethod
    def int32(cls, name: str, value: int) -> Header:
        """An INT32 header."""
        return cls(name, HeaderType.INT32, value)


@dataclass
class Message:
    """A decoded frame: headers in wire order and the raw payload."""

    headers: list[Header]
    payload: bytes = b""
    _index: dict[str, Header] | None = field(default=None, repr=False, compare=False)

    def header(self, name: str) -> Header | None:
        """The header named ``name``, compared case-insensitively as the C RPC layer does."""
        if self._index is None:
            self._index = {h.name.lower(): h for h in self.headers}
        return self._index.get(name.lower())


def _encode_header(header: Header, out: bytearray) -> None:
    name = header.name.encode("utf-8")
    if not 1 <= len(name) <= MAX_HEADER_NAME_LENGTH:
        raise FrameError(
            f"header name {header.name!r} must be 1..{MAX_HEADER_NAME_LENGTH} bytes, got {len(name)}"
        )
    out.append(len(name))
    out += name
    kind = HeaderType(header.type)
    value = header.value
    if kind in (HeaderType.BOOL_TRUE, HeaderType.BOOL_FALSE):
        out.append(HeaderType.BOOL_TRUE if value else HeaderType.BOOL_FALSE)
        return
    out.append(kind)
    try:
        if kind is HeaderType.BYTE:
            out += _I8.pack(value)
        elif kind is HeaderType.INT16:
            out += _I16.pack(value)
        elif kind is HeaderType.INT32:
            out += _I32.pack(value)
        elif kind in (HeaderType.INT64, HeaderType.TIMESTAMP):
            out += _I64.pack(value)
        elif kind is HeaderType.UUID:
            raw = value.bytes if isinstance(value, uuid.UUID) else bytes(value)
            if len(raw) != 16:
                raise FrameError(f"header {header.name!r}: a UUID is 16 bytes, got {len(raw)}")
            out += raw
        else:
            raw = value.encode("utf-8") if kind is HeaderType.STRING else bytes(value)
            if len(raw) > MAX_HEADER_VALUE_LENGTH:
                raise FrameError(
                    f"header {header.name!r}: value is {len(raw)} bytes, the limit is {MAX_HEADER_VALUE_LENGTH}"
                )
            out += _U16.pack(len(raw))
            out += raw
    except struct.error as err:
        raise FrameError(f"header {header.name!r}: value {value!r} does not fit {kind.name}") from err


def encode_headers(headers: list[Header]) -> bytes:
    """The encoded headers block (used to pre-build constant header runs on the hot path)."""
    out = bytearray()
    for header in headers:
        _encode_header(header, out)
    return bytes(out)


def encode_raw(headers_block: bytes, payload: bytes) -> bytes:
    """Frame an already-encoded headers block and a payload, computing both CRCs."""
    total = OVERHEAD + len(headers_block) + len(payload)
    if total > MAX_MESSAGE_SIZE:
        raise FrameError(f"message is {total} bytes, the limit is {MAX_MESSAGE_SIZE}")
    prelude = _PRELUDE.pack(total, len(headers_block), 0)[:8]
    prelude += _U32.pack(zlib.crc32(prelude))
    body = prelude + headers_block + payload
    return body + _U32.pack(zlib.crc32(body))


def encode(message: Message) -> bytes:
    """Encode a message into one frame.

    Raises:
        FrameError: a header name or value over the limits, or a message over 24 MiB.
    """
    return encode_raw(encode_headers(message.headers), message.payload)


def _decode_headers(block: memoryview) -> list[Header]:
    headers: list[Header] = []
    pos = 0
    end = len(block)
    try:
        while pos < end:
            name_len = block[pos]
            pos += 1
            if name_len == 0:
                raise FrameError(f"header at byte {pos - 1} has an empty name")
            if pos + name_len + 1 > end:
                raise FrameError("header name runs past the end of the headers block")
            name = bytes(block[pos : pos + name_len]).decode("utf-8")
            pos += name_len
            kind = block[pos]
            pos += 1
            value: Any
            if kind == HeaderType.BOOL_TRUE:
                value = True
            elif kind == HeaderType.BOOL_FALSE:
                value = False
            elif kind == HeaderType.BYTE:
                value = _I8.unpack_from(block, pos)[0]
                pos += 1
            elif kind == HeaderType.INT16:
                value = _I16.unpack_from(block, pos)[0]
                pos += 2
            elif kind == HeaderType.INT32:
                value = _I32.unpack_from(block, pos)[0]
                pos += 4
            elif kind in (HeaderType.INT64, HeaderType.TIMESTAMP):
                value = _I64.unpack_from(block, pos)[0]
                pos += 8
            elif kind == HeaderType.UUID:
                if pos + 16 > end:
                    raise FrameError(f"header {name!r}: UUID runs past the end of the headers block")
                value = uuid.UUID(bytes=bytes(block[pos : pos + 16]))
                pos += 16
            elif kind in (HeaderType.BYTE_BUF, HeaderType.STRING):
                length = _U16.unpack_from(block, pos)[0]
                pos += 2
                if length > MAX_HEADER_VALUE_LENGTH:
                    raise FrameError(f"header {name!r}: value length {length} over {MAX_HEADER_VALUE_LENGTH}")
                if pos + length > end:
                    raise FrameError(f"header {name!r}: value runs past the end of the headers block")
                raw = bytes(block[pos : pos + length])
                value = raw.decode("utf-8") if kind == HeaderType.STRING else raw
                pos += length
            else:
                raise FrameError(f"header {name!r} has unknown value type {kind} (expected 0..9)")
            headers.append(Header(name, HeaderType(kind), value))
    except struct.error as err:
        raise FrameError("a header value runs past the end of the headers block") from err
    except UnicodeDecodeError as err:
        raise FrameError(f"a header name or STRING value is not UTF-8: {err}") from err
    return headers


def check_prelude(prelude: bytes | memoryview, max_message_size: int = MAX_MESSAGE_SIZE) -> tuple[int, int]:
    """Validate a 12-byte prelude; return ``(total_length, headers_length)``.

    Raises:
        FrameError: bad prelude CRC, a length under 16 or over ``max_message_size``, or headers
            longer than the message allows.
    """
    total, headers_len, crc = _PRELUDE.unpack_from(prelude, 0)
    actual = zlib.crc32(bytes(prelude[:8]))
    if crc != actual:
        raise FrameError(f"prelude CRC mismatch: frame says {crc:#010x}, computed {actual:#010x}")
    if total < OVERHEAD:
        raise FrameError(f"total length {total} is below the 16-byte minimum")
    if total > max_message_size:
        raise FrameError(f"total length {total} exceeds the {max_message_size}-byte limit")
    if headers_len > total - OVERHEAD:
        raise FrameError(f"headers length {headers_len} does not fit in a {total}-byte message")
    return total, headers_len


def decode(frame: bytes | bytearray | memoryview, max_message_size: int = MAX_MESSAGE_SIZE) -> Message:
    """Decode exactly one complete frame.

    Raises:
        FrameError: anything malformed, including trailing or missing bytes.
    """
    view = memoryview(frame)
    if len(view) < PRELUDE_LENGTH:
        raise FrameError(f"frame is {len(view)} bytes, shorter than the 12-byte prelude")
    total, headers_len = check_prelude(view[:PRELUDE_LENGTH], max_message_size)
    if len(view) != total:
        raise FrameError(f"frame is {len(view)} bytes but its prelude says {total}")
    return _decode_body(view, total, headers_len)


def _decode_body(view: memoryview, total: int, headers_len: int) -> Message:
    (crc,) = _U32.unpack_from(view, total - 4)
    actual = zlib.crc32(view[: total - 4])
    if crc != actual:
        raise FrameError(f"message CRC mismatch: frame says {crc:#010x}, computed {actual:#010x}")
    headers = _decode_headers(view[PRELUDE_LENGTH : PRELUDE_LENGTH + headers_len])
    payload = bytes(view[PRELUDE_LENGTH + headers_len : total - 4])
    return Message(headers, payload)


class FrameDecoder:
    """Incremental decoder: feed bytes as they arrive, get whole messages back.

    After a ``FrameError`` the stream is unusable (the frame boundary is lost); the caller closes
    the connection, as the C client does.
    """

    def __init__(self, max_message_size: int = MAX_MESSAGE_SIZE) -> None:
        self._buffer = bytearray()
        self._max = max_message_size
        self._need: tuple[int, int] | None = None  # (total, headers_len) once the prelude is checked

    def feed(self, data: bytes) -> list[Message]:
        """Add ``data``; return every message now complete, in order."""
        buf = self._buffer
        buf += data
        messages: list[Message] = []
        start = 0
        available = len(buf)
        view = memoryview(buf)
        try:
            while True:
                if self._need is None:
                    if available - start < PRELUDE_LENGTH:
                        break
                    self._need = check_prelude(view[start : start + PRELUDE_LENGTH], self._max)
                total, headers_len = self._need
                if available - start < total:
                    break
                messages.append(_decode_body(view[start : start + total], total, headers_len))
                self._need = None
                start += total
        finally:
            view.release()
        if start:
            del buf[:start]
        return messages

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete message."""
        return len(self._buffer)
