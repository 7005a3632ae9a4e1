"""PublishToTopic / SubscribeToTopic with the real awsiotsdk client."""

from __future__ import annotations

import pytest
from awsiot.greengrasscoreipc.model import (
    BinaryMessage,
    InvalidArgumentsError,
    JsonMessage,
    PublishMessage,
    ReceiveMode,
    UnauthorizedError,
)

from localcore.ipc.testing import IpcHarness
from tests.localcore.ipc.conditions import Collector, wait_until


def _json(message: object) -> PublishMessage:
    return PublishMessage(json_message=JsonMessage(message=message))


def test_json_and_binary_messages_reach_a_subscriber_in_order(core: IpcHarness) -> None:
    pub, sub = core.client("com.example.Pub"), core.client("com.example.Sub")
    events = Collector()
    sub.subscribe_to_topic(topic="sensors/line1", **events.handlers())
    for i in range(50):
        pub.publish_to_topic(topic="sensors/line1", publish_message=_json({"seq": i, "t": 21.5}))
    pub.publish_to_topic(
        topic="sensors/line1",
        publish_message=PublishMessage(binary_message=BinaryMessage(message=b"\x00\xffraw")),
    )
    got = events.wait_for(51)
    assert [e.json_message.message["seq"] for e in got[:50]] == list(range(50))
    assert got[0].json_message.context.topic == "sensors/line1"
    assert got[50].binary_message.message == b"\x00\xffraw"
    assert got[50].json_message is None


@pytest.mark.parametrize(
    ("topic_filter", "published", "expected"),
    [
        (
            "sensors/+/temp",
            ["sensors/a/temp", "sensors/a/b/temp", "sensors/b/temp"],
            ["sensors/a/temp", "sensors/b/temp"],
        ),
        ("sensors/#", ["sensors", "sensors/a", "sensors/a/b"], ["sensors/a", "sensors/a/b"]),  # nucleus quirk
        ("#", ["x", "y/z"], ["x", "y/z"]),
    ],
)
def test_wildcard_subscriptions(
    core: IpcHarness, topic_filter: str, published: list[str], expected: list[str]
) -> None:
    sub = core.client("com.example.Sub")
    events = Collector()
    sub.subscribe_to_topic(
        topic=topic_filter, receive_mode=ReceiveMode.RECEIVE_ALL_MESSAGES, **events.handlers()
    )
    for topic in published:
        sub.publish_to_topic(topic=topic, publish_message=_json({"t": topic}))
    sub.publish_to_topic(topic="end/marker", publish_message=_json({}))  # '#' also sees this
    got = [e.json_message.context.topic for e in events.wait_for(len(expected))]
    assert [t for t in got if t != "end/marker"] == expected


def test_receive_mode_defaults_skip_own_messages_only_for_wildcard_filters(core: IpcHarness) -> None:
    sub = core.client("com.example.Sub")
    exact, wild, explicit_all = Collector(), Collector(), Collector()
    sub.subscribe_to_topic(topic="own/1", **exact.handlers())
    sub.subscribe_to_topic(topic="own/+", **wild.handlers())
    sub.subscribe_to_topic(
        topic="own/#", receive_mode=ReceiveMode.RECEIVE_ALL_MESSAGES, **explicit_all.handlers()
    )
    sub.publish_to_topic(topic="own/1", publish_message=_json({"from": "self"}))
    exact.wait_for(1)
    explicit_all.wait_for(1)
    core.server.publish_local("own/1", {"from": "core"}, "aws.greengrass.Other")
    assert [e.json_message.message["from"] for e in wild.wait_for(1)] == ["core"]


def test_from_others_mode_on_exact_topic(core: IpcHarness) -> None:
    sub = core.client("com.example.Sub")
    events = Collector()
    sub.subscribe_to_topic(
        topic="t/x", receive_mode=ReceiveMode.RECEIVE_MESSAGES_FROM_OTHERS, **events.handlers()
    )
    sub.publish_to_topic(topic="t/x", publish_message=_json({"n": 1}))
    core.server.publish_local("t/x", b"other", "someone.else")
    got = events.wait_for(1)
    assert got[0].binary_message.message == b"other"


