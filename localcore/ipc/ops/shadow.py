"""Get/Update/DeleteThingShadow and ListNamedShadowsForThing via the
:class:`~localcore.contracts.ShadowService` (SHM ``ipc/*IPCHandler``, ``util/Validator``)."""

from __future__ import annotations

import base64
import binascii
import re
import time
from typing import Any

from localcore.ipc.context import SHADOW_MANAGER, Call
from localcore.ipc.errors import OperationError, invalid_arguments, resource_not_found, service_error
from localcore.ipc.rpc import json_bytes
from localcore.shadows.errors import ShadowError

DESTINATION = SHADOW_MANAGER
_NAME = re.compile(r"^[a-zA-Z0-9:_-]+$")
_THING_MAX = 128
_SHADOW_MAX = 64


def _validate_names(request: dict[str, Any], *, need_shadow: bool = True) -> tuple[str, str]:
    thing = request.get("thingName")
    if not thing or not isinstance(thing, str):
        raise invalid_arguments("ThingName is missing")
    if len(thing) > _THING_MAX:
        raise invalid_arguments(f"ThingName has a maximum length of {_THING_MAX}")
    if not _NAME.match(thing):
        raise invalid_arguments("ThingName must match pattern [a-zA-Z0-9:_-]+")
    shadow = request.get("shadowName") or "" if need_shadow else ""
    if not isinstance(shadow, str):
        raise invalid_arguments("ShadowName must be a string")
    if shadow:
        if len(shadow) > _SHADOW_MAX:
            raise invalid_arguments(f"ShadowName has a maximum length of {_SHADOW_MAX}")
        if not _NAME.match(shadow):
            raise invalid_arguments("ShadowName must match pattern [a-zA-Z0-9:_-]+")
    return thing, shadow


def shadow_prefix(thing: str, shadow: str) -> str:
    """The resource a shadow request is authorized against (and its local topic prefix)."""
    return f"$aws/things/{thing}/shadow" + (f"/name/{shadow}" if shadow else "")


def _map_error(err: ShadowError) -> OperationError:
    if err.code in (400, 413):
        return invalid_arguments(err.message)
    if err.code == 404:
        return resource_not_found(err.message, resource_type="shadow")
    if err.code == 409:
        return OperationError("ConflictError", err.message)
    return service_error(err.message)


def _authorize(call: Call, thing: str, shadow: str, action: str) -> None:
    try:
        call.authorize(DESTINATION, shadow_prefix(thing, shadow))
    except OperationError:
        # SHM also tells the shadow's .../rejected topic (BaseRequestHandler.publishErrorMessage).
        body = {"code": 401, "message": "Unauthorized", "timestamp": int(time.time())}
        call.core.router.publish_bytes(
            f"{shadow_prefix(thing, shadow)}/{action}/rejected", json_bytes(body), SHADOW_MANAGER
        )
        raise


def _service(call: Call) -> Any:
    if call.core.shadows is None:
        raise service_error(f"Operation {call.operation} is not supported by Greengrass")
    return call.core.shadows


async def get_thing_shadow(call: Call) -> dict[str, Any]:
    """The stored document, base64 in ``payload``."""
    shadows = _service(call)
    thing, shadow = _validate_names(call.request)
    _authorize(call, thing, shadow, "get")
    try:
        document = await call.core.blocking(shadows.get, thing, shadow)
    except ShadowError as err:
        raise _map_error(err) from err
    return {"payload": base64.b64encode(document).decode("ascii")}


async def update_thing_shadow(call: Call) -> dict[str, Any]:
    """Merge the request document; answer the accepted document."""
    shadows = _service(call)
    thing, shadow = _validate_names(call.request)
    _authorize(call, thing, shadow, "update")
    encoded = call.request.get("payload")
    try:
        payload = base64.b64decode(encoded or "", validate=True)
    except (binascii.Error, TypeError) as err:
        raise invalid_arguments(f"payload must be base64: {err}") from err
    try:
        document = await call.core.blocking(lambda: shadows.update(thing, shadow, payload, source="local"))
    except ShadowError as err:
        raise _map_error(err) from err
    return {"payload": base64.b64encode(document).decode("ascii")}


async def delete_thing_shadow(call: Call) -> dict[str, Any]:
    """Delete the shadow; SHM answers an empty payload."""
    shadows = _service(call)
    thing, shadow = _validate_names(call.request)
    _authorize(call, thing, shadow, "delete")
    try:
        document = await call.core.blocking(lambda: shadows.delete(thing, shadow, source="local"))
    except ShadowError as err:
        raise _map_error(err) from err
    return {"payload": base64.b64encode(document or b"").decode("ascii")}


async def list_named_shadows(call: Call) -> dict[str, Any]:
    """One page of the thing's named shadows."""
    shadows = _service(call)
    thing, _ = _validate_names(call.request, need_shadow=False)
    page_size = call.request.get("pageSize")
    if page_size is not None and (not isinstance(page_size, int) or not 1 <= page_size <= 100):
        raise invalid_arguments("pageSize argument must be between 1 and 100")
    next_token = call.request.get("nextToken")
    call.authorize(DESTINATION, thing)
    try:
        result = await call.core.blocking(shadows.list_named, thing, page_size, next_token)
    except ShadowError as err:
        raise _map_error(err) from err
    response: dict[str, Any] = {
        "results": list(result.get("results", [])),
        "timestamp": result.get("timestamp", time.time()),
    }
    if result.get("nextToken"):
        response["nextToken"] = result["nextToken"]
    return response


HANDLERS = {
    "GetThingShadow": get_thing_shadow,
    "UpdateThingShadow": update_thing_shadow,
    "DeleteThingShadow": delete_thing_shadow,
    "ListNamedShadowsForThing": list_named_shadows,
}
