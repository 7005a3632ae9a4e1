"""The lite profile's IPC server, with the real awsiotsdk client where it can say what lite does.

Facts from ``/work/shared/reference/nucleus-lite.md`` (``LITE:`` = ``aws-greengrass/aws-greengrass-lite``
at 326e992); each test names its section and source.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from awsiot.greengrasscoreipc.model import (
    BinaryMessage,
    JsonMessage,
    PublishMessage,
    ServiceError,
    UnauthorizedError,
)

from localcore.ipc.rpc import MessageType
from localcore.ipc.testing import IpcHarness, ipc_server
from localcore.profiles import LITE
from localcore.profiles.lite import LITE_OPERATIONS
from localcore.profiles.nodes import count_nodes
from tests.localcore.ipc.conditions import Collector
from tests.localcore.ipc.raw_client import RawClient, connect_frame, int_header, rpc_frame

PUB = "com.example.Pub"
SUB = "com.example.Sub"
ALL = {"aws.greengrass.ipc.pubsub": {"all": {"operations": ["*"], "resources": ["*"]}}}
NARROW = {"aws.greengrass.ipc.pubsub": {"p": {"operations": ["*"], "resources": ["allowed/*"]}}}


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[IpcHarness]:
    with ipc_server(tmp_path, {PUB: NARROW, SUB: ALL}, nucleus="lite") as core:
        yield core


def _json(message: object) -> PublishMessage:
    return PublishMessage(json_message=JsonMessage(message=message))


def _handshake(raw: RawClient, token: str) -> None:
    raw.send(connect_frame(token))
    ack = raw.next_frame()
    assert int_header(ack, ":message-type") == MessageType.CONNECT_ACK


def test_unserved_operations_answer_service_error_with_no_message_and_the_connection_stays_usable(
    lite: IpcHarness,
) -> None:
    """nucleus-lite.md "IPC operations" (``LITE:modules/ggipcd/src/ipc_dispatch.c``): anything but
    the served set answers ``ServiceError`` with an empty message, shadows included; the
    connection stays usable (observed). The payload has no ``message`` key, so ``.message`` is None."""
    client = lite.client(SUB)
    with pytest.raises(ServiceError) as raised:
        client.get_thing_shadow(thing_name="dev-1", shadow_name="sync")
    assert raised.value.message is None
    with pytest.raises(ServiceError):
        client.get_secret_value(secret_id="s")
    with pytest.raises(ServiceError):
        client.list_components()
    events = Collector()
    client.subscribe_to_topic(topic="after/error", **events.handlers())
    client.publish_to_topic(topic="after/error", publish_message=_json({"still": "usable"}))
    assert events.wait_for(1)[0].json_message.message == {"still": "usable"}


def test_the_served_set_is_lites() -> None:
    """nucleus-lite.md "IPC operations" (``LITE:README.md``, services under
    ``LITE:modules/ggipcd/src/services/``): eleven public operations, no shadow, metric or CLI
    component-listing operation."""
    assert all(LITE.serves(name) for name in LITE_OPERATIONS)
    for absent in (
        "GetThingShadow",
        "UpdateThingShadow",
        "ListComponents",
        "PutComponentMetric",
        "GetSecretValue",
    ):
        assert not LITE.serves(absent)


def test_error_payload_is_underscore_message_and_error_code_only(lite: IpcHarness) -> None:
    """nucleus-lite.md "Errors and handshake" (``LITE:modules/ggipcd/src/ipc_server.c``, ~line 334):
    ``{"_message", "_errorCode"}`` and no ``message`` key; topic not allowed is ``UnauthorizedError``."""
    with pytest.raises(UnauthorizedError) as raised:
        lite.client(PUB).publish_to_topic(topic="forbidden/x", publish_message=_json({}))
    assert raised.value.message is None
    raw = RawClient(str(lite.socket_path))
    try:
        _handshake(raw, lite.token(PUB))
        request = json.dumps({"topic": "forbidden/x", "publishMessage": {"jsonMessage": {"message": {}}}})
        raw.send(
            rpc_frame(
                MessageType.APPLICATION_MESSAGE,
                stream_id=1,
                payload=request.encode(),
                operation="aws.greengrass#PublishToTopic",
            )
        )
        error = raw.next_frame()
        assert int_header(error, ":message-type") == MessageType.APPLICATION_ERROR
        assert set(json.loads(error.payload)) == {"_message", "_errorCode"}
        assert json.loads(error.payload)["_errorCode"] == "UnauthorizedError"
    finally:
        raw.close()


@pytest.mark.parametrize(
    "frame",
    [connect_frame("not-a-token"), connect_frame("", version="0.1.0"), connect_frame("x", version="0.0.9")],
    ids=["bad token", "empty token", "wrong version"],
)
def test_a_refused_connect_gets_no_reply_and_the_socket_closes(lite: IpcHarness, frame: bytes) -> None:
    """nucleus-lite.md "Errors and handshake" (``LITE:modules/ggipc-auth/src/auth.c``): a rejected
    connect gets no reply, the socket is closed (observed for a bad token, an empty payload, a
    wrong version)."""
    raw = RawClient(str(lite.socket_path))
    try:
        raw.send(frame)
        assert raw.wait_closed() == []
    finally:
        raw.close()


def test_a_packet_over_the_ipc_buffer_closes_the_connection_and_a_smaller_one_passes(
    lite: IpcHarness,
) -> None:
    """nucleus-lite.md "Size limits" (``GGL_IPC_MAX_MSG_LEN`` 10000, ``LITE:modules/ggipcd/src/ipc_server.h``;
    ``ipc_server.c`` line 485): a larger incoming packet closes the client's whole connection."""
    events = Collector()
    lite.client(SUB).subscribe_to_topic(topic="allowed/big", **events.handlers())

    def publish(raw: RawClient, stream_id: int, size: int) -> None:
        body = {
            "topic": "allowed/big",
            "publishMessage": {"binaryMessage": {"message": base64.b64encode(b"x" * size).decode()}},
        }
        raw.send(
            rpc_frame(
                MessageType.APPLICATION_MESSAGE,
                stream_id=stream_id,
                payload=json.dumps(body).encode(),
                operation="aws.greengrass#PublishToTopic",
            )
        )

    raw = RawClient(str(lite.socket_path))
    try:
        _handshake(raw, lite.token(PUB))
        publish(raw, 1, 7_000)  # about 9,500 bytes of frame: inside the buffer
        assert int_header(raw.next_frame(), ":message-type") == MessageType.APPLICATION_MESSAGE
        publish(raw, 2, 7_600)  # about 10,300 bytes: over it
        assert raw.wait_closed() == []  # no PROTOCOL_ERROR: lite just closes
    finally:
        raw.close()
    assert len(events.wait_for(1)) == 1


