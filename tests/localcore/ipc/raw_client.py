"""A byte-level IPC client for frames and behaviours the SDK never produces."""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping

from localcore.ipc.codec import FrameDecoder, Header, HeaderType, Message, encode
from localcore.ipc.rpc import MessageType


def rpc_frame(
    message_type: int,
    stream_id: int = 0,
    flags: int = 0,
    payload: bytes = b"",
    *,
    headers: Mapping[str, str] | None = None,
    **extra: str,
) -> bytes:
    """A frame with the three int32 headers, then a string header per ``extra`` keyword (``_``
    written ``-``), then ``headers`` as given (names that are no identifier: ``:content-type``)."""
    frame_headers = [
        Header.int32(":message-type", message_type),
        Header.int32(":message-flags", flags),
        Header.int32(":stream-id", stream_id),
    ]
    frame_headers += [Header.string(name.replace("_", "-"), value) for name, value in extra.items()]
    frame_headers += [Header.string(name, value) for name, value in (headers or {}).items()]
    return encode(Message(frame_headers, payload))


def connect_frame(token: str, version: str = "0.1.0") -> bytes:
    headers = [
        Header.string(":version", version),
        Header.int32(":message-type", MessageType.CONNECT),
        Header.int32(":message-flags", 0),
        Header.int32(":stream-id", 0),
    ]
    return encode(Message(headers, json.dumps({"authToken": token}).encode()))


class RawClient:
    """A byte-level client for frames the SDK would never send."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(path)
        self.decoder = FrameDecoder()
        self.frames: list[Message] = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next_frame(self) -> Message:
        while not self.frames:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the connection")
            self.frames += self.decoder.feed(data)
        return self.frames.pop(0)

    def wait_closed(self) -> list[Message]:
        """Read until the server closes; return the frames it sent before closing."""
        got = list(self.frames)
        self.frames.clear()
        while True:
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                return got
            if not data:
                return got
            got += self.decoder.feed(data)

    def close(self) -> None:
        self.sock.close()


def int_header(message: Message, name: str) -> int:
    """An INT32 header's value (asserting it is there and INT32)."""
    header = message.header(name)
    assert header is not None and header.type == HeaderType.INT32
    return int(header.value)
