"""GetConfiguration / UpdateConfiguration / SubscribeToConfigurationUpdate via the
:class:`~localcore.contracts.ConfigService` (NUC ``builtin/services/configstore/ConfigStoreIPCEventStreamAgent``).

No accessControl applies: any component may read any component's configuration, and each may
change only its own.
"""

from __future__ import annotations

from typing import Any

from localcore.config.errors import ConfigStaleUpdateError
from localcore.ipc.context import Call
from localcore.ipc.errors import OperationError, invalid_arguments, resource_not_found, service_error
from localcore.ipc.rpc import json_bytes

_KEY_NOT_FOUND = "Key not found"
_STALE = "Proposed timestamp is older than the config's latest modified timestamp"


def _key_path(call: Call) -> list[str]:
    path = call.request.get("keyPath")
    if path is None:
        return []
    if not isinstance(path, list) or not all(isinstance(part, str) for part in path):
        raise invalid_arguments("keyPath must be a list of strings")
    return list(path)


def _service(call: Call) -> Any:
    if call.core.config is None:
        raise service_error(f"Operation {call.operation} is not supported by Greengrass")
    return call.core.config


def map_config_error(err: Exception) -> OperationError:
    """A ConfigService failure as the client's modelled error.

    KeyError (``ConfigKeyNotFoundError`` is one) -> ResourceNotFoundError("Key not found");
    ``ConfigStaleUpdateError`` -> FailedUpdateConditionCheckError; ValueError (``ConfigInvalidUpdateError``
    is one) -> InvalidArgumentsError with the store's message; anything else -> ServiceError.
    """
    if isinstance(err, KeyError):
        return resource_not_found(_KEY_NOT_FOUND)
    if isinstance(err, ConfigStaleUpdateError):
        return OperationError("FailedUpdateConditionCheckError", _STALE)
    if isinstance(err, ValueError | TypeError):
        return invalid_arguments(str(err))
    return service_error(str(err))


async def get_configuration(call: Call) -> dict[str, Any]:
    """A map for an interior node, ``{leaf: value}`` for a leaf (nucleus answers)."""
    config = _service(call)
    component = call.request.get("componentName") or call.component
    path = _key_path(call)
    # The real store words the answer itself (leaf name as created, private keys hidden).
    answer = getattr(config, "get_answer", None)
    try:
        value = await call.core.blocking(answer or config.get, component, path)
    except Exception as err:
        raise map_config_error(err) from err
    if not isinstance(value, dict):
        if not path:
            raise resource_not_found(_KEY_NOT_FOUND)
        value = {path[-1]: value}
    return {"componentName": component, "value": value}


async def update_configuration(call: Call) -> dict[str, Any]:
    """Merge ``valueToMerge`` at ``keyPath`` of the caller's own configuration."""
    config = _service(call)
    path = _key_path(call)
    timestamp = call.request.get("timestamp")
    if timestamp is None:
        raise invalid_arguments("Timestamp is required")
    if not isinstance(timestamp, int | float) or isinstance(timestamp, bool):
        raise invalid_arguments(f"timestamp must be epoch seconds, got {timestamp!r}")
    if "valueToMerge" not in call.request or call.request["valueToMerge"] is None:
        raise invalid_arguments("Value to merge is required")
    value = call.request["valueToMerge"]
    touches_acl = (path and path[0].lower() == "accesscontrol") or (
        not path and isinstance(value, dict) and any(str(k).lower() == "accesscontrol" for k in value)
    )
    if touches_acl:
        raise invalid_arguments("Config update is not allowed for following fields [accessControl]")
    try:
        await call.core.blocking(config.update, call.component, path, value, float(timestamp))
    except Exception as err:
        raise map_config_error(err) from err
    return {}


async def subscribe_to_configuration_update(call: Call) -> dict[str, Any]:
    """A ``configurationUpdateEvent`` whenever something at or below ``keyPath`` changes."""
    config = _service(call)
    component = call.request.get("componentName") or call.component
    path = _key_path(call)
    stream = call.stream
    core = call.core

    def on_change(changed_component: str, changed_path: list[str]) -> None:
        event = {
            "configurationUpdateEvent": {"componentName": changed_component, "keyPath": list(changed_path)}
        }
        core.call_in_loop(stream.send_event, json_bytes(event))

    def subscribe() -> Any:
        config.get(component, path)  # KeyError for a missing path, before anything is registered
        return config.subscribe(component, path, on_change)

    try:
        unsubscribe = await core.blocking(subscribe)
    except Exception as err:
        raise map_config_error(err) from err
    stream.on_close(lambda: core.submit_ordered(unsubscribe))
    return {}


HANDLERS = {
    "GetConfiguration": get_configuration,
    "UpdateConfiguration": update_configuration,
    "SubscribeToConfigurationUpdate": subscribe_to_configuration_update,
}
