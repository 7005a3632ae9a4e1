"""The event-stream frame codec: round trips, the real client's bytes, and every malformed case."""

from __future__ import annotations

import struct
import uuid
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localcore.ipc.codec import (
    MAX_HEADER_VALUE_LENGTH,
    FrameDecoder,
    Header,
    HeaderType,
    Message,
    decode,
    encode,
    encode_raw,
)
from localcore.ipc.errors import FrameError

# The real client's CONNECT frame, as captured in the reference (section 1.1).
REAL_CONNECT = bytes.fromhex(
    "00000079"
    "00000048"
    "e9e79475"
    "083a76657273696f6e0700053"
    "02e312e30"
    "0d3a6d6573736167652d747970650400000004"
    "0e3a6d6573736167652d666c6167730400000000"
    "0a3a73747265616d2d69640400000000"
    "7b2261757468546f6b656e223a202241424344454647483132333435363738227d"
    "ca1248df"
)

names = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=20).filter(
    lambda s: len(s.encode()) <= 255
)


def _value_for(kind: HeaderType) -> st.SearchStrategy[object]:
    return {
        HeaderType.BOOL_TRUE: st.just(True),
        HeaderType.BOOL_FALSE: st.just(False),
        HeaderType.BYTE: st.integers(-128, 127),
        HeaderType.INT16: st.integers(-(2**15), 2**15 - 1),
        HeaderType.INT32: st.integers(-(2**31), 2**31 - 1),
        HeaderType.INT64: st.integers(-(2**63), 2**63 - 1),
        HeaderType.TIMESTAMP: st.integers(-(2**63), 2**63 - 1),
        HeaderType.BYTE_BUF: st.binary(max_size=300),
        HeaderType.STRING: st.text(max_size=100),
        HeaderType.UUID: st.uuids(),
    }[kind]


headers = st.sampled_from(list(HeaderType)).flatmap(
    lambda kind: st.builds(Header, names, st.just(kind), _value_for(kind))
)
messages = st.builds(
    Message,
    st.lists(headers, max_size=8, unique_by=lambda h: h.name),
    st.binary(max_size=2000),
)


@settings(max_examples=150, deadline=None)
@given(messages)
def test_every_message_round_trips(message: Message) -> None:
    assert decode(encode(message)) == message


@settings(max_examples=60, deadline=None)
@given(st.lists(messages, min_size=1, max_size=5), st.data())
def test_incremental_decoder_reassembles_any_chunking(batch: list[Message], data: st.DataObject) -> None:
    wire = b"".join(encode(m) for m in batch)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=10)))
    decoder = FrameDecoder()
    out: list[Message] = []
    start = 0
    for cut in [*cuts, len(wire)]:
        out += decoder.feed(wire[start:cut])
        start = cut
    assert out == batch
    assert decoder.buffered == 0


def test_decodes_the_real_clients_connect_frame() -> None:
    message = decode(REAL_CONNECT)
    assert message.header(":VERSION") == Header(":version", HeaderType.STRING, "0.1.0")
    assert message.header(":message-type").value == 4  # type: ignore[union-attr]
    assert message.payload == b'{"authToken": "ABCDEFGH12345678"}'
    assert encode(message) == REAL_CONNECT


def _corrupt(frame: bytes, offset: int, value: int) -> bytes:
    return frame[:offset] + bytes([value]) + frame[offset + 1 :]


def test_bad_prelude_crc_is_refused() -> None:
    with pytest.raises(FrameError, match="prelude CRC"):
        decode(_corrupt(REAL_CONNECT, 9, REAL_CONNECT[9] ^ 0xFF))


def test_bad_message_crc_is_refused() -> None:
    with pytest.raises(FrameError, match="message CRC"):
        decode(_corrupt(REAL_CONNECT, 50, REAL_CONNECT[50] ^ 0x01))


def _prelude(total: int, headers_len: int) -> bytes:
    head = struct.pack(">II", total, headers_len)
    return head + struct.pack(">I", zlib.crc32(head))


