"""The operation table: every operation of the Greengrass IPC model and who handles it.

Each handler takes a :class:`~localcore.ipc.context.Call` and returns the response body (a dict,
or ``None`` for ``{}``), either directly or as a coroutine when it needs a blocking service call.
It raises :class:`~localcore.ipc.errors.OperationError` for a modelled error. A modelled operation
without a handler answers the nucleus' ``ServiceError("Operation aws.greengrass#X is not supported
by Greengrass")``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from localcore.ipc.context import Call

if TYPE_CHECKING:
    from localcore.profiles.base import NucleusProfile

Response = dict[str, Any] | None
Handler = Callable[[Call], Response | Coroutine[Any, Any, Response]]


@dataclass(frozen=True)
class OperationSpec:
    """One modelled operation."""

    name: str  # e.g. "PublishToTopic"
    handler: Handler | None = None
    streaming: bool = False
    event_type: str | None = None  # the stream event's shape, for streaming operations

    @property
    def full_name(self) -> str:
        """The ``operation`` header value."""
        return f"aws.greengrass#{self.name}"

    @property
    def response_type(self) -> str:
        """The response's ``service-model-type``."""
        return f"aws.greengrass#{self.name}Response"


# Every operation in awsiotsdk's model (reference Appendix A), with the stream event type of the
# streaming ones. Handlers are attached in build_operations().
MODELLED: dict[str, str | None] = {
    "AuthorizeClientDeviceAction": None,
    "CancelLocalDeployment": None,
    "CreateDebugPassword": None,
    "CreateLocalDeployment": None,
    "DeferComponentUpdate": None,
    "DeleteThingShadow": None,
    "GetClientDeviceAuthToken": None,
    "GetComponentDetails": None,
    "GetConfiguration": None,
    "GetLocalDeploymentStatus": None,
    "GetSecretValue": None,
    "GetThingShadow": None,
    "ListComponents": None,
    "ListLocalDeployments": None,
    "ListNamedShadowsForThing": None,
    "PauseComponent": None,
    "PublishToIoTCore": None,
    "PublishToTopic": None,
    "PutComponentMetric": None,
    "RestartComponent": None,
    "ResumeComponent": None,
    "SendConfigurationValidityReport": None,
    "StopComponent": None,
    "SubscribeToCertificateUpdates": "aws.greengrass#CertificateUpdateEvent",
    "SubscribeToComponentUpdates": "aws.greengrass#ComponentUpdatePolicyEvents",
    "SubscribeToConfigurationUpdate": "aws.greengrass#ConfigurationUpdateEvents",
    "SubscribeToIoTCore": "aws.greengrass#IoTCoreMessage",
    "SubscribeToIoTCoreConnectionStatus": "aws.greengrass#IoTCoreConnectionStatusEvent",
    "SubscribeToTopic": "aws.greengrass#SubscriptionResponseMessage",
    "SubscribeToValidateConfigurationUpdates": "aws.greengrass#ValidateConfigurationUpdateEvents",
    "UpdateConfiguration": None,
    "UpdateState": None,
    "UpdateThingShadow": None,
    "ValidateAuthorizationToken": None,
    "VerifyClientDeviceIdentity": None,
}


def build_operations(profile: NucleusProfile | None = None) -> dict[str, OperationSpec]:
    """``{operation header value: spec}`` for the whole model; an operation ``profile``'s nucleus
    does not serve has no handler."""
    from localcore.ipc.ops import config, deployments, iotcore, lifecycle, metrics, pubsub, shadow

    handlers: dict[str, Handler] = {}
    for module in (pubsub, iotcore, shadow, config, lifecycle, metrics, deployments):
        handlers.update(module.HANDLERS)
    unknown = set(handlers) - set(MODELLED)
    if unknown:
        raise RuntimeError(f"handlers for operations outside the model: {sorted(unknown)}")
    table: dict[str, OperationSpec] = {}
    for name, event_type in MODELLED.items():
        spec = OperationSpec(
            name,
            handlers.get(name) if profile is None or profile.serves(name) else None,
            streaming=event_type is not None,
            event_type=event_type,
        )
        table[spec.full_name] = spec
    return table
