"""A subscriber that stops reading slows its publisher down; nothing is dropped, nothing else stalls."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage

from localcore.ipc.rpc import MessageType
from localcore.ipc.testing import ipc_server
from tests.localcore.ipc.conditions import Collector, wait_until
from tests.localcore.ipc.conftest import PUBSUB_ALL
from tests.localcore.ipc.raw_client import RawClient, connect_frame, int_header, rpc_frame

COUNT = 400
PAD = "x" * 4000


def test_slow_subscriber_throttles_its_publisher_without_loss(tmp_path: Path) -> None:
    components = {"slow": PUBSUB_ALL, "pub": PUBSUB_ALL, "other": PUBSUB_ALL}
    # A small limit so a few messages congest; the raw subscriber reads nothing for now.
    with ipc_server(tmp_path, components, write_limit=32 * 1024) as core:
        server = core.server
        slow = RawClient(str(core.socket_path))
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.send(connect_frame(core.token("slow")))
        assert int_header(slow.next_frame(), ":message-flags") == 1
        slow.send(
            rpc_frame(
                MessageType.APPLICATION_MESSAGE,
                stream_id=1,
                payload=b'{"topic": "bulk"}',
                operation="aws.greengrass#SubscribeToTopic",
                headers={
                    ":content-type": "application/json",
                    "service-model-type": "aws.greengrass#SubscribeToTopicRequest",
                },
            )
        )
        slow.next_frame()  # the subscribe response

        publisher = core.client("pub")
        futures = [
            publisher.publish_to_topic_async(
                topic="bulk",
                publish_message=PublishMessage(json_message=JsonMessage(message={"seq": i, "pad": PAD})),
            )
            for i in range(COUNT)
        ]
        # WHEN the subscriber lags, the publisher is no longer read, so its publishes wait ...
        wait_until(lambda: server.throttled_count == 1, what="publisher throttled")
        assert not all(f.done() for f in futures)
        # ... while another component is served as usual
        other = core.client("other")
        events = Collector()
        other.subscribe_to_topic(topic="side", **events.handlers())
        other.publish_to_topic(
            topic="side", publish_message=PublishMessage(json_message=JsonMessage(message=1))
        )
        events.wait_for(1)

        # THEN once the subscriber reads, everything arrives, in order, and the publisher completes.
        seqs: list[int] = []
        while len(seqs) < COUNT:
            seqs.append(json.loads(slow.next_frame().payload)["jsonMessage"]["message"]["seq"])
        assert seqs == list(range(COUNT))
        for future in futures:
            future.result(10)
        wait_until(lambda: server.throttled_count == 0, what="publisher released")
        slow.close()
