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
from concurrent.futures import ThreadPoolExecutor

import awsiot.greengrasscoreipc
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2


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
        # One worker thread, as a well-behaved component's client uses: a test observes events
        # in the order the core sent them.
        client = GreengrassCoreIPCClientV2(client=connection, executor=ordered_event_executor())
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


def ordered_event_executor() -> ThreadPoolExecutor:
    """One worker thread for a client's stream callbacks.

    The SDK's default is a many-worker pool, where a callback that takes a little longer lets the
    next event's callback overtake it; one worker keeps every subscription's events in the order
    the core sent them, and still keeps callbacks off the SDK's network thread.
    """
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="localcore-client-events")
