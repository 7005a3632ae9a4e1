"""PublishToIoTCore / SubscribeToIoTCore / SubscribeToIoTCoreConnectionStatus through the
RecordingCloudAdapter, with the real client."""

from __future__ import annotations

import pytest
from awsiot.greengrasscoreipc.model import (
    QOS,
    ConnectionStatus,
    InvalidArgumentsError,
    PayloadFormat,
    ServiceError,
    UnauthorizedError,
    UserProperty,
)

from localcore.contracts import IotMessage
from localcore.ipc.recording_cloud import RecordingCloudAdapter
from localcore.ipc.testing import IpcHarness
from tests.localcore.ipc.conditions import Collector, wait_until


def _cloud(core: IpcHarness) -> RecordingCloudAdapter:
    assert isinstance(core.cloud, RecordingCloudAdapter)
    return core.cloud


def test_publish_reaches_the_cloud_with_every_mqtt5_field(core: IpcHarness) -> None:
    client = core.client("com.example.Pub")
    client.publish_to_iot_core(
        topic_name="dt/line1/telemetry",
        qos=QOS.AT_LEAST_ONCE,
        payload=b'{"t": 1}',
        retain=True,
        user_properties=[UserProperty(key="k", value="v")],
        message_expiry_interval_seconds=60,
        correlation_data=b"\x01\x02",
        response_topic="dt/line1/reply",
        payload_format=PayloadFormat.UTF8,
        content_type="application/json",
    )
    [message] = _cloud(core).wait_for_publishes(1)
    assert message == IotMessage(
        topic="dt/line1/telemetry",
        payload=b'{"t": 1}',
        qos=1,
        retain=True,
        user_properties=(("k", "v"),),
        content_type="application/json",
        correlation_data=b"\x01\x02",
        response_topic="dt/line1/reply",
        payload_format=1,
        message_expiry_interval_seconds=60,
    )


def test_async_publishes_keep_their_order(core: IpcHarness) -> None:
    client = core.client("com.example.Pub")
    futures = [
        client.publish_to_iot_core_async(
            topic_name="dt/a/telemetry", qos=QOS.AT_MOST_ONCE, payload=str(i).encode()
        )
        for i in range(100)
    ]
    for future in futures:
        future.result(10)
    assert [m.payload for m in _cloud(core).published] == [str(i).encode() for i in range(100)]


def test_mqtt_style_authorization(core: IpcHarness) -> None:
    client = core.client("com.example.Pub")
    client.publish_to_iot_core(topic_name="cmd", qos=QOS.AT_MOST_ONCE, payload=b"x")  # cmd/# covers cmd
    with pytest.raises(UnauthorizedError) as denied:
        client.publish_to_iot_core(topic_name="dt/a/b/telemetry", qos=QOS.AT_MOST_ONCE, payload=b"x")
    assert denied.value.message == "Not Authorized"
    with pytest.raises(UnauthorizedError):
        core.client("com.example.Sub").publish_to_iot_core(
            topic_name="cmd/x", qos=QOS.AT_MOST_ONCE, payload=b"x"
        )
    assert [m.topic for m in _cloud(core).published] == ["cmd"]


def test_publish_validation(core: IpcHarness) -> None:
    client = core.client("com.example.Pub")
    with pytest.raises(InvalidArgumentsError) as no_qos:
        client.publish_to_iot_core(topic_name="cmd/x", payload=b"x")
    assert no_qos.value.message == "QoS is required"
    with pytest.raises(InvalidArgumentsError) as bad_qos:
        client.publish_to_iot_core(topic_name="cmd/x", qos="2", payload=b"x")
    assert bad_qos.value.message == "Invalid QoS value: 2"
    with pytest.raises(InvalidArgumentsError) as no_topic:
        client.publish_to_iot_core(qos=QOS.AT_MOST_ONCE, payload=b"x")
    assert no_topic.value.message == "Topic is required"
    with pytest.raises(InvalidArgumentsError):
        client.publish_to_iot_core(topic_name="cmd/x", qos=QOS.AT_MOST_ONCE)


def test_cloud_failure_is_a_service_error(core: IpcHarness) -> None:
    _cloud(core).fail_publishes_with = "spool full"
    with pytest.raises(ServiceError) as failed:
        core.client("com.example.Pub").publish_to_iot_core(
            topic_name="cmd/x", qos=QOS.AT_MOST_ONCE, payload=b"x"
        )
    assert failed.value.message == "Publish to topic cmd/x failed: spool full"


def test_subscribe_receives_injected_messages_until_closed(core: IpcHarness) -> None:
    cloud = _cloud(core)
    client = core.client("com.example.Pub")
    events = Collector()
    _, operation = client.subscribe_to_iot_core(
        topic_name="cmd/#", qos=QOS.AT_LEAST_ONCE, **events.handlers()
    )
    cloud.wait_for_subscription("cmd/#")
    cloud.inject(
        IotMessage("cmd/line1/start", b'{"go": 1}', user_properties=(("a", "b"),), correlation_data=b"id")
    )
    cloud.inject(IotMessage("cmd/line1/stop", b"{}"))
    got = events.wait_for(2)
    assert got[0].message.topic_name == "cmd/line1/start"
    assert got[0].message.payload == b'{"go": 1}'
    assert got[0].message.user_properties[0].key == "a"
    assert got[0].message.correlation_data == b"id"
    assert got[1].message.topic_name == "cmd/line1/stop"
    operation.close().result(5)
    wait_until(lambda: cloud.subscriptions() == [], what="cloud unsubscribe")


def test_subscribe_denied_and_subscriptions_dropped_on_disconnect(core: IpcHarness) -> None:
    cloud = _cloud(core)
    client = core.client("com.example.Pub")
    with pytest.raises(UnauthorizedError):
        client.subscribe_to_iot_core(
            topic_name="other/#", qos=QOS.AT_MOST_ONCE, on_stream_event=lambda e: None
        )
    client.subscribe_to_iot_core(
        topic_name="dt/+/telemetry", qos=QOS.AT_MOST_ONCE, on_stream_event=lambda e: None
    )
    assert cloud.subscriptions() == ["dt/+/telemetry"]
    client.close()
    wait_until(lambda: cloud.subscriptions() == [], what="cloud unsubscribe on disconnect")


def test_connection_status_events(core: IpcHarness) -> None:
    cloud = _cloud(core)
    events = Collector()
    core.client("com.example.Nobody").subscribe_to_iot_core_connection_status(**events.handlers())
    cloud.set_connected(False)
    cloud.set_connected(True)
    got = events.wait_for(2)
    assert [e.connection_status_event.status for e in got] == [
        ConnectionStatus.DISCONNECTED,
        ConnectionStatus.CONNECTED,
    ]
