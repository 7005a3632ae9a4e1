"""Wire-level behaviour over a raw socket: handshake, stream rules, and bad input that must close
one connection only while a real client on another connection keeps working."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator

import awsiot.greengrasscoreipc
import pytest
from awscrt.exceptions import AwsCrtError
from awsiot.eventstreamrpc import AccessDeniedError, StreamClosedError
from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage

from localcore.ipc.codec import Header, Message, encode
from localcore.ipc.rpc import MessageType
from localcore.ipc.testing import IpcHarness
from tests.localcore.ipc.conditions import Collector, wait_until
from tests.localcore.ipc.raw_client import RawClient, connect_frame, int_header, rpc_frame


@pytest.fixture
def raw(core: IpcHarness) -> Iterator[RawClient]:
    client = RawClient(str(core.socket_path))
    yield client
    client.close()


def _handshake(raw: RawClient, core: IpcHarness) -> None:
    raw.send(connect_frame(core.token("com.example.Sub")))
    ack = raw.next_frame()
    assert (
        int_header(ack, ":message-type"),
        int_header(ack, ":message-flags"),
        int_header(ack, ":stream-id"),
    ) == (5, 1, 0)


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
    raw.send(rpc_frame(MessageType.PING, payload=b"hi"))
    pong = raw.next_frame()
    assert int_header(pong, ":message-type") == MessageType.PING_RESPONSE


@pytest.mark.parametrize(
    "frame",
    [
        connect_frame("NOT-A-TOKEN"),
        connect_frame(""),
        connect_frame("ignored", version="0.2.0"),
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
    assert [(int_header(f, ":message-type"), int_header(f, ":message-flags")) for f in frames] == [(5, 0)]


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
        connect_frame("x")[:-1] + b"\x00",  # bad message CRC
    ],
    ids=["zeros", "http", "huge-length", "bad-crc"],
)
def test_garbage_closes_only_that_connection(raw: RawClient, core: IpcHarness, data: bytes) -> None:
    raw.send(data)
    raw.wait_closed()
    _other_client_still_works(core)


def test_truncated_frame_then_hang_up_leaves_the_server_healthy(core: IpcHarness) -> None:
    raw = RawClient(str(core.socket_path))
    raw.send(connect_frame(core.token("com.example.Sub"))[:30])
    raw.close()
    _other_client_still_works(core)
    wait_until(lambda: core.server.connection_count == 1, what="half-open connection cleaned up")


@pytest.mark.parametrize(
    "frame",
    [
        rpc_frame(
            MessageType.APPLICATION_MESSAGE, stream_id=2, operation="aws.greengrass#PublishToTopic"
        ),  # gap
        rpc_frame(MessageType.APPLICATION_MESSAGE, stream_id=1),  # new stream without operation
        rpc_frame(MessageType.CONNECT),  # second CONNECT
        rpc_frame(
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
    assert [int_header(f, ":message-type") for f in frames] == [MessageType.PROTOCOL_ERROR]
    _other_client_still_works(core)


def test_application_message_before_connect_closes(raw: RawClient, core: IpcHarness) -> None:
    raw.send(
        rpc_frame(MessageType.APPLICATION_MESSAGE, stream_id=1, operation="aws.greengrass#PublishToTopic")
    )
    assert [int_header(f, ":message-type") for f in raw.wait_closed()] == [MessageType.PROTOCOL_ERROR]


def test_unknown_operation_closes_the_stream_without_a_model_type(raw: RawClient, core: IpcHarness) -> None:
    _handshake(raw, core)
    raw.send(
        rpc_frame(
            MessageType.APPLICATION_MESSAGE,
            stream_id=1,
            payload=b"{}",
            operation="aws.greengrass#DoSomethingElse",
            headers={":content-type": "application/json"},
        )
    )
    error = raw.next_frame()
    assert (
        int_header(error, ":message-type"),
        int_header(error, ":message-flags"),
        int_header(error, ":stream-id"),
    ) == (
        1,
        2,
        1,
    )
    assert error.header("service-model-type") is None
    assert (
        json.loads(error.payload)["message"] == "aws.greengrass#DoSomethingElse is an unsupported operation."
    )
    # The connection stays usable; a late close of the finished stream is ignored.
    raw.send(rpc_frame(MessageType.APPLICATION_MESSAGE, stream_id=1, flags=2))
    raw.send(rpc_frame(MessageType.PING))
    assert int_header(raw.next_frame(), ":message-type") == MessageType.PING_RESPONSE


def test_real_client_sees_stream_closed_for_an_unmodelled_operation(core: IpcHarness) -> None:
    # Pin: the client drops the error frame (no service-model-type, terminate set) and raises
    # StreamClosedError, as against the Java nucleus.
    client = core.client("com.example.Sub")
    operation = client.client.new_publish_to_topic()
    operation._model_name = lambda: "aws.greengrass#NotAnOperation"
    from awsiot.greengrasscoreipc.model import PublishToTopicRequest

    operation.activate(
        PublishToTopicRequest(topic="x", publish_message=PublishMessage(json_message=JsonMessage(message={})))
    )
    with pytest.raises(StreamClosedError):
        operation.get_response().result(5)


def test_every_server_frame_carries_the_three_int32_headers(raw: RawClient, core: IpcHarness) -> None:
    _handshake(raw, core)
    raw.send(
        rpc_frame(
            MessageType.APPLICATION_MESSAGE,
            stream_id=1,
            payload=json.dumps({"topic": "h/1"}).encode(),
            operation="aws.greengrass#SubscribeToTopic",
            headers={
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
        assert int_header(frame, ":stream-id") == 1 and int_header(frame, ":message-flags") == flags
        assert frame.header("service-model-type").value == model_type  # type: ignore[union-attr]
        assert frame.header(":content-type").value == "application/json"  # type: ignore[union-attr]
    assert json.loads(event.payload) == {"jsonMessage": {"message": {"n": 1}, "context": {"topic": "h/1"}}}
