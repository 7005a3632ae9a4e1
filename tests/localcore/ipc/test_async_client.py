"""The asynchronous client styles: V2 ``*_async`` futures under asyncio, and the V1 operation API."""

from __future__ import annotations

import asyncio

from awsiot.greengrasscoreipc import client as v1
from awsiot.greengrasscoreipc.model import (
    JsonMessage,
    PublishMessage,
    PublishToTopicRequest,
    SubscribeToTopicRequest,
    SubscriptionResponseMessage,
)

from localcore.ipc.testing import IpcHarness
from tests.localcore.ipc.conditions import Collector


def test_v2_async_calls_under_asyncio(core: IpcHarness) -> None:
    client = core.client("com.example.Sub")
    events = Collector()

    async def scenario() -> None:
        await asyncio.wrap_future(
            client.subscribe_to_topic_async(topic="async/x", on_stream_event=events.on_event)[0]
        )
        await asyncio.gather(
            *(
                asyncio.wrap_future(
                    client.publish_to_topic_async(
                        topic="async/x",
                        publish_message=PublishMessage(json_message=JsonMessage(message={"i": i})),
                    )
                )
                for i in range(20)
            )
        )

    asyncio.run(scenario())
    assert [e.json_message.message["i"] for e in events.wait_for(20)] == list(range(20))


class _Handler(v1.SubscribeToTopicStreamHandler):
    def __init__(self, sink: Collector) -> None:
        super().__init__()
        self.sink = sink

    def on_stream_event(self, event: SubscriptionResponseMessage) -> None:
        self.sink.on_event(event)

    def on_stream_error(self, error: Exception) -> bool:
        return self.sink.on_error(error)

    def on_stream_closed(self) -> None:
        self.sink.on_closed()


def test_v1_operation_api(core: IpcHarness) -> None:
    ipc = core.client("com.example.Sub").client  # the V1 GreengrassCoreIPCClient underneath
    events = Collector()
    subscribe = ipc.new_subscribe_to_topic(_Handler(events))
    subscribe.activate(SubscribeToTopicRequest(topic="v1/x")).result(5)
    subscribe.get_response().result(5)
    publish = ipc.new_publish_to_topic()
    publish.activate(
        PublishToTopicRequest(
            topic="v1/x", publish_message=PublishMessage(json_message=JsonMessage(message="hello"))
        )
    ).result(5)
    publish.get_response().result(5)
    assert events.wait_for(1)[0].json_message.message == "hello"
    subscribe.close().result(5)
    events.wait_closed()
