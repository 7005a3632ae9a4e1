"""Wire-level behaviour over a raw socket: handshake, stream rules, and bad input that must close
one connection only while a real client on another connection keeps working."""

from __future__ import annotations

import json
import socket
import struct
import zlib
from collections.abc import Iterator

import awsiot.greengrasscoreipc
import pytest
from awscrt.exceptions import AwsCrtError
from awsiot.eventstreamrpc import AccessDeniedError, StreamClosedError
from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage

from localcore.ipc.codec import FrameDecoder, Header, HeaderType, Message, encode
from localcore.ipc.rpc import MessageType
from localcore.ipc.testing import IpcHarness
from tests.localcore.ipc.conditions import Collector, wait_until


def _msg(message_type: int, stream_id: int = 0, flags: int = 0, payload: bytes = b"", **extra: str) -> bytes:
    headers = [
        Header.int32(":message-type", message_type),
        Header.int32(":message-flags", flags),
        Header.int32(":stream-id", stream_id),
    ]
    headers += [Header.string(name.replace("_", "-"), value) for name, value in extra.items()]
    return encode(Message(headers, payload))


def _connect_frame(token: str, version: str = "0.1.0") -> bytes:
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


def _int(message: Message, name: str) -> int:
    header = message.header(name)
    assert header is not None and header.type == HeaderType.INT32
    return int(header.value)


@pytest.fixture
def raw(core: IpcHarness) -> Iterator[RawClient]:
    client = RawClient(str(core.socket_path))
    yield client
    client.close()


def _handshake(raw: RawClient, core: IpcHarness) -> None:
    raw.send(_connect_frame(core.token("com.example.Sub")))
    ack = raw.next_frame()
    assert (_int(ack, ":message-type"), _int(ack, ":message-flags"), _int(ack, ":stream-id")) == (5, 1, 0)


def _other_client_still_works(core: IpcHarness) -> None:
    client = core.client("com.example.Sub")
    events = Collector()
    client.subscribe_to_topic(topic="alive", **events.handlers())
    client.publish_to_topic(
        topic="alive", publish_message=PublishMessage(json_message=JsonMessage(message={"ok": 1}))
    )
    assert events.wait_for(1)[0].json_message.message == {"ok": 1}


def test_accepted_handshake_and_ping(raw: RawClient, core: IpcHarness) -> None:
    _handshake(raw, core)
    raw.send(_msg(MessageType.PING, payload=b"hi"))
    pong = raw.next_frame()
    assert _int(pong, ":message-type") == MessageType.PING_RESPONSE


@pytest.mark.parametrize(
    "frame",
    [
        _connect_frame("NOT-A-TOKEN"),
        _connect_frame(""),
        _connect_frame("ignored", version="0.2.0"),
        encode(
            Message(
                [
                    Header.int32(":message-type", 4),
                    Header.int32(":message-flags", 0),
                    Header.int32(":stream-id", 0),
                ],
                b"{not json",
            )
        ),
    ],
    ids=["unknown-token", "empty-token", "wrong-version", "bad-payload"],
)
def test_refused_handshake_is_an_ack_without_the_accepted_flag_then_close(
    raw: RawClient, core: IpcHarness, frame: bytes
) -> None:
    raw.send(frame)
    frames = raw.wait_closed()
    assert [(_int(f, ":message-type"), _int(f, ":message-flags")) for f in frames] == [(5, 0)]


def test_real_client_with_an_unknown_token_is_denied(core: IpcHarness) -> None:
    # Pinned client behaviour: AccessDeniedError, or the socket-closed race the reference describes.
    with pytest.raises((AccessDeniedError, AwsCrtError)):
        awsiot.greengrasscoreipc.connect(
            ipc_socket=str(core.socket_path), authtoken="WRONGTOKEN123456", timeout=5
        )
    _other_client_still_works(core)


@pytest.mark.parametrize(
    "data",
    [
        b"\x00" * 64,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        struct.pack(">II", 0xFFFFFFF0, 0) + struct.pack(">I", zlib.crc32(struct.pack(">II", 0xFFFFFFF0, 0))),
        _connect_frame("x")[:-1] + b"\x00",  # bad message CRC
    ],
    ids=["zeros", "http", "huge-length", "bad-crc"],
)
def test_garbage_closes_only_that_connection(raw: RawClient, core: IpcHarness, data: bytes) -> None:
    raw.send(data)
    raw.wait_closed()
    _other_client_still_works(core)


def test_truncated_frame_then_hang_up_leaves_the_server_healthy(core: IpcHarness) -> None:
    raw = RawClient(str(core.socket_path))
    raw.send(_connect_frame(core.token("com.example.Sub"))[:30])
    raw.close()
    _other_client_still_works(core)
    wait_until(lambda: core.server.connection_count == 1, what="half-open connection cleaned up")