def test_oversized_length_is_refused_before_reading_the_body() -> None:
    decoder = FrameDecoder(max_message_size=1024)
    with pytest.raises(FrameError, match="exceeds the 1024-byte limit"):
        decoder.feed(_prelude(1025, 0))
    with pytest.raises(FrameError, match="exceeds"):
        FrameDecoder().feed(_prelude(0xFFFFFFFF, 0))


def test_too_short_total_and_headers_longer_than_the_message_are_refused() -> None:
    with pytest.raises(FrameError, match="below the 16-byte minimum"):
        FrameDecoder().feed(_prelude(15, 0))
    with pytest.raises(FrameError, match="does not fit"):
        FrameDecoder().feed(_prelude(20, 5))


def test_unknown_header_type_is_refused() -> None:
    block = b"\x01a\x0a"
    with pytest.raises(FrameError, match="unknown value type 10"):
        decode(encode_raw(block, b""))


@pytest.mark.parametrize(
    "block",
    [b"\x05ab", b"\x01a\x04\x00\x00", b"\x01a\x07\x00\x09abc", b"\x01a\x09" + b"\x00" * 5, b"\x00"],
    ids=["name-past-end", "int32-short", "string-past-end", "uuid-short", "empty-name"],
)
def test_truncated_headers_are_refused(block: bytes) -> None:
    with pytest.raises(FrameError):
        decode(encode_raw(block, b""))


def test_frame_shorter_or_longer_than_its_prelude_is_refused() -> None:
    with pytest.raises(FrameError, match="shorter than the 12-byte prelude"):
        decode(REAL_CONNECT[:5])
    with pytest.raises(FrameError, match="prelude says"):
        decode(REAL_CONNECT + b"x")


def test_encoder_refuses_values_over_the_limits() -> None:
    with pytest.raises(FrameError, match="32767"):
        encode(Message([Header.string("s", "x" * (MAX_HEADER_VALUE_LENGTH + 1))]))
    with pytest.raises(FrameError, match=r"1\.\.255"):
        encode(Message([Header("n" * 256, HeaderType.INT32, 1)]))
    with pytest.raises(FrameError, match="does not fit INT32"):
        encode(Message([Header.int32("i", 2**31)]))
    with pytest.raises(FrameError, match="UUID is 16 bytes"):
        encode(Message([Header("u", HeaderType.UUID, b"short")]))


def test_uuid_header_accepts_raw_bytes() -> None:
    value = uuid.uuid4()
    message = decode(encode(Message([Header("u", HeaderType.UUID, value.bytes)])))
    assert message.header("u") == Header("u", HeaderType.UUID, value)


def test_header_cache_is_not_fooled_by_a_value_that_looks_like_the_stream_id_header() -> None:
    # A STRING value holding the stream-id header's bytes, followed by differing bytes: each frame
    # must decode to exactly its own headers, first time and cached.
    lookalike = "\n:stream-id\x04"
    for tail in ("AAAA", "BBBB", "AAAA"):
        message = Message([Header.string("x", lookalike + tail + "end"), Header.int32(":stream-id", 7)])
        assert decode(encode(message)) == message
    for stream_id in (1, 2, 1, 99):
        message = Message([Header.int32(":message-type", 0), Header.int32(":stream-id", stream_id)], b"p")
        decoded = decode(encode(message))
        assert decoded == message
        assert decoded.header(":STREAM-ID") == Header(":stream-id", HeaderType.INT32, stream_id)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=1, max_size=5), st.binary(max_size=8))
def test_cached_decoding_matches_plain_decoding(stream_ids: list[int], junk: bytes) -> None:
    for stream_id in stream_ids:
        message = Message(
            [
                Header.string("operation", "aws.greengrass#PublishToTopic"),
                Header("blob", HeaderType.BYTE_BUF, b"\n:stream-id\x04" + junk),
                Header.int32(":stream-id", stream_id),
            ],
            b"{}",
        )
        assert decode(encode(message)) == message
