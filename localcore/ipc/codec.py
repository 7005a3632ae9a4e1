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
from typing import Any, NamedTuple

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


class Header(NamedTuple):
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
    # (the decoder fills _index in; a hand-built message gets it on first lookup)

    def index(self) -> dict[str, Header]:
        """Headers by lower-case name (the C RPC layer compares names case-insensitively)."""
        if self._index is None:
            self._index = {h.name.lower(): h for h in self.headers}
        return self._index

    def header(self, name: str) -> Header | None:
        """The header named ``name``, compared case-insensitively."""
        return self.index().get(name.lower())


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


_TYPES = tuple(HeaderType)
_FIXED_SIZES = {2: _I8, 3: _I16, 4: _I32, 5: _I64, 8: _I64}


def _decode_headers(block: bytes) -> list[Header]:
    # The hot path of every request: plain bytes indexing and a type table, no enum calls.
    headers: list[Header] = []
    pos = 0
    end = len(block)
    types = _TYPES
    try:
        while pos < end:
            name_len = block[pos]
            pos += 1
            if name_len == 0:
                raise FrameError(f"header at byte {pos - 1} has an empty name")
            if pos + name_len + 1 > end:
                raise FrameError("header name runs past the end of the headers block")
            name = block[pos : pos + name_len].decode("utf-8")
            pos += name_len
            kind = block[pos]
            pos += 1
            value: Any
            fixed = _FIXED_SIZES.get(kind)
            if fixed is not None:
                if pos + fixed.size > end:
                    raise FrameError(f"header {name!r}: value runs past the end of the headers block")
                value = fixed.unpack_from(block, pos)[0]
                pos += fixed.size
            elif kind == 7 or kind == 6:
                if pos + 2 > end:
                    raise FrameError(f"header {name!r}: value length runs past the end of the headers block")
                length = (block[pos] << 8) | block[pos + 1]
                pos += 2
                if length > MAX_HEADER_VALUE_LENGTH:
                    raise FrameError(f"header {name!r}: value length {length} over {MAX_HEADER_VALUE_LENGTH}")
                if pos + length > end:
                    raise FrameError(f"header {name!r}: value runs past the end of the headers block")
                raw = block[pos : pos + length]
                value = raw.decode("utf-8") if kind == 7 else raw
                pos += length
            elif kind == 0 or kind == 1:
                value = kind == 0
            elif kind == 9:
                if pos + 16 > end:
                    raise FrameError(f"header {name!r}: UUID runs past the end of the headers block")
                value = uuid.UUID(bytes=block[pos : pos + 16])
                pos += 16
            else:
                raise FrameError(f"header {name!r} has unknown value type {kind} (expected 0..9)")
            headers.append(Header(name, types[kind], value))
    except UnicodeDecodeError as err:
        raise FrameError(f"a header name or STRING value is not UTF-8: {err}") from err
    return headers


_STREAM_ID_MARK = b"\x0a:stream-id\x04"
_STREAM_ID_TYPE = HeaderType.INT32
_CACHE_LIMIT = 512
# Header blocks of one operation differ only in the stream id, so decoded blocks are cached with
# the 4 stream-id bytes cut out: key -> (headers, stream-id header position, index by lower name).
_header_cache: dict[bytes, tuple[list[Header], int, dict[str, Header]]] = {}


def _decode_headers_cached(block: bytes) -> tuple[list[Header], dict[str, Header]]:
    mark = block.find(_STREAM_ID_MARK)
    if mark < 0 or mark + 16 > len(block):
        headers = _decode_headers(block)
        return headers, {h.name.lower(): h for h in headers}
    value_at = mark + len(_STREAM_ID_MARK)
    key = block[:value_at] + block[value_at + 4 :]
    cached = _header_cache.get(key)
    stream_id = _I32.unpack_from(block, value_at)[0]
    if cached is None:
        headers = _decode_headers(block)
        # Cache only when the marker really is the stream-id header (not bytes inside a value):
        # then every block with the same key decodes the same apart from that one value.
        position = _header_offsets(block).get(mark)
        index = {h.name.lower(): h for h in headers}
        if position is not None and headers[position] == Header(":stream-id", _STREAM_ID_TYPE, stream_id):
            if len(_header_cache) >= _CACHE_LIMIT:
                _header_cache.clear()
            _header_cache[key] = (headers, position, index)
        return headers, index
    template, position, template_index = cached
    stream_header = Header(":stream-id", _STREAM_ID_TYPE, stream_id)
    headers = list(template)
    headers[position] = stream_header
    index = dict(template_index)
    index[":stream-id"] = stream_header
    return headers, index


def _header_offsets(block: bytes) -> dict[int, int]:
    """Byte offset -> header position, for a block that already decoded cleanly."""
    offsets: dict[int, int] = {}
    pos = 0
    count = 0
    while pos < len(block):
        offsets[pos] = count
        name_len = block[pos]
        pos += 1 + name_len
        kind = block[pos]
        pos += 1
        fixed = _FIXED_SIZES.get(kind)
        if fixed is not None:
            pos += fixed.size
        elif kind in (6, 7):
            pos += 2 + ((block[pos] << 8) | block[pos + 1])
        elif kind == 9:
            pos += 16
        count += 1
    return offsets


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
    headers, index = _decode_headers_cached(bytes(view[PRELUDE_LENGTH : PRELUDE_LENGTH + headers_len]))
    payload = bytes(view[PRELUDE_LENGTH + headers_len : total - 4])
    return Message(headers, payload, index)


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