@pytest.mark.parametrize(
    "frame",
    [
        _msg(MessageType.APPLICATION_MESSAGE, stream_id=2, operation="aws.greengrass#PublishToTopic"),  # gap
        _msg(MessageType.APPLICATION_MESSAGE, stream_id=1),  # new stream without operation
        _msg(MessageType.CONNECT),  # second CONNECT
        _msg(
            MessageType.PING, stream_id=1, operation="aws.greengrass#PublishToTopic"
        ),  # wrong type on a stream
        encode(Message([Header.int32(":message-type", 0), Header.int32(":stream-id", 1)])),  # missing flags
        encode(
            Message(
                [
                    Header.string(":message-type", "0"),
                    Header.int32(":message-flags", 0),
                    Header.int32(":stream-id", 1),
                ]
            )
        ),
    ],
    ids=["stream-gap", "no-operation", "second-connect", "ping-on-stream", "missing-flags", "string-type"],
)
def test_out_of_order_or_malformed_rpc_closes_the_connection(
    raw: RawClient, core: IpcHarness, frame: bytes
) -> None:
    _handshake(raw, core)
    raw.send(frame)
    frames = raw.wait_closed()
    assert [_int(f, ":message-type") for f in frames] == [MessageType.PROTOCOL_ERROR]
    _other_client_still_works(core)


def test_application_message_before_connect_closes(raw: RawClient, core: IpcHarness) -> None:
    raw.send(_msg(MessageType.APPLICATION_MESSAGE, stream_id=1, operation="aws.greengrass#PublishToTopic"))
    assert [_int(f, ":message-type") for f in raw.wait_closed()] == [MessageType.PROTOCOL_ERROR]


def test_unknown_operation_closes_the_stream_without_a_model_type(raw: RawClient, core: IpcHarness) -> None:
    _handshake(raw, core)
    raw.send(
        _msg(
            MessageType.APPLICATION_MESSAGE,
            stream_id=1,
            payload=b"{}",
            operation="aws.greengrass#DoSomethingElse",
            **{":content-type": "application/json"},
        )
    )
    error = raw.next_frame()
    assert (_int(error, ":message-type"), _int(error, ":message-flags"), _int(error, ":stream-id")) == (
        1,
        2,
        1,
    )
    assert error.header("service-model-type") is None
    assert (
        json.loads(error.payload)["message"] == "aws.greengrass#DoSomethingElse is an unsupported operation."
    )
    # The connection stays usable; a late close of the finished stream is ignored.
    raw.send(_msg(MessageType.APPLICATION_MESSAGE, stream_id=1, flags=2))
    raw.send(_msg(MessageType.PING))
    assert _int(raw.next_frame(), ":message-type") == MessageType.PING_RESPONSE


def test_real_client_sees_stream_closed_for_an_unmodelled_operation(core: IpcHarness) -> None:
    # Pin: the client drops the error frame (no service-model-type, terminate set) and raises
    # StreamClosedError, as against the Java nucleus.
    client = core.client("com.example.Sub")
    operation = client.client.new_publish_to_topic()
    operation._model_name = lambda: "aws.greengrass#NotAnOperation"  # type: ignore[method-assign]
    from awsiot.greengrasscoreipc.model import PublishToTopicRequest

    operation.activate(
        PublishToTopicRequest(topic="x", publish_message=PublishMessage(json_message=JsonMessage(message={})))
    )
    with pytest.raises(StreamClosedError):
        operation.get_response().result(5)


def test_every_server_frame_carries_the_three_int32_headers(raw: RawClient, core: IpcHarness) -> None:
    _handshake(raw, core)
    raw.send(
        _msg(
            MessageType.APPLICATION_MESSAGE,
            stream_id=1,
            payload=json.dumps({"topic": "h/1"}).encode(),
            operation="aws.greengrass#SubscribeToTopic",
            **{
                ":content-type": "application/json",
                "service-model-type": "aws.greengrass#SubscribeToTopicRequest",
            },
        )
    )
    response = raw.next_frame()
    core.server.publish_local("h/1", {"n": 1}, "x")
    event = raw.next_frame()
    for frame, model_type, flags in (
        (response, "aws.greengrass#SubscribeToTopicResponse", 0),
        (event, "aws.greengrass#SubscriptionResponseMessage", 0),
    ):
        assert _int(frame, ":stream-id") == 1 and _int(frame, ":message-flags") == flags
        assert frame.header("service-model-type").value == model_type  # type: ignore[union-attr]
        assert frame.header(":content-type").value == "application/json"  # type: ignore[union-attr]
    assert json.loads(event.payload) == {"jsonMessage": {"message": {"n": 1}, "context": {"topic": "h/1"}}}
