"""The seams between localcore's parts, so each part can be built and tested on its own.

    IPC server (localcore/ipc)  --uses-->  ShadowService, ConfigService, LifecycleService,
                                           CloudAdapter, MetricSink, and an Authorizer it owns
    runner (localcore/runner)   --implements--> LifecycleService; registers tokens and policies
    shadows (localcore/shadows) --implements--> ShadowService
    config (localcore/config)   --implements--> ConfigService
    cloud (localcore/cloud)     --implements--> CloudService (embedded moto cloud); the IPC package
                                                also ships an in-memory RecordingCloudAdapter
    core (localcore/core.py)    --builds-->     a CloudService from a CloudFactory, given a CloudContext

The cloud's parts are all here: ``CloudAdapter`` (what the IPC server needs: IoT Core publish,
subscribe, connection state), ``CloudService`` (what the core needs besides: start, stop, the
runner's extra environment, control commands), ``CloudContext`` and ``CloudFactory``.

Every implementation is thread-safe and synchronous: the IPC server runs its asyncio loop in its
own thread and calls these from there; callbacks that deliver back into the IPC server (IoT Core
messages, configuration changes, shadow topic publications) may arrive from any thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

Unsubscribe = Callable[[], None]


# --- shadows -----------------------------------------------------------------------------------
class ShadowService(Protocol):
    """ShadowManager's local shadow store (reference section 6).

    Payloads are the JSON bytes exchanged over IPC. Errors are raised as subclasses of
    ``localcore.shadows.errors.ShadowError`` carrying the ShadowManager ``code`` (400, 404, 409,
    413, 500) and ``message``; the IPC layer maps them to the client's modelled errors.
    """

    def get(self, thing: str, shadow: str) -> bytes:
        """GetThingShadow: the stored document (``state``, ``metadata``, ``version``, ``timestamp``)."""
        ...

    def update(self, thing: str, shadow: str, payload: bytes, *, source: str = "local") -> bytes:
        """UpdateThingShadow: merge the request; return the accepted response document.

        ``source`` is ``"local"`` for device-side requests and ``"cloud"`` when the cloud sync
        applies a change; listeners see it so a sync never echoes its own writes.
        """
        ...

    def delete(self, thing: str, shadow: str, *, source: str = "local") -> bytes:
        """DeleteThingShadow: remove the document; return the response payload."""
        ...

    def list_named(self, thing: str, page_size: int | None, next_token: str | None) -> dict[str, Any]:
        """ListNamedShadowsForThing: ``{"results": [...], "timestamp": s, "nextToken": ...}``."""
        ...

    def add_listener(self, listener: ShadowListener) -> Unsubscribe:
        """Be told of every accepted update or delete."""
        ...


class ShadowListener(Protocol):
    """Called after an update or delete was accepted and persisted."""

    def __call__(self, thing: str, shadow: str, document: dict[str, Any] | None, source: str) -> None: ...


# Local pub/sub publication of shadow topics (``$aws/things/.../shadow/.../update/delta`` ...):
# the IPC server gives the shadow store a function of this type at construction.
TopicPublisher = Callable[[str, bytes], None]


# --- component configuration ---------------------------------------------------------------------
class ConfigService(Protocol):
    """Each component's configuration tree (reference: GetConfiguration / UpdateConfiguration)."""

    def get(self, component: str, key_path: list[str]) -> Any:
        """The value at ``key_path`` (case-insensitive keys); raises KeyError if absent."""
        ...

    def update(self, component: str, key_path: list[str], value_to_merge: Any, timestamp: float) -> None:
        """Merge ``value_to_merge`` at ``key_path``; a node newer than ``timestamp`` is kept."""
        ...

    def subscribe(self, component: str, key_path: list[str], callback: ConfigListener) -> Unsubscribe:
        """``callback(component, changed_key_path)`` whenever something at or below ``key_path`` changes."""
        ...


class ConfigListener(Protocol):
    """Told which key path of which component changed."""

    def __call__(self, component: str, key_path: list[str]) -> None: ...


