"""Frames captured from the real awsiotsdk client on a bare socket, decoded with our codec: pins
what the client puts on the wire (reference 2.1, 2.3, 2.5, 2.6)."""

from __future__ import annotations

import json
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import awsiot.greengrasscoreipc
import pytest
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage

from localcore.ipc import rpc
from localcore.ipc.codec import FrameDecoder, HeaderType, Message
from localcore.ipc.rpc import MessageType


class Recorder:
    """A bare Unix socket that acks the handshake, answers each request with an empty response
    and records every frame the client sends."""

    def __init__(self, path: Path) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(1)
        self.frames: list[Message] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        decoder = FrameDecoder()
        with conn:
            while data := conn.recv(65536):
                for frame in decoder.feed(data):
                    with self._cond:
                        self.frames.append(frame)
                        self._cond.notify_all()
                    self._answer(conn, frame)

    @staticmethod
    def _answer(conn: socket.socket, frame: Message) -> None:
        kind = frame.header(":message-type").value  # type: ignore[union-attr]
        stream_id = frame.header(":stream-id").value  # type: ignore[union-attr]
        operation = frame.header("operation")
        if kind == MessageType.CONNECT:
            conn.sendall(rpc.connect_ack(True))
        elif operation is not None:
            name = operation.value.split("#")[1]
            streaming = name.startswith("SubscribeTo")
            conn.sendall(
                rpc.frame(
                    MessageType.APPLICATION_MESSAGE,
                    0 if streaming else rpc.TERMINATE_STREAM,
                    stream_id,
                    b"{}",
                    model_type=f"aws.greengrass#{name}Response",
                )
            )

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Message]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.frames) >= count, timeout):
                raise AssertionError(f"expected {count} frames, got {len(self.frames)}")
            return list(self.frames)


@pytest.fixture
def recorded() -> Iterator[tuple[Recorder, GreengrassCoreIPCClientV2]]:
    with tempfile.TemporaryDirectory(prefix="lc-cap-") as folder:
        recorder = Recorder(Path(folder) / "s")
        connection = awsiot.greengrasscoreipc.connect(
            ipc_socket=str(Path(folder) / "s"), authtoken="ABCDEFGH12345678"
        )
        client = GreengrassCoreIPCClientV2(client=connection)
        yield recorder, client
        client.close()
        recorder.listener.close()


def _headers(frame: Message) -> dict[str, tuple[HeaderType, object]]:
    return {h.name: (h.type, h.value) for h in frame.headers}


def test_connect_request_and_close_frames_of_the_real_client(
    recorded: tuple[Recorder, GreengrassCoreIPCClientV2],
) -> None:
    recorder, client = recorded
    client.publish_to_topic(
        topic="my/topic", publish_message=PublishMessage(json_message=JsonMessage(message={"temp": 21.5}))
    )
    _, operation = client.subscribe_to_topic(topic="my/#", on_stream_event=lambda e: None)
    operation.close().result(5)
    connect, publish, subscribe, close = recorder.wait_for(4)

    assert _headers(connect) == {
        ":version": (HeaderType.STRING, "0.1.0"),
        ":message-type": (HeaderType.INT32, 4),
        ":message-flags": (HeaderType.INT32, 0),
        ":stream-id": (HeaderType.INT32, 0),
    }
    assert connect.payload == b'{"authToken": "ABCDEFGH12345678"}'  # not JSON-escaped, with a space

    assert _headers(publish) == {
        ":content-type": (HeaderType.STRING, "application/json"),
        "service-model-type": (HeaderType.STRING, "aws.greengrass#PublishToTopicRequest"),
        ":message-type": (HeaderType.INT32, 0),
        ":message-flags": (HeaderType.INT32, 0),
        ":stream-id": (HeaderType.INT32, 1),
        "operation": (HeaderType.STRING, "aws.greengrass#PublishToTopic"),
    }
    assert json.loads(publish.payload) == {
        "topic": "my/topic",
        "publishMessage": {"jsonMessage": {"message": {"temp": 21.5}}},
    }

    assert _headers(subscribe)[":stream-id"] == (HeaderType.INT32, 2)  # stream ids go up by one
    assert _headers(close) == {
        ":message-type": (HeaderType.INT32, 0),
        ":message-flags": (HeaderType.INT32, 2),
        ":stream-id": (HeaderType.INT32, 2),
    }
    assert close.payload == b""
