"""Real IPC clients for tests and tools, connected to one core's socket and closed together.

Both test harnesses (:mod:`localcore.ipc.testing` around a bare IPC server, :mod:`localcore.testing`
around a whole core) hand out ``GreengrassCoreIPCClientV2`` connections; this is how they open and
close them.

Example::

    pool = ClientPool(core.socket_path)
    client = pool.connect(token)   # authenticated as the component the token belongs to
    ...
    pool.close_all()
"""

from __future__ import annotations

import contextlib
import os

import awsiot.greengrasscoreipc
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

from components.common.ipc import ordered_event_executor


class ClientPool:
    """Connections to the IPC socket at ``socket_path``, each closed by :meth:`close_all`.

    Args:
        socket_path: the core's domain socket.
    """

    def __init__(self, socket_path: str | os.PathLike[str]) -> None:
        self.socket_path = os.fspath(socket_path)
        self._clients: list[GreengrassCoreIPCClientV2] = []

    def connect(self, token: str, *, timeout: float = 10.0) -> GreengrassCoreIPCClientV2:
        """A connected client authenticated with ``token`` (a component's SVCUID)."""
        connection = awsiot.greengrasscoreipc.connect(
            ipc_socket=self.socket_path, authtoken=token, timeout=timeout
        )
        # The components' own executor: a test observes events in the order the core sent them,
        # and components under test meet the same ordering they get in production.
        client = GreengrassCoreIPCClientV2(client=connection, executor=ordered_event_executor("test"))
        self._clients.append(client)
        return client

    def close_all(self) -> None:
        """Close every client handed out so far (a test's teardown; errors are of no interest)."""
        clients, self._clients = self._clients, []
        for client in clients:
            # Close the connection first and let its stream-closed callbacks run on the client's
            # executor; shutting the executor down first makes the SDK log spurious errors.
            with contextlib.suppress(Exception):
                client.client.close().result(5)
            with contextlib.suppress(Exception):
                client.close()
