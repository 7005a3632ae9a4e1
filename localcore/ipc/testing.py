"""A running IPC server for tests, with real awsiotsdk clients.

Example::

    from localcore.ipc.testing import ipc_server

    def test_publishes(tmp_path):
        policy = {"aws.greengrass.ipc.pubsub": {"p1": {"operations": ["*"], "resources": ["line/*"]}}}
        with ipc_server(tmp_path, components={"com.example.Sensor": policy}) as core:
            client = core.client("com.example.Sensor")   # a connected GreengrassCoreIPCClientV2
            client.publish_to_topic(topic="line/1", publish_message=...)
            core.cloud.published                          # the RecordingCloudAdapter

Defaults: ``cloud`` is a :class:`RecordingCloudAdapter`; ``shadows`` is the real
``localcore.shadows`` store under ``tmp_path/shadows`` wired to the server's local topics (no rate
limits); ``config`` is an empty in-memory ``localcore.config.ConfigStore`` (give one with
``set_defaults`` done to serve a component's recipe defaults); ``lifecycle`` is ``None`` (the CLI
operations then answer "not supported", and UpdateState is recorded:
``core.server.reported_state(name)``). Pass ``None`` for any of them to leave it out.
Every client handed out is closed, and the server stopped, when the block exits.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

from localcore.config import ConfigStore
from localcore.contracts import CloudAdapter, ConfigService, LifecycleService, ShadowService
from localcore.ipc.client_pool import ClientPool
from localcore.ipc.recording_cloud import RecordingCloudAdapter
from localcore.ipc.server import MAX_SOCKET_PATH, IpcServer
from localcore.shadows.store import ShadowStore

_DEFAULT: Any = object()


class IpcHarness:
    """What :func:`ipc_server` yields: the server, its collaborators, tokens and clients."""

    def __init__(
        self,
        server: IpcServer,
        cloud: CloudAdapter | None,
        shadows: ShadowService | None,
        config: ConfigService | None,
    ) -> None:
        self.server = server
        self.socket_path = server.socket_path
        self.cloud = cloud
        self.shadows = shadows
        self.config = config
        self._clients = ClientPool(server.socket_path)

    def add_component(self, name: str, access_control: Any = None) -> str:
        """Register another component (or replace its policy); return its token."""
        return self.server.register_component(name, access_control)

    def token(self, name: str) -> str:
        """``name``'s SVCUID token.

        Raises:
            KeyError: ``name`` was never registered.
        """
        token = self.server.token(name)
        if token is None:
            raise KeyError(f"component {name!r} is not registered with the IPC server")
        return token

    def env(self, name: str) -> dict[str, str]:
        """The environment variables a component process needs to connect as ``name``."""
        token = self.token(name)
        return {
            "SVCUID": token,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": token,
            "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT": str(self.socket_path),
            "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH": str(self.socket_path),
        }

    def client(self, name: str, *, timeout: float = 10.0) -> GreengrassCoreIPCClientV2:
        """A connected ``GreengrassCoreIPCClientV2`` authenticated as ``name``; closed at exit."""
        return self._clients.connect(self.token(name), timeout=timeout)

    def close_clients(self) -> None:
        """Close every client handed out so far."""
        self._clients.close_all()


@contextlib.contextmanager
def ipc_server(
    tmp_path: str | os.PathLike[str],
    components: Mapping[str, Any] | None = None,
    *,
    shadows: ShadowService | None = _DEFAULT,
    config: ConfigService | None = _DEFAULT,
    cloud: CloudAdapter | None = _DEFAULT,
    lifecycle: LifecycleService | None = None,
    **server_options: Any,
) -> Iterator[IpcHarness]:
    """Start an :class:`IpcServer` in ``tmp_path``, register ``components`` ({name: accessControl}),
    yield an :class:`IpcHarness`, and stop everything afterwards. ``server_options`` go to
    :class:`IpcServer` (``max_message_size``, ``write_limit``)."""
    root = Path(tmp_path)
    socket_dir: Path | None = None
    socket_path = root / "ipc.socket"
    if len(os.fsencode(socket_path)) >= MAX_SOCKET_PATH:
        # pytest's tmp paths can be long; Unix socket paths cannot.
        socket_dir = Path(tempfile.mkdtemp(prefix="lc-ipc-"))
        socket_path = socket_dir / "ipc.socket"
    if cloud is _DEFAULT:
        cloud = RecordingCloudAdapter()
    if shadows is _DEFAULT:
        shadows = ShadowStore(root / "shadows", rate_limits=None)
    if config is _DEFAULT:
        config = ConfigStore()
    server = IpcServer(
        socket_path=socket_path,
        shadows=shadows,
        config=config,
        cloud=cloud,
        lifecycle=lifecycle,
        **server_options,
    )
    set_publisher = getattr(shadows, "set_publisher", None)
    if callable(set_publisher):
        set_publisher(server.shadow_publisher)
    for name, access_control in (components or {}).items():
        server.register_component(name, access_control)
    server.start()
    harness = IpcHarness(server, cloud, shadows, config)
    try:
        yield harness
    finally:
        harness.close_clients()
        server.stop()
        if socket_dir is not None:
            shutil.rmtree(socket_dir, ignore_errors=True)
