"""The ``cloud.*`` commands of the control channel, used by ``python -m localcore cloud ...``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from localcore.cloud.connectivity import FLAKY, STATES
from localcore.cloud.exceptions import CloudError
from localcore.mqtt_topics import TopicFilterError, validate_topic_filter

if TYPE_CHECKING:
    from localcore.cloud.service import EmbeddedCloud


def _command_error(message: str) -> Exception:
    from localcore.control import CommandError

    return CommandError(message)


def _text(args: dict[str, Any], name: str, default: str | None = None) -> str:
    value = args.get(name, default)
    if not isinstance(value, str):
        raise _command_error(f"argument {name!r} must be a string, got {value!r}")
    return value


def register_cloud_commands(control: Any, cloud: EmbeddedCloud) -> None:
    """Register every ``cloud.*`` command of ``cloud`` on ``control``."""
    from localcore.cloud.service import message_to_json

    def publish(args: dict[str, Any]) -> Any:
        qos = args.get("qos", 0)
        if qos not in (0, 1):
            raise _command_error(f"qos must be 0 or 1, got {qos!r}")
        try:
            delivered = cloud.publish_from_cloud(_text(args, "topic"), _text(args, "payload").encode(), qos)
        except (CloudError, ValueError) as err:
            raise _command_error(str(err)) from err
        return {"delivered": delivered}

    def connectivity(args: dict[str, Any]) -> Any:
        state = _text(args, "state")
        if state not in STATES:
            raise _command_error(f"state must be one of {', '.join(STATES)}, got {state!r}")
        drop = args.get("drop")
        if drop is not None and (not isinstance(drop, (int, float)) or not 0 <= drop <= 1):
            raise _command_error(f"drop must be a fraction between 0 and 1, got {drop!r}")
        return cloud.set_connectivity(state, float(drop) if drop is not None and state == FLAKY else None)

    def shadow_get(args: dict[str, Any]) -> Any:
        document = cloud.shadow_get(_text(args, "thing"), _text(args, "name", ""))
        if document is None:
            raise _command_error(
                f"no cloud shadow {args.get('name') or 'classic'!r} for thing {args.get('thing')!r}"
            )
        return document

    def shadow_update(args: dict[str, Any]) -> Any:
        raw = _text(args, "document")
        try:
            document = json.loads(raw)
        except json.JSONDecodeError as err:
            raise _command_error(f"the shadow document is not JSON: {err}") from err
        try:
            return cloud.shadow_update(_text(args, "thing"), _text(args, "name", ""), document)
        except ValueError as err:
            raise _command_error(str(err)) from err

    def watch(args: dict[str, Any]) -> Iterator[Any]:
        topic_filter = _text(args, "topic", "#")
        try:
            validate_topic_filter(topic_filter)  # refuse now, not once the stream has started
        except TopicFilterError as err:
            raise _command_error(str(err)) from err
        messages = cloud.watch(topic_filter)  # subscribed before the first line goes out

        def _stream() -> Iterator[Any]:
            yield {"watching": topic_filter}  # tells the CLI (and tests) the watch is live
            try:
                for message in messages:
                    yield message_to_json(message)
            finally:
                close = getattr(messages, "close", None)
                if callable(close):
                    close()

        return _stream()

    control.register("cloud.publish", publish)
    control.register("cloud.connectivity", connectivity)
    control.register("cloud.status", lambda _args: cloud.status())
    control.register("cloud.shadow.get", shadow_get)
    control.register("cloud.shadow.update", shadow_update)
    control.register("cloud.watch", watch)
