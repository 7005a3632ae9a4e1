"""PublishToTopic / SubscribeToTopic (NUC ``PubSubIPCEventStreamAgent``), and the local routing of
``$aws/things/.../shadow/{update,get,delete}`` requests to the shadow store (SHM ``PubSubIntegrator``)."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from typing import Any

from localcore.ipc.context import SHADOW_MANAGER, Call, CoreContext
from localcore.ipc.errors import invalid_arguments
from localcore.ipc.pubsub_router import Subscription
from localcore.logfmt import kv
from localcore.mqtt_topics import has_wildcard

log = logging.getLogger(__name__)

DESTINATION = "aws.greengrass.ipc.pubsub"
RECEIVE_ALL = "RECEIVE_ALL_MESSAGES"
RECEIVE_FROM_OTHERS = "RECEIVE_MESSAGES_FROM_OTHERS"

# $aws/things/{thing}/shadow[/name/{shadow}]/{update|get|delete}: a request, not a response topic.
_SHADOW_REQUEST = re.compile(r"^\$aws/things/([^/]+)/shadow(?:/name/([^/]+))?/(update|get|delete)$")


def publish_to_topic(call: Call) -> dict[str, Any]:
    """Deliver a JSON or binary message to every matching local subscriber."""
    topic = call.request.get("topic")
    if not topic:
        raise invalid_arguments("Publish topic must not be null")
    if not isinstance(topic, str):
        raise invalid_arguments("Publish topic must be a string")
    if "+" in topic or "#" in topic or "*" in topic:
        raise invalid_arguments("Publish topic must not contain a wildcard.")
    call.authorize(DESTINATION, topic)
    message = call.request.get("publishMessage")
    if not isinstance(message, dict):
        raise invalid_arguments(
            "Publish message is required: publishMessage with a jsonMessage or binaryMessage"
        )
    router = call.core.router
    json_message = message.get("jsonMessage")
    binary_message = message.get("binaryMessage")
    if isinstance(json_message, dict):
        router.publish_json(topic, json_message.get("message"), call.component)
        if topic.startswith("$aws/things/") and call.core.profile.serves_shadows:
            route_shadow_request(call.core, topic, json.dumps(json_message.get("message")).encode())
    elif isinstance(binary_message, dict):
        encoded = binary_message.get("message") or ""
        if not isinstance(encoded, str):
            raise invalid_arguments("binaryMessage.message must be a base64 string")
        if topic.startswith("$aws/things/") and call.core.profile.serves_shadows:
            try:
                raw = base64.b64decode(encoded, validate=True)
            except binascii.Error as err:
                raise invalid_arguments(f"binaryMessage.message is not base64: {err}") from err
            router.publish_binary(topic, encoded, call.component)
            route_shadow_request(call.core, topic, raw)
        else:
            router.publish_binary(topic, encoded, call.component)
    else:
        raise invalid_arguments(
            "Publish message is required: publishMessage with a jsonMessage or binaryMessage"
        )
    publisher = call.stream.connection
    for subscription in router.matching(topic):
        if subscription.sink is not None and subscription.sink.congested:
            subscription.sink.hold(publisher)
    return {}


def subscribe_to_topic(call: Call) -> dict[str, Any]:
    """Register a subscription that lives as long as the stream."""
    topic = call.request.get("topic")
    if not topic or not isinstance(topic, str):
        raise invalid_arguments("Subscribe topic must not be empty")
    call.authorize(DESTINATION, topic)
    mode = call.request.get("receiveMode")
    if mode is None:
        # DOCS ipc-publish-subscribe: wildcard filters default to messages from others only.
        mode = RECEIVE_FROM_OTHERS if has_wildcard(topic) else RECEIVE_ALL
    if mode not in (RECEIVE_ALL, RECEIVE_FROM_OTHERS):
        raise invalid_arguments(f"receiveMode must be {RECEIVE_ALL} or {RECEIVE_FROM_OTHERS}, got {mode!r}")
    stream = call.stream
    subscription = Subscription(
        topic, call.component, mode == RECEIVE_FROM_OTHERS, stream.send_event, sink=stream.connection
    )
    router = call.core.router
    router.add(subscription)
    stream.on_close(lambda: router.remove(subscription))
    return {}


def route_shadow_request(core: CoreContext, topic: str, payload: bytes) -> None:
    """Hand a local-topic shadow request to the shadow store with ShadowManager's identity.

    The store answers on the accepted/rejected topics itself; nothing comes back to the publisher.
    """
    match = _SHADOW_REQUEST.match(topic)
    shadows = core.shadows
    if match is None or shadows is None:
        return
    thing, shadow, action = match.group(1), match.group(2) or "", match.group(3)
    # The real store serves topic requests itself (client tokens, rejected topics); any other
    # ShadowService gets the plain calls.
    serve = getattr(shadows, "handle_topic_request", None)

    def run() -> None:
        if serve is not None:
            serve(topic, payload)
            return
        try:
            if action == "update":
                shadows.update(thing, shadow, payload, source="local")
            elif action == "get":
                shadows.get(thing, shadow)
            else:
                shadows.delete(thing, shadow, source="local")
        except Exception as err:
            log.info(
                kv(event="shadow_topic_request_failed", thing=thing, shadow=shadow, action=action, error=err)
            )

    # One ordered worker: an update published before a get is applied before it.
    core.submit_ordered(run)


HANDLERS = {"PublishToTopic": publish_to_topic, "SubscribeToTopic": subscribe_to_topic}
__all__ = ["HANDLERS", "SHADOW_MANAGER", "route_shadow_request"]