def test_publish_validation_errors(core: IpcHarness) -> None:
    pub = core.client("com.example.Sub")
    for topic in ("a/+/b", "a/#", "a/*"):
        with pytest.raises(InvalidArgumentsError) as err:
            pub.publish_to_topic(topic=topic, publish_message=_json({}))
        assert err.value.message == "Publish topic must not contain a wildcard."
    with pytest.raises(InvalidArgumentsError) as no_message:
        pub.publish_to_topic(topic="a", publish_message=PublishMessage())
    assert "publishMessage" in no_message.value.message
    with pytest.raises(InvalidArgumentsError) as empty:
        pub.subscribe_to_topic(topic="", on_stream_event=lambda e: None)
    assert empty.value.message == "Subscribe topic must not be empty"


def test_denied_publish_and_subscribe_leave_the_connection_usable(core: IpcHarness) -> None:
    pub = core.client("com.example.Pub")
    with pytest.raises(UnauthorizedError) as denied:
        pub.publish_to_topic(topic="private/x", publish_message=_json({}))
    assert "com.example.Pub" in denied.value.message and "private/x" in denied.value.message
    # Subscribe policy lists the filter 'sensors/#' literally: 'sensors/+' is not covered.
    with pytest.raises(UnauthorizedError):
        pub.subscribe_to_topic(topic="sensors/+", on_stream_event=lambda e: None)
    assert core.server.subscription_count == 0
    events = Collector()
    pub.subscribe_to_topic(topic="alerts/+", **events.handlers())  # 'alerts/+' literally allowed
    pub.publish_to_topic(topic="sensors/ok", publish_message=_json({"ok": True}))
    assert core.server.subscription_count == 1


def test_client_closes_a_subscription(core: IpcHarness) -> None:
    sub = core.client("com.example.Sub")
    events = Collector()
    _, operation = sub.subscribe_to_topic(topic="c/1", **events.handlers())
    core.server.publish_local("c/1", {"n": 1}, "x")
    events.wait_for(1)
    operation.close().result(5)
    wait_until(lambda: core.server.subscription_count == 0, what="subscription dropped")
    core.server.publish_local("c/1", {"n": 2}, "x")
    # A later subscription on the same connection still works, and the closed one got nothing.
    later = Collector()
    sub.subscribe_to_topic(topic="c/1", **later.handlers())
    core.server.publish_local("c/1", {"n": 3}, "x")
    assert [e.json_message.message["n"] for e in later.wait_for(1)] == [3]
    assert len(events.events) == 1


def test_server_closes_subscriptions_of_an_unregistered_component(core: IpcHarness) -> None:
    sub = core.client("com.example.Sub")
    events = Collector()
    sub.subscribe_to_topic(topic="s/1", **events.handlers())
    core.server.unregister_component("com.example.Sub")
    events.wait_closed()
    wait_until(lambda: core.server.subscription_count == 0, what="subscription dropped")
    assert events.errors == []


def test_subscriptions_are_dropped_when_the_connection_goes(core: IpcHarness) -> None:
    sub = core.client("com.example.Sub")
    for i in range(3):
        sub.subscribe_to_topic(topic=f"d/{i}", on_stream_event=lambda e: None)
    assert core.server.subscription_count == 3
    sub.close()
    wait_until(lambda: core.server.subscription_count == 0, what="subscriptions dropped on disconnect")
    core.server.publish_local("d/1", {"after": "close"}, "x")  # nobody left; must not fail


def test_many_concurrent_clients_each_receive_in_order(core: IpcHarness) -> None:
    subscribers = [core.client("com.example.Sub") for _ in range(4)]
    collectors = [Collector() for _ in subscribers]
    for client, events in zip(subscribers, collectors, strict=True):
        client.subscribe_to_topic(
            topic="sensors/fan", receive_mode=ReceiveMode.RECEIVE_ALL_MESSAGES, **events.handlers()
        )
    publishers = [core.client("com.example.Pub") for _ in range(3)]
    futures = [
        client.publish_to_topic_async(topic="sensors/fan", publish_message=_json({"p": index, "seq": seq}))
        for seq in range(40)
        for index, client in enumerate(publishers)
    ]
    for future in futures:
        future.result(10)
    # Every subscriber sees each publisher's messages in that publisher's order, none lost.
    for events in collectors:
        got = events.wait_for(120, timeout=20)
        for index in range(3):
            assert [
                e.json_message.message["seq"] for e in got if e.json_message.message["p"] == index
            ] == list(range(40))
