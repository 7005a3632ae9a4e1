"""PublishToIoTCore / SubscribeToIoTCore / SubscribeToIoTCoreConnectionStatus through the
:class:`~localcore.contracts.CloudAdapter` (NUC ``builtin/services/mqttproxy/MqttProxyIPCAgent``)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from localcore.contracts import IotMessage
from localcore.ipc.context import Call
from localcore.ipc.errors import invalid_arguments, service_error
from localcore.ipc.rpc import json_bytes

DESTINATION = "aws.greengrass.ipc.mqttproxy"
_NOT_AUTHORIZED = "Not Authorized"  # MqttProxyIPCAgent answers exactly this on deny


def _qos(call: Call) -> int:
    qos = call.request.get("qos")
    if qos is None:
        raise invalid_arguments("QoS is required")
    if str(qos) not in ("0", "1"):
        raise invalid_arguments(f"Invalid QoS value: {qos}")
    return int(qos)


def _topic(call: Call) -> str:
    topic = call.request.get("topicName")
    if not topic or not isinstance(topic, str):
        raise invalid_arguments("Topic is required")
    return topic


def _b64(value: Any, field: str) -> bytes:
    try:
        return base64.b64decode(value or "", validate=True)
    except (binascii.Error, TypeError) as err:
        raise invalid_arguments(f"{field} must be base64: {err}") from err


def _message_from_request(request: dict[str, Any], topic: str, qos: int) -> IotMessage:
    payload = request.get("payload")
    if payload is None:
        raise invalid_arguments("Payload is required")
    props = request.get("userProperties") or []
    correlation = request.get("correlationData")
    payload_format = request.get("payloadFormat")
    expiry = request.get("messageExpiryIntervalSeconds")
    return IotMessage(
        topic=topic,
        payload=_b64(payload, "payload"),
        qos=qos,
        retain=bool(request.get("retain") or False),
        user_properties=tuple((str(p.get("key")), str(p.get("value"))) for p in props if isinstance(p, dict)),
        content_type=request.get("contentType"),
        correlation_data=_b64(correlation, "correlationData") if correlation is not None else None,
        response_topic=request.get("responseTopic"),
        payload_format=int(payload_format) if payload_format is not None else None,
        message_expiry_interval_seconds=int(expiry) if expiry is not None else None,
    )


def event_body(message: IotMessage) -> bytes:
    """The ``IoTCoreMessage`` event for one cloud message (MQTTMessage fields; absent ones left out)."""
    body: dict[str, Any] = {
        "topicName": message.topic,
        "payload": base64.b64encode(message.payload).decode("ascii"),
        "retain": message.retain,
    }
    if message.user_properties:
        body["userProperties"] = [{"key": k, "value": v} for k, v in message.user_properties]
    if message.message_expiry_interval_seconds is not None:
        body["messageExpiryIntervalSeconds"] = message.message_expiry_interval_seconds
    if message.correlation_data is not None:
        body["correlationData"] = base64.b64encode(message.correlation_data).decode("ascii")
    if message.response_topic is not None:
        body["responseTopic"] = message.response_topic
    if message.payload_format is not None:
        body["payloadFormat"] = str(message.payload_format)
    if message.content_type is not None:
        body["contentType"] = message.content_type
    return json_bytes({"message": body})


def _cloud(call: Call) -> Any:
    if call.core.cloud is None:
        raise service_error(f"Operation {call.operation} is not supported by Greengrass")
    return call.core.cloud


async def publish_to_iot_core(call: Call) -> dict[str, Any]:
    """Hand one message to the cloud adapter (in order, on the cloud worker)."""
    cloud = _cloud(call)
    topic = _topic(call)
    qos = _qos(call)
    call.authorize(DESTINATION, topic, mqtt_style=True, denial=_NOT_AUTHORIZED)
    message = _message_from_request(call.request, topic, qos)
    try:
        await call.core.cloud_call(cloud.publish, message)
    except Exception as err:
        raise service_error(f"Publish to topic {topic} failed: {err}") from err
    return {}


async def subscribe_to_iot_core(call: Call) -> dict[str, Any]:
    """Forward every cloud message matching ``topicName`` to this stream until it closes."""
    cloud = _cloud(call)
    topic = _topic(call)
    qos = _qos(call)
    call.authorize(DESTINATION, topic, mqtt_style=True, denial=_NOT_AUTHORIZED)
    stream = call.stream
    core = call.core

    def on_message(message: IotMessage) -> None:
        core.call_in_loop(stream.send_event, event_body(message))

    try:
        unsubscribe = await core.cloud_call(cloud.subscribe, topic, qos, on_message)
    except Exception as err:
        raise service_error(f"Subscribe to topic {topic} failed: {err}") from err
    stream.on_close(lambda: core.submit_ordered(unsubscribe))
    return {}


def subscribe_to_connection_status(call: Call) -> dict[str, Any]:
    """A ``connectionStatusEvent`` (CONNECTED / DISCONNECTED) on every change of the cloud link."""
    cloud = _cloud(call)
    stream = call.stream
    core = call.core

    def on_change(connected: bool) -> None:
        status = "CONNECTED" if connected else "DISCONNECTED"
        core.call_in_loop(stream.send_event, json_bytes({"connectionStatusEvent": {"status": status}}))

    remove = cloud.add_connection_listener(on_change)
    stream.on_close(remove)
    return {}


HANDLERS = {
    "PublishToIoTCore": publish_to_iot_core,
    "SubscribeToIoTCore": subscribe_to_iot_core,
    "SubscribeToIoTCoreConnectionStatus": subscribe_to_connection_status,
}