# --- lifecycle (the runner) ------------------------------------------------------------------------
@dataclass(frozen=True)
class ComponentInfo:
    """What ListComponents and GetComponentDetails answer."""

    name: str
    version: str
    state: str  # NEW INSTALLED STARTING RUNNING STOPPING FINISHED ERRORED BROKEN
    configuration: dict[str, Any] = field(default_factory=dict)


class LifecycleService(Protocol):
    """The runner, as the IPC server sees it."""

    def list_components(self) -> list[ComponentInfo]:
        """Every component the core runs (not the aws.greengrass.* ones it stands in for)."""
        ...

    def get_component(self, name: str) -> ComponentInfo | None:
        """One component, or ``None``."""
        ...

    def restart_component(self, name: str) -> tuple[bool, str]:
        """RestartComponent: ``(succeeded, message)``."""
        ...

    def stop_component(self, name: str) -> tuple[bool, str]:
        """StopComponent: ``(succeeded, message)``."""
        ...

    def report_state(self, name: str, state: str) -> None:
        """UpdateState from the component itself (``RUNNING`` or ``ERRORED``)."""
        ...


# --- IoT Core --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IotMessage:
    """An MQTT message to or from IoT Core."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    user_properties: tuple[tuple[str, str], ...] = ()
    content_type: str | None = None
    correlation_data: bytes | None = None
    response_topic: str | None = None
    payload_format: int | None = None
    message_expiry_interval_seconds: int | None = None


class CloudAdapter(Protocol):
    """Where PublishToIoTCore goes and SubscribeToIoTCore listens (the nucleus' MQTT connection)."""

    def publish(self, message: IotMessage) -> None:
        """Hand a message to the cloud connection (spooled per the nucleus' rules while offline)."""
        ...

    def subscribe(self, topic_filter: str, qos: int, on_message: Callable[[IotMessage], None]) -> Unsubscribe:
        """Receive every cloud message matching ``topic_filter`` (MQTT wildcards)."""
        ...

    def is_connected(self) -> bool:
        """Whether the MQTT connection is up."""
        ...

    def add_connection_listener(self, listener: Callable[[bool], None]) -> Unsubscribe:
        """``listener(connected)`` on every change of connection state."""
        ...


class CommandRegistry(Protocol):
    """Where a part adds commands of the control channel (``localcore.control.ControlServer``)."""

    def register(self, command: str, handler: Callable[[dict[str, Any]], Any]) -> None:
        """Answer ``command`` with ``handler(arguments)`` (a value, or an iterator for a stream)."""
        ...


class CloudService(CloudAdapter, Protocol):
    """The cloud a core runs with: a :class:`CloudAdapter` the core also starts, stops and asks.

    Implemented by the embedded cloud (``localcore.cloud.service.EmbeddedCloud``) and by the
    in-memory ``localcore.ipc.recording_cloud.RecordingCloudAdapter``.
    """

    def start(self) -> None:
        """Called once, after the IPC server is up and before any component starts."""
        ...

    def stop(self) -> None:
        """Called once, after every component stopped."""
        ...

    def environment(self, component: str, token: str, dependencies: list[str]) -> dict[str, str]:
        """Extra environment for one component's lifecycle steps (e.g. TES credentials for the
        dependents of ``aws.greengrass.TokenExchangeService``); ``{}`` for none."""
        ...

    def register_control(self, control: CommandRegistry) -> None:
        """Add the cloud's own control commands (``localcore cloud ...``); may add none."""
        ...


@dataclass(frozen=True)
class CloudContext:
    """What a :data:`CloudFactory` is given: the core's identity and the stores it owns."""

    root: Path
    thing_name: str
    region: str
    # The deployment's configurationUpdate.merge by component (nucleus mqtt.spooler, ShadowManager
    # synchronize ...), as parsed from the deployment file; empty without one.
    configuration: Mapping[str, Mapping[str, Any]]
    shadows: ShadowService


# Called by the core once its stores exist, before the IPC server starts.
CloudFactory = Callable[[CloudContext], CloudService]


# --- metrics -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Metric:
    """One PutComponentMetric entry."""

    component: str
    name: str
    unit: str
    value: float
    timestamp: float
