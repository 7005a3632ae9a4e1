"""The wire form with the real awsiotsdk client against localcore: every bundle message leaves as a
binary payload of compact JSON, subscribers read both that and a ``jsonMessage`` from other
producers, reading batches arrive whole and within the limit, and an oversized message is refused
before it reaches the socket.

Why binary: nucleus lite drops a JSON message of more than ~50 nodes for its subscribers and
silences the subscription, while a binary payload is one node whatever its size
(``PAYLOAD_MAX_SUBOBJECTS``, ``modules/core-bus/src/client_subscribe.c``); a message over its
10,000-byte IPC buffer closes the publisher's connection (``GGL_IPC_MAX_MSG_LEN``,
``modules/ggipcd/src/ipc_server.h``). Both from ../shared/reference/nucleus-lite.md.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage, SubscriptionResponseMessage

from components.common import topics
from components.common.exceptions import MessageTooLargeError
from components.common.ipc import ComponentIpc
from components.common.messages import iter_readings, reading_message
from components.common.publisher import Coalescing, IpcPublisher
from components.common.wire_limits import MAX_MESSAGE_BYTES, encode
from localcore.ipc.testing import IpcHarness, ipc_server
from tests.components.rig import pubsub_acl, wait_until

TOPIC = "test/wire"
THING = "dev-1"


@pytest.fixture
def core(tmp_path: Path) -> Iterator[IpcHarness]:
    components = {
        "test.Producer": pubsub_acl(publish=[TOPIC, topics.READINGS]),
        "test.Consumer": pubsub_acl(subscribe=[TOPIC, topics.READINGS]),
    }
    with ipc_server(tmp_path, components=components) as harness:
        yield harness


class RawEvents:
    """What a plain SDK subscriber receives: the events themselves, not decoded."""

    def __init__(self) -> None:
        self.events: list[SubscriptionResponseMessage] = []
        self.lock = threading.Lock()

    def __call__(self, event: SubscriptionResponseMessage) -> None:
        with self.lock:
            self.events.append(event)

    def wait(self, count: int) -> list[SubscriptionResponseMessage]:
        wait_until(lambda: len(self.events) >= count, what=f"{count} events")
        with self.lock:
            return list(self.events)


def test_a_bundle_message_goes_as_binary_json(core: IpcHarness) -> None:
    raw = RawEvents()
    consumer = core.client("test.Consumer")
    consumer.subscribe_to_topic(topic=TOPIC, on_stream_event=raw)
    producer = ComponentIpc(core.client("test.Producer"), "test.Producer", THING)
    message = {"schema": "edgebundle.alert.v1", "readings": [{"values": {"t": 21.5}}] * 30, "text": "é"}
    producer.publish_json(TOPIC, message)
    (event,) = raw.wait(1)
    assert event.json_message is None and event.binary_message is not None
    assert event.binary_message.message == encode(message)  # compact UTF-8 JSON, as sent
    assert json.loads(event.binary_message.message) == message


def test_subscribers_read_json_and_binary_json_alike(core: IpcHarness) -> None:
    seen: list[Any] = []
    consumer = ComponentIpc(core.client("test.Consumer"), "test.Consumer", THING)
    consumer.subscribe_json(TOPIC, seen.append)
    other = core.client("test.Producer")  # another producer, e.g. a PLC bridge sending JSON
    other.publish_to_topic(
        topic=TOPIC, publish_message=PublishMessage(json_message=JsonMessage(message={"partId": "L1-1"}))
    )
    ComponentIpc(other, "test.Producer", THING).publish_json(TOPIC, {"partId": "L1-2"})
    wait_until(lambda: len(seen) == 2, what="both messages")
    assert seen == [{"partId": "L1-1"}, {"partId": "L1-2"}]


def test_reading_batches_arrive_whole_and_within_the_limit(core: IpcHarness) -> None:
    raw = RawEvents()
    core.client("test.Consumer").subscribe_to_topic(topic=topics.READINGS, on_stream_event=raw)
    producer = ComponentIpc(core.client("test.Producer"), "test.Producer", THING)
    publisher = IpcPublisher(
        producer, coalescing=Coalescing(topics.READINGS, "sensing", window=1, min_interval_s=0.05)
    )
    count = 600
    try:
        for seq in range(count):  # faster than one message per 50 ms: they batch
            publisher.publish(
                topics.READINGS,
                reading_message(
                    "line1-env", seq, 1.0 + seq, "environment", {"t": 20.0, "h": 40.0}, {"t": "C", "h": "%"}
                ),
            )
        assert publisher.flush(timeout=30.0)
    finally:
        publisher.close()
    events = raw.wait(publisher.metrics()["sent"])
    payloads = [event.binary_message.message for event in events if event.binary_message is not None]
    assert len(payloads) == len(events)  # none went as a jsonMessage
    assert all(payload is not None and len(payload) <= MAX_MESSAGE_BYTES for payload in payloads)
    readings = [reading.seq for payload in payloads for reading in iter_readings(json.loads(payload or b""))]
    assert readings == list(range(count))
    assert publisher.metrics()["largestBatch"] > 1


def test_an_oversized_message_is_refused_and_the_connection_stays_usable(core: IpcHarness) -> None:
    seen: list[Any] = []
    ComponentIpc(core.client("test.Consumer"), "test.Consumer", THING).subscribe_json(TOPIC, seen.append)
    producer = ComponentIpc(core.client("test.Producer"), "test.Producer", THING)
    with pytest.raises(
        MessageTooLargeError, match=r"'test/wire' is \d+ bytes of JSON; expected at most 6500"
    ):
        producer.publish_json(TOPIC, {"blob": "x" * MAX_MESSAGE_BYTES})
    producer.publish_json(TOPIC, {"after": True})
    wait_until(lambda: seen == [{"after": True}], what="the next message")
