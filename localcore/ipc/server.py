"""IpcServer: the Greengrass IPC endpoint of localcore, on a Unix domain socket.

The unmodified ``GreengrassCoreIPCClientV2`` connects to it with a component's SVCUID token. The
server runs its asyncio loop in a thread of its own: ``start()`` returns once it listens,
``stop()`` closes every connection and returns.

Example::

    server = IpcServer(socket_path=root / "ipc.socket", shadows=store, config=config,
                       cloud=cloud, lifecycle=runner)
    server.start()
    token = server.register_component("com.example.Sensor", recipe_access_control)
    # launch the component with SVCUID=token and
    # AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT=str(server.socket_path)
    server.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from pathlib import Path
from typing import Any

from localcore.contracts import (
    CloudAdapter,
    ConfigService,
    LifecycleService,
    Metric,
    ShadowService,
    TopicPublisher,
)
from localcore.ipc.auth import Authorizer
from localcore.ipc.codec import MAX_MESSAGE_SIZE
from localcore.ipc.connection import Connection
from localcore.ipc.context import SHADOW_MANAGER, CoreContext
from localcore.ipc.errors import IpcServerError
from localcore.ipc.identity import IdentityRegistry
from localcore.ipc.limits import ConnectionBook, ConnectionLimits
from localcore.ipc.metrics_store import MetricStore
from localcore.ipc.ops import build_operations
from localcore.logfmt import kv
from localcore.profiles import NucleusProfile, profile_named

log = logging.getLogger(__name__)

# Linux sun_path limit (NUC UnixPlatform.UDS_SOCKET_PATH_MAX_LEN).
MAX_SOCKET_PATH = 108


class IpcServer:
    """The IPC server. Collaborators come in by keyword; nothing is global.

    Args:
        socket_path: where to listen (at most 107 bytes; an existing socket file is replaced).
        shadows: the shadow store behind the shadow operations and ``$aws/things/.../shadow`` topics.
        config: component configuration behind Get/UpdateConfiguration and their subscriptions.
        cloud: the IoT Core connection behind PublishToIoTCore / SubscribeToIoTCore.
        lifecycle: the runner, behind UpdateState and the CLI operations; ``None`` answers those
            as a nucleus without the CLI component does (UpdateState is still recorded).
        metrics: where PutComponentMetric entries are kept (default: in memory).
        max_message_size: frames larger than this close the connection (default 24 MiB).
        write_limit: unsent bytes to one connection above which the connections publishing to it
            are no longer read until it drains (default 8 MiB): slow subscribers slow their
            publishers down instead of growing the server's memory or losing messages.
        nucleus: the nucleus profile to answer as (``"classic"``, the default, or ``"lite"``;
            :mod:`localcore.profiles`): its operation set, error payloads, handshake and limits.
    """

    def set_deployments(self, service: Any) -> None:
        """Serve the deployment operations from ``service`` (localcore.runner.deployment_service)."""
        self._core.deployments = service

    def __init__(
        self,
        *,
        socket_path: str | os.PathLike[str],
        shadows: ShadowService | None,
        config: ConfigService | None,
        cloud: CloudAdapter | None,
        lifecycle: LifecycleService | None = None,
        metrics: MetricStore | None = None,
        max_message_size: int = MAX_MESSAGE_SIZE,
        write_limit: int = 8 * 1024 * 1024,
        connection_limits: ConnectionLimits | None = None,
        nucleus: str | NucleusProfile | None = None,
    ) -> None:
        self.socket_path = Path(socket_path)
        self.connections = ConnectionBook(connection_limits or ConnectionLimits.from_rlimit())
        if len(os.fsencode(self.socket_path)) >= MAX_SOCKET_PATH:
            raise IpcServerError(
                f"socket path {self.socket_path} is {len(os.fsencode(self.socket_path))} bytes; "
                f"Unix sockets allow at most {MAX_SOCKET_PATH - 1}"
            )
        profile = profile_named(nucleus)
        self._authorizer = Authorizer()
        self._identities = IdentityRegistry()
        self._core = CoreContext(
            shadows=shadows,
            config=config,
            cloud=cloud,
            lifecycle=lifecycle,
            metrics=metrics or MetricStore(),
            authorizer=self._authorizer,
            profile=profile,
        )
        self._operations = build_operations(profile)
        self._max_message_size = min(max_message_size, profile.max_message_size)
        self._write_limit = write_limit
        self._connections: set[Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._stopped = threading.Event()

    # --- lifecycle ----------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> None:
        """Listen; returns once the socket accepts connections.

        Raises:
            IpcServerError: already started, or the socket could not be opened.
        """
        if self._thread is not None:
            raise IpcServerError("IpcServer.start() called twice")
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._core.loop = loop
            self._core.loop_thread = threading.current_thread()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._listen())
            except BaseException as err:
                failure.append(err)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                # Requests still waiting on a service call end with their connection.
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()
                self._stopped.set()

        self._thread = threading.Thread(target=run, name="ipc-server", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise IpcServerError(
                f"IPC server did not start listening on {self.socket_path} within {timeout}s"
            )
        if failure:
            self._thread.join()
            raise IpcServerError(f"cannot listen on {self.socket_path}: {failure[0]}") from failure[0]
        log.info(kv(event="ipc_listening", socket=self.socket_path))

    async def _listen(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            if self.socket_path.is_socket():
                self.socket_path.unlink()
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(self._new_connection, path=str(self.socket_path))

    def _new_connection(self) -> asyncio.Protocol:
        connection = Connection(
            self._core,
            self._identities,
            self._operations,
            self._connection_closed,
            self._max_message_size,
            self._write_limit,
            admit=self.connections.authenticate,
        )
        admitted, evicted = self.connections.admit_new(connection)
        if not admitted:
            return _Refused()  # closed at once: its descriptor is free again
        if isinstance(evicted, Connection):
            evicted.close()
        self._connections.add(connection)
        timeout = self.connections.limits.handshake_timeout_s
        asyncio.get_running_loop().call_later(timeout, self._handshake_overdue, connection, timeout)
        return connection

    def _connection_closed(self, connection: Connection) -> None:
        self._connections.discard(connection)
        self.connections.closed(connection)

    def _handshake_overdue(self, connection: Connection, timeout: float) -> None:
        if connection.component is None and connection in self._connections:
            connection.close(f"no CONNECT within {timeout:g} s")

    def stop(self, timeout: float = 10.0) -> None:
        """Close the listener and every connection, then return. Idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or self._stopped.is_set():
            self._core.shutdown()
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for connection in list(self._connections):
                connection.close()
            await asyncio.sleep(0)  # let transports run connection_lost
            if self._server is not None:
                await self._server.wait_closed()
            loop.stop()

        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(shutdown(), loop)
        thread.join(timeout)
        self._core.shutdown()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        log.info(kv(event="ipc_stopped", socket=self.socket_path))

    def __enter__(self) -> IpcServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- identities and policies (called by the runner) ---------------------------------------------
    def register_component(self, name: str, access_control: Any = None) -> str:
        """Give ``name`` a fresh SVCUID token and set its accessControl; return the token.

        ``access_control`` is the recipe's ``accessControl`` (a map, or the same as a JSON string),
        with recipe variables already substituted.

        Raises:
            PolicyError: ``access_control`` is not a readable policy map.
        """
        self._authorizer.set_policies(name, access_control)
        return self._identities.register(name)

    def unregister_component(self, name: str) -> None:
        """Revoke ``name``'s token and grants, and end its open streams from the server side.

        Its connections stay open (the process is being stopped anyway) but every subscription
        is closed, so a removed component hears nothing more.
        """
        self._identities.unregister(name)
        self._authorizer.remove(name)
        self._core.call_in_loop(self._close_streams_of, name)

    def _close_streams_of(self, name: str) -> None:
        for connection in list(self._connections):
            if connection.component == name:
                connection.close_streams()

    def update_access_control(self, name: str, access_control: Any) -> None:
        """Replace ``name``'s grants (a deployment changed its accessControl)."""
        self._authorizer.set_policies(name, access_control)

    def token(self, name: str) -> str | None:
        """``name``'s current token, or ``None``."""
        return self._identities.token_for(name)

    # --- core-internal publishers -------------------------------------------------------------------
    def publish_local(self, topic: str, payload: bytes | dict[str, Any], publisher: str) -> None:
        """Publish on local pub/sub from inside the core (thread-safe, never blocks).

        ``bytes`` go out as a ``binaryMessage``, a ``dict`` as a ``jsonMessage``. Subscribers with
        RECEIVE_MESSAGES_FROM_OTHERS skip messages whose ``publisher`` is themselves.
        """
        router = self._core.router
        if isinstance(payload, bytes | bytearray):
            self._core.call_in_loop(router.publish_bytes, topic, bytes(payload), publisher)
        else:
            self._core.call_in_loop(router.publish_json, topic, payload, publisher)

    @property
    def shadow_publisher(self) -> TopicPublisher:
        """A ``TopicPublisher`` for the shadow store: publishes as ``aws.greengrass.ShadowManager``."""

        def publish(topic: str, payload: bytes) -> None:
            self.publish_local(topic, payload, SHADOW_MANAGER)

        return publish

    # --- inspection ---------------------------------------------------------------------------------
    def metrics(self, component: str | None = None) -> list[Metric]:
        """PutComponentMetric entries kept so far, optionally only ``component``'s."""
        return self._core.metrics.query(component)

    def reported_state(self, component: str) -> str | None:
        """The last state ``component`` reported with UpdateState, or ``None``."""
        return self._core.reported_states.get(component)

    @property
    def subscription_count(self) -> int:
        """Live local pub/sub subscriptions (SubscribeToTopic streams)."""
        return len(self._core.router)

    @property
    def throttled_count(self) -> int:
        """Connections not being read right now because a subscriber they publish to lags."""
        return sum(1 for connection in list(self._connections) if connection.throttled)

    @property
    def connection_count(self) -> int:
        """Open client connections (authenticated or not)."""
        return len(self._connections)


class _Refused(asyncio.Protocol):
    """A connection over the limits: closed as soon as it is made."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()
