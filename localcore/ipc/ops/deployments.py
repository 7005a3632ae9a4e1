"""The deployment operations: the components' handshakes and the Greengrass CLI's local deployments.

- SubscribeToComponentUpdates, DeferComponentUpdate, SubscribeToValidateConfigurationUpdates,
  SendConfigurationValidityReport act on the caller's own identity and need no accessControl
  (NUC ``LifecycleIPCEventStreamAgent`` l.166-293, ``ConfigStoreIPCEventStreamAgent`` l.114-165,
  l.476-500; reference greengrass-deployments.md section 4.1).
- CreateLocalDeployment, ListLocalDeployments, CancelLocalDeployment (resource ``*``) and
  GetLocalDeploymentStatus (resource = the id) are authorized under ``aws.greengrass.Cli`` (CLI
  ``CLIEventStreamAgent``; section 4.2). Create authorizes first, then validates; Get and Cancel
  validate the UUID first, then authorize (section 4.1).

Without a deployment service (a bare server in tests) every one answers "not supported", as a
nucleus without the CLI component does.
"""

from __future__ import annotations

import uuid
from typing import Any

from localcore.ipc.context import Call
from localcore.ipc.errors import OperationError, invalid_arguments, resource_not_found, service_error
from localcore.ipc.rpc import json_bytes

CLI_DESTINATION = "aws.greengrass.Cli"
_BAD_UUID = "Invalid deploymentId format received. DeploymentId is a UUID"


def _service(call: Call) -> Any:
    service = getattr(call.core, "deployments", None)
    if service is None:
        raise service_error(f"Operation {call.operation} is not supported by Greengrass")
    return service


def _sender(call: Call) -> Any:
    core, stream = call.core, call.stream

    def send(event: dict[str, Any]) -> None:
        core.call_in_loop(stream.send_event, json_bytes(event))

    return send


async def subscribe_to_component_updates(call: Call) -> dict[str, Any]:
    """Pre- and PostComponentUpdateEvents for the caller."""
    service = _service(call)
    lifecycle = call.core.lifecycle
    if lifecycle is not None and await call.core.blocking(lifecycle.get_component, call.component) is None:
        raise resource_not_found(
            "Component with given name not found currently in Greengrass",
            resource_type="Component",
            resource_name=call.component,
        )
    close = service.handshakes.subscribe_updates(call.component, _sender(call))
    call.stream.on_close(close)
    return {}


def _handshake_error(err: Exception) -> OperationError:
    return OperationError(getattr(err, "error", "ServiceError"), str(err))


async def defer_component_update(call: Call) -> dict[str, Any]:
    """Defer (``recheckAfterMs > 0``) or acknowledge (``0``) the update in progress."""
    service = _service(call)
    deployment_id = call.request.get("deploymentId")
    if not deployment_id:
        raise invalid_arguments("Cannot defer the update, the deployment ID provided was null")
    recheck = call.request.get("recheckAfterMs")
    if recheck is not None and (isinstance(recheck, bool) or not isinstance(recheck, int)):
        raise invalid_arguments(f"recheckAfterMs must be a whole number of milliseconds, got {recheck!r}")
    try:
        service.handshakes.defer(
            call.component, str(deployment_id), recheck, str(call.request.get("message") or "")
        )
    except Exception as err:
        raise _handshake_error(err) from err
    return {}


async def subscribe_to_validate_configuration_updates(call: Call) -> dict[str, Any]:
    """The caller's proposed configurations, before a deployment applies them."""
    service = _service(call)
    close = service.handshakes.subscribe_validation(call.component, _sender(call))
    call.stream.on_close(close)
    return {}


async def send_configuration_validity_report(call: Call) -> dict[str, Any]:
    """ACCEPTED or REJECTED (with a message) for a pending validation."""
    service = _service(call)
    report = call.request.get("configurationValidityReport")
    if not isinstance(report, dict):
        raise invalid_arguments("configurationValidityReport is required")
    deployment_id = report.get("deploymentId")
    if not deployment_id:
        raise invalid_arguments(
            "Cannot accept configuration validity report, the deployment ID provided was null"
        )
    status = report.get("status")
    if status not in ("ACCEPTED", "REJECTED"):
        raise invalid_arguments(f"status must be ACCEPTED or REJECTED, got {status!r}")
    try:
        service.handshakes.report_validity(
            call.component, str(deployment_id), status, str(report.get("message") or "")
        )
    except Exception as err:
        raise _handshake_error(err) from err
    return {}


def _check_uuid(call: Call) -> str:
    deployment_id = call.request.get("deploymentId")
    try:
        uuid.UUID(str(deployment_id))
    except ValueError as err:
        raise invalid_arguments(_BAD_UUID) from err
    return str(deployment_id)


def _local_deployment(record: dict[str, Any], *, details: bool) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "deploymentId": record["deploymentId"],
        "status": record["status"],
        "createdOn": record["createdOn"],
    }
    status_details = record.get("deploymentStatusDetails")
    if details and status_details:
        shape["deploymentStatusDetails"] = {
            key: value for key, value in status_details.items() if value not in (None, "")
        }
    return shape


async def create_local_deployment(call: Call) -> dict[str, Any]:
    """Queue a local deployment built from the request (reference section 1.1's IPC column)."""
    service = _service(call)
    call.authorize(CLI_DESTINATION, "*")
    group = call.request.get("groupName")
    if isinstance(group, str) and ":" in group:
        raise invalid_arguments("Thing group name cannot contain colon characters")
    try:
        document = service.local_document(call.request)
    except ValueError as err:
        raise invalid_arguments(str(err)) from err
    deployment_id = await call.core.blocking(service.submit_local, document)
    return {"deploymentId": deployment_id}


async def list_local_deployments(call: Call) -> dict[str, Any]:
    """Every local deployment's id, status and creation time (no details, section 4.2)."""
    service = _service(call)
    call.authorize(CLI_DESTINATION, "*")
    records = await call.core.blocking(service.local_records)
    return {"localDeployments": [_local_deployment(record, details=False) for record in records]}


async def get_local_deployment_status(call: Call) -> dict[str, Any]:
    """One local deployment with its status details."""
    service = _service(call)
    deployment_id = _check_uuid(call)
    call.authorize(CLI_DESTINATION, deployment_id)
    record = await call.core.blocking(service.records.get, deployment_id)
    if record is None:
        raise resource_not_found(
            "Cannot find deployment", resource_type="LocalDeployment", resource_name=deployment_id
        )
    return {"deployment": _local_deployment(record, details=True)}


async def cancel_local_deployment(call: Call) -> dict[str, Any]:
    """Cancel a queued deployment, or one still before its merge (section 5)."""
    service = _service(call)
    deployment_id = _check_uuid(call)
    call.authorize(CLI_DESTINATION, "*")
    try:
        message = await call.core.blocking(service.cancel, deployment_id)
    except KeyError as err:
        raise resource_not_found(f"Cannot find the deployment id provided {deployment_id}") from err
    return {"message": message}


HANDLERS = {
    "SubscribeToComponentUpdates": subscribe_to_component_updates,
    "DeferComponentUpdate": defer_component_update,
    "SubscribeToValidateConfigurationUpdates": subscribe_to_validate_configuration_updates,
    "SendConfigurationValidityReport": send_configuration_validity_report,
    "CreateLocalDeployment": create_local_deployment,
    "ListLocalDeployments": list_local_deployments,
    "GetLocalDeploymentStatus": get_local_deployment_status,
    "CancelLocalDeployment": cancel_local_deployment,
}
