"""UpdateState (NUC ``LifecycleIPCEventStreamAgent``) and the Greengrass CLI's ListComponents /
GetComponentDetails / RestartComponent / StopComponent (``CLIEventStreamAgent``) via the
:class:`~localcore.contracts.LifecycleService`.

Without a lifecycle service (a bare server in tests), UpdateState is still accepted and recorded
in ``CoreContext.reported_states``; the CLI operations answer "not supported", as a nucleus
without the CLI component does.
"""

from __future__ import annotations

from typing import Any

from localcore.contracts import ComponentInfo, LifecycleService
from localcore.ipc.context import Call
from localcore.ipc.errors import invalid_arguments, resource_not_found, service_error

CLI_DESTINATION = "aws.greengrass.Cli"
_REPORTABLE = ("RUNNING", "ERRORED")


def _details(info: ComponentInfo) -> dict[str, Any]:
    return {
        "componentName": info.name,
        "version": info.version,
        "state": info.state,
        "configuration": info.configuration,
    }


async def update_state(call: Call) -> dict[str, Any]:
    """The component reports RUNNING or ERRORED about itself."""
    state = call.request.get("state")
    if state not in _REPORTABLE:
        raise invalid_arguments(f"state must be one of {', '.join(_REPORTABLE)}, got {state!r}")
    lifecycle = call.core.lifecycle
    if lifecycle is not None:
        info = await call.core.blocking(lifecycle.get_component, call.component)
        if info is None:
            raise resource_not_found(
                "Component with given name not found", resource_type="Component", resource_name=call.component
            )
        await call.core.blocking(lifecycle.report_state, call.component, state)
    call.core.reported_states[call.component] = state
    return {}


def _lifecycle(call: Call) -> LifecycleService:
    if call.core.lifecycle is None:
        raise service_error(f"Operation {call.operation} is not supported by Greengrass")
    return call.core.lifecycle


def _component_name(call: Call) -> str:
    name = call.request.get("componentName")
    if not name or not isinstance(name, str):
        raise invalid_arguments("Component name cannot be empty")
    return name


def _not_found(name: str) -> Exception:
    return resource_not_found(f"Component with name {name} not found in Greengrass")


async def list_components(call: Call) -> dict[str, Any]:
    """Every component the core runs."""
    lifecycle = _lifecycle(call)
    call.authorize(CLI_DESTINATION, "*")
    infos = await call.core.blocking(lifecycle.list_components)
    return {"components": [_details(info) for info in infos]}


async def get_component_details(call: Call) -> dict[str, Any]:
    """One component's name, version, state and configuration."""
    lifecycle = _lifecycle(call)
    name = _component_name(call)
    call.authorize(CLI_DESTINATION, name)
    info = await call.core.blocking(lifecycle.get_component, name)
    if info is None:
        raise _not_found(name)
    return {"componentDetails": _details(info)}


async def restart_component(call: Call) -> dict[str, Any]:
    """Ask the runner to restart a component."""
    lifecycle = _lifecycle(call)
    name = _component_name(call)
    call.authorize(CLI_DESTINATION, name)
    if await call.core.blocking(lifecycle.get_component, name) is None:
        raise _not_found(name)
    succeeded, message = await call.core.blocking(lifecycle.restart_component, name)
    return {"restartStatus": "SUCCEEDED" if succeeded else "FAILED", "message": message}


async def stop_component(call: Call) -> dict[str, Any]:
    """Ask the runner to stop a component."""
    lifecycle = _lifecycle(call)
    name = _component_name(call)
    call.authorize(CLI_DESTINATION, name)
    if await call.core.blocking(lifecycle.get_component, name) is None:
        raise _not_found(name)
    succeeded, message = await call.core.blocking(lifecycle.stop_component, name)
    return {"stopStatus": "SUCCEEDED" if succeeded else "FAILED", "message": message}


HANDLERS = {
    "UpdateState": update_state,
    "ListComponents": list_components,
    "GetComponentDetails": get_component_details,
    "RestartComponent": restart_component,
    "StopComponent": stop_component,
}
