"""The one place components touch Greengrass IPC: a thin, typed wrapper over ``GreengrassCoreIPCClientV2``.

The client is created in a component's entry point (:meth:`ComponentIpc.connect`) and passed in,
so logic modules never open connections themselves and tests can run them against the real
local core. Under the real nucleus the same code runs unchanged: the client reads ``SVCUID`` and
``AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT`` from the environment the nucleus sets.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import (
    QOS,
    BinaryMessage,
    ConfigurationUpdateEvents,
    ConnectionStatus,
    IoTCoreConnectionStatusEvent,
    IoTCoreMessage,
    PublishMessage,
    ReportedLifecycleState,
    ResourceNotFoundError,
    ServiceError,
    SubscriptionResponseMessage,
)

from components.common.exceptions import IpcError, ShadowUnavailableError
from components.common.logs import kv
from components.common.wire_limits import encode_checked

log = logging.getLogger(__name__)

JsonHandler = Callable[[Any], None]


class Closeable(Protocol):
    """A subscription handle: ``close()`` ends it."""

    def close(self) -> object: ...


def shadow_topic(thing: str, shadow: str, suffix: str) -> str:
    """The local pub/sub topic of a named shadow, e.g. ``suffix='update/delta'``."""
    return f"$aws/things/{thing}/shadow/name/{shadow}/{suffix}"


def decode_subscription_message(event: SubscriptionResponseMessage) -> Any:
    """Return the JSON payload of a pub/sub event, whether it came as a JSON or a binary message.

    Raises:
        ValueError: a binary message that is not UTF-8 JSON.
    """
    if event.json_message is not None:
        return event.json_message.message
    if event.binary_message is not None and event.binary_message.message is not None:
        return json.loads(event.binary_message.message)
    raise ValueError("subscription event carries neither a JSON nor a binary message")


class ComponentIpc:
    """What a component needs from the nucleus, in the component's own terms.

    Args:
        client: a connected ``GreengrassCoreIPCClientV2``.
        component: the component's name, for logs.
        thing_name: the core device's thing name (``AWS_IOT_THING_NAME``).
    """

    def __init__(self, client: GreengrassCoreIPCClientV2, component: str, thing_name: str) -> None:
        self.client = client
        self.component = component
        self.thing_name = thing_name

    @classmethod
    def connect(cls, component: str) -> ComponentIpc:
        """Connect with the environment the nucleus (or localcore) gives a component."""
        thing = os.environ.get("AWS_IOT_THING_NAME")
        if not thing:
            raise IpcError("AWS_IOT_THING_NAME is not set: run the component under Greengrass or localcore")
        return cls(GreengrassCoreIPCClientV2(executor=ordered_event_executor(component)), component, thing)

    # -- local pub/sub -------------------------------------------------------------------------
    def publish_json(self, topic: str, message: dict[str, Any]) -> None:
        """Publish a JSON message on the local pub/sub, as a binary payload of its compact JSON.

        Binary, not a ``jsonMessage``: nucleus lite drops a JSON message of more than ~50 nodes
        for its subscribers and silences the subscription; a binary payload is one node
        (``components.common.wire_limits``). Subscribers decode both forms.

        Raises:
            MessageTooLargeError: over ``wire_limits.MAX_MESSAGE_BYTES``; nothing was sent.
        """
        self.publish_binary(topic, encode_checked(topic, message))

    def publish_json_async(self, topic: str, message: dict[str, Any]) -> Any:
        """:meth:`publish_json` without waiting for the core's acknowledgement; returns a future.

        Raises:
            MessageTooLargeError: as :meth:`publish_json`.
        """
        return self.publish_encoded_async(topic, encode_checked(topic, message))

    def publish_encoded_async(self, topic: str, payload: bytes) -> Any:
        """Publish JSON already encoded (``wire_limits.encode``) without waiting; returns a future.

        For callers that build a message from pieces they encoded once (the publisher's reading
        batches); the caller holds it to ``wire_limits.MAX_MESSAGE_BYTES``.
        """
        return self.client.publish_to_topic_async(
            topic=topic, publish_message=PublishMessage(binary_message=BinaryMessage(message=payload))
        )

    def publish_binary(self, topic: str, payload: bytes) -> None:
        """Publish raw bytes on the local pub/sub."""
        self.client.publish_to_topic(
            topic=topic, publish_message=PublishMessage(binary_message=BinaryMessage(message=payload))
        )

    def subscribe_json(
        self, topic: str, handler: JsonHandler, on_undecodable: Callable[[Exception], None] | None = None
    ) -> Closeable:
        """Call ``handler(payload)`` for every message on ``topic`` (JSON or binary JSON).

        A payload that cannot be decoded is logged and skipped (and passed to ``on_undecodable``,
        for components that count such messages); a handler's exception is logged and does not
        end the subscription.
        """

        def on_event(event: SubscriptionResponseMessage) -> None:
            try:
                payload = decode_subscription_message(event)
            except ValueError as err:
                log.warning(kv(event="undecodable_message", topic=topic, error=err))
                if on_undecodable is not None:
                    on_undecodable(err)
                return
            try:
                handler(payload)
            except Exception:
                log.exception(kv(event="handler_failed", topic=topic))

        _, operation = self.client.subscribe_to_topic(
            topic=topic,
            on_stream_event=on_event,
            on_stream_error=lambda err: _log_stream_error(topic, err),
        )
        return operation

    # -- IoT Core --------------------------------------------------------------------------------
    def publish_iot(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Publish to AWS IoT Core through the nucleus (spooled by it while offline)."""
        self.client.publish_to_iot_core(
            topic_name=topic, qos=QOS.AT_LEAST_ONCE if qos else QOS.AT_MOST_ONCE, payload=payload
        )

    def subscribe_iot_connection_status(self, handler: Callable[[bool], None]) -> Closeable:
        """Call ``handler(connected)`` on every change of the nucleus' IoT Core connection."""

        def on_event(event: IoTCoreConnectionStatusEvent) -> None:
            status = event.connection_status_event.status if event.connection_status_event else None
            if status is None:
                return
            try:
                handler(status == ConnectionStatus.CONNECTED)
            except Exception:
                log.exception(kv(event="handler_failed", stream="iot_connection_status"))

        _, operation = self.client.subscribe_to_iot_core_connection_status(
            on_stream_event=on_event,
            on_stream_error=lambda err: _log_stream_error("iot_connection_status", err),
        )
        return operation

    def subscribe_iot(self, topic: str, handler: Callable[[str, bytes], None]) -> Closeable:
        """Call ``handler(topic, payload)`` for every IoT Core message matching ``topic``."""

        def on_event(event: IoTCoreMessage) -> None:
            if event.message is None:
                return
            try:
                handler(event.message.topic_name or topic, event.message.payload or b"")
            except Exception:
                log.exception(kv(event="handler_failed", topic=topic))

        _, operation = self.client.subscribe_to_iot_core(
            topic_name=topic,
            qos=QOS.AT_LEAST_ONCE,
            on_stream_event=on_event,
            on_stream_error=lambda err: _log_stream_error(topic, err),
        )
        return operation

    # -- configuration ---------------------------------------------------------------------------
    def get_config(self, key_path: list[str] | None = None) -> Any:
        """This component's configuration at ``key_path`` (the whole of it by default)."""
        response = self.client.get_configuration(key_path=key_path or [])
        return response.value

    def subscribe_config(self, handler: Callable[[list[str]], None]) -> Closeable:
        """Call ``handler(key_path)`` whenever this component's configuration changes."""

        def on_event(event: ConfigurationUpdateEvents) -> None:
            update = event.configuration_update_event
            if update is None:
                return
            try:
                handler(list(update.key_path or []))
            except Exception:
                log.exception(kv(event="handler_failed", stream="configuration"))

        _, operation = self.client.subscribe_to_configuration_update(
            key_path=[], on_stream_event=on_event, on_stream_error=lambda e: _log_stream_error("config", e)
        )
        return operation

    # -- lifecycle and metrics -------------------------------------------------------------------
    def report_running(self) -> None:
        """Tell the nucleus this component is RUNNING (UpdateState)."""
        self.client.update_state(state=ReportedLifecycleState.RUNNING)

    def report_errored(self) -> None:
        """Tell the nucleus this component is ERRORED (UpdateState)."""
        self.client.update_state(state=ReportedLifecycleState.ERRORED)

    # -- shadows ---------------------------------------------------------------------------------
    def get_shadow(self, shadow: str) -> dict[str, Any] | None:
        """The named shadow's document of this core device, or ``None`` if it does not exist.

        Raises:
            ShadowUnavailableError: the core answered ``ServiceError`` (no shadow service).
        """
        try:
            response = self.client.get_thing_shadow(thing_name=self.thing_name, shadow_name=shadow)
        except ResourceNotFoundError:
            return None
        except ServiceError as err:
            raise _unavailable("GetThingShadow", shadow, err) from err
        document: dict[str, Any] = json.loads(response.payload)
        return document

    def update_shadow(self, shadow: str, document: dict[str, Any]) -> dict[str, Any]:
        """Update the named shadow; returns the accepted response document.

        Raises:
            ShadowUnavailableError: the core answered ``ServiceError`` (no shadow service).
        """
        try:
            response = self.client.update_thing_shadow(
                thing_name=self.thing_name, shadow_name=shadow, payload=json.dumps(document).encode()
            )
        except ServiceError as err:
            raise _unavailable("UpdateThingShadow", shadow, err) from err
        accepted: dict[str, Any] = json.loads(response.payload)
        return accepted

    def subscribe_shadow_documents(self, shadow: str, handler: JsonHandler) -> Closeable:
        """Call ``handler({"previous", "current", ...})`` after every accepted update of the named shadow."""
        return self.subscribe_json(shadow_topic(self.thing_name, shadow, "update/documents"), handler)

    def close(self) -> None:
        """Close the IPC connection."""
        self.client.close()


def _unavailable(operation: str, shadow: str, error: ServiceError) -> ShadowUnavailableError:
    # Nucleus lite's errors carry no message (the SDK's .message is None): say so rather than "None".
    detail = error.message or "no message"
    return ShadowUnavailableError(f"{operation} {shadow}: the core answered ServiceError ({detail})")


def ordered_event_executor(component: str) -> ThreadPoolExecutor:
    """The executor a component's client runs its stream callbacks on: one worker thread.

    The SDK's default is a many-worker pool, where a callback that takes a little longer lets the
    next event's callback overtake it, so two alerts of one sensor could reach a handler swapped.
    One worker keeps every subscription's events in the order the core sent them, and still keeps
    callbacks off the SDK's network thread (a callback may make a blocking IPC call).
    """
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{component}-ipc-events")


def _log_stream_error(topic: str, error: Exception) -> bool:
    log.warning(kv(event="stream_error", topic=topic, error=repr(error)))
    # Returning True closes the stream; a transient error should not end the subscription.
    return False
