"""A loopback TCP proxy in front of the moto server that fails the way an outage fails.

Components' boto3 reaches the embedded cloud through ``AWS_ENDPOINT_URL`` pointing here. While
offline, new connections are reset and open ones are torn down with a TCP RST, so botocore raises
its real ``EndpointConnectionError``/``ConnectionClosedError``. While flaky, each request (the
first bytes a client sends after the previous response) is dropped with that probability.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading

from localcore.cloud.connectivity import Connectivity
from localcore.logfmt import kv

log = logging.getLogger("localcore.cloud.proxy")

_BUFFER = 65536


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN: the peer sees 'connection reset', like a dropped link."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class _Pair:
    """One client connection and its upstream; the client side decides per request whether to drop."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.awaiting_request = True  # the next client bytes start a new request
        self.closed = False
        self.lock = threading.Lock()

    def close(self, reset: bool) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for sock in (self.client, self.upstream):
            if reset:
                _reset(sock)
            else:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()


class FaultProxy:
    """Forward ``127.0.0.1:<port>`` to ``upstream`` subject to a :class:`Connectivity`."""

    def __init__(self, connectivity: Connectivity, upstream_host: str, upstream_port: int) -> None:
        self.connectivity = connectivity
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._pairs: set[_Pair] = set()
        self._lock = threading.Lock()
        self._running = False
        self._thread: threading.Thread | None = None
        self._remove_listener = connectivity.add_listener(self._on_state)
        self.dropped = 0  # connections or requests failed on purpose

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, the value for ``AWS_ENDPOINT_URL``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Accept connections in a background thread."""
        self._running = True
        self._thread = threading.Thread(target=self._accept_loop, name="cloud-proxy", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting and close every connection."""
        self._running = False
        self._remove_listener()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._listener.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._drop_all(reset=False)

    def _on_state(self, state: str, _drop: float) -> None:
        if not self.connectivity.is_up():
            # A real outage also kills the pooled keep-alive connections boto3 would reuse.
            self._drop_all(reset=True)

    def _drop_all(self, reset: bool) -> None:
        with self._lock:
            pairs = list(self._pairs)
            self._pairs.clear()
        for pair in pairs:
            pair.close(reset)

    def _accept_loop(self) -> None:
        while self._running:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self.connectivity.is_up():
                self.dropped += 1
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError as err:
                log.warning(kv(event="proxy_upstream_failed", error=err))
                _reset(client)
                continue
            pair = _Pair(client, upstream)
            with self._lock:
                self._pairs.add(pair)
            threading.Thread(target=self._pump_requests, args=(pair,), daemon=True).start()
            threading.Thread(target=self._pump_responses, args=(pair,), daemon=True).start()

    def _forget(self, pair: _Pair, reset: bool) -> None:
        with self._lock:
            self._pairs.discard(pair)
        pair.close(reset)

    def _pump_requests(self, pair: _Pair) -> None:
        while True:
            try:
                data = pair.client.recv(_BUFFER)
            except OSError:
                data = b""
            if not data:
                self._forget(pair, reset=False)
                return
            if pair.awaiting_request:
                pair.awaiting_request = False
                if self.connectivity.should_drop():
                    self.dropped += 1
                    self._forget(pair, reset=True)
                    return
            try:
                pair.upstream.sendall(data)
            except OSError:
                self._forget(pair, reset=True)
                return

    def _pump_responses(self, pair: _Pair) -> None:
        while True:
            try:
                data = pair.upstream.recv(_BUFFER)
            except OSError:
                data = b""
            if not data:
                self._forget(pair, reset=False)
                return
            # A response is flowing: whatever the client sends next is a new request.
            pair.awaiting_request = True
            try:
                pair.client.sendall(data)
            except OSError:
                self._forget(pair, reset=True)
                return