def test_a_json_message_past_the_node_limit_is_dropped_and_that_subscription_goes_quiet(
    lite: IpcHarness,
) -> None:
    """nucleus-lite.md "Size limits" (``PAYLOAD_MAX_SUBOBJECTS 50``,
    ``LITE:modules/core-bus/src/client_subscribe.c`` line 36): a message of more sub-objects is
    dropped for the subscriber and that subscription receives nothing more, with no stream error.
    A map of 20 keys passed, 30 did not; binary payloads are one node whatever their size."""
    sub, pub = lite.client(SUB), lite.client(PUB)
    quiet, marker, fresh = Collector(), Collector(), Collector()
    sub.subscribe_to_topic(topic="allowed/t", **quiet.handlers())
    sub.subscribe_to_topic(topic="allowed/marker", **marker.handlers())
    twenty = {f"k{i}": i for i in range(20)}
    thirty = {f"k{i}": i for i in range(30)}
    assert count_nodes(twenty) <= 50 < count_nodes(thirty)
    pub.publish_to_topic(topic="allowed/t", publish_message=_json(twenty))
    pub.publish_to_topic(
        topic="allowed/t", publish_message=PublishMessage(binary_message=BinaryMessage(message=b"y" * 5000))
    )
    assert len(quiet.wait_for(2)) == 2
    pub.publish_to_topic(topic="allowed/t", publish_message=_json(thirty))
    pub.publish_to_topic(topic="allowed/t", publish_message=_json({"small": 1}))
    sub.subscribe_to_topic(topic="allowed/t", **fresh.handlers())
    pub.publish_to_topic(topic="allowed/t", publish_message=_json({"after": 1}))
    pub.publish_to_topic(topic="allowed/marker", publish_message=_json({"end": 1}))
    marker.wait_for(1)  # delivered in publish order: anything for the quiet subscription came first
    assert [e.json_message.message for e in fresh.wait_for(1)] == [{"after": 1}]
    assert len(quiet.events) == 2 and not quiet.errors and not quiet.closed


def test_classic_has_no_node_limit(tmp_path: Path) -> None:
    """The default profile is the classic nucleus: a JSON message of 100 keys is delivered
    (greengrass-ipc.md: event-stream messages up to 24 MiB, no node limit)."""
    with ipc_server(tmp_path, {SUB: ALL}) as core:
        client = core.client(SUB)
        events = Collector()
        client.subscribe_to_topic(topic="big/t", **events.handlers())
        client.publish_to_topic(topic="big/t", publish_message=_json({f"k{i}": i for i in range(100)}))
        assert len(events.wait_for(1)[0].json_message.message) == 100


def test_malformed_json_is_service_error_and_the_connection_stays(lite: IpcHarness) -> None:
    """nucleus-lite.md "Errors and handshake" (observed): malformed JSON answers ``ServiceError``,
    the connection is kept."""
    raw = RawClient(str(lite.socket_path))
    try:
        _handshake(raw, lite.token(SUB))
        raw.send(
            rpc_frame(
                MessageType.APPLICATION_MESSAGE,
                stream_id=1,
                payload=b"{not json",
                operation="aws.greengrass#PublishToTopic",
            )
        )
        error = raw.next_frame()
        assert json.loads(error.payload)["_errorCode"] == "ServiceError"
        request = {"topic": "x/y", "publishMessage": {"jsonMessage": {"message": {}}}}
        raw.send(
            rpc_frame(
                MessageType.APPLICATION_MESSAGE,
                stream_id=2,
                payload=json.dumps(request).encode(),
                operation="aws.greengrass#PublishToTopic",
            )
        )
        assert int_header(raw.next_frame(), ":message-type") == MessageType.APPLICATION_MESSAGE
    finally:
        raw.close()
