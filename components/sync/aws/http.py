"""Blocking HTTP/1.1 over awscrt: one kept-alive connection per endpoint, timeouts as link errors."""

from __future__ import annotations

import io
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from awscrt.exceptions import AwsCrtError
from awscrt.http import HttpClientConnection, HttpHeaders, HttpRequest
from awscrt.io import ClientTlsContext, SocketOptions, TlsContextOptions

from components.sync.exceptions import AwsLinkError


@dataclass(frozen=True)
class Endpoint:
    """Where to connect: ``scheme`` (http or https), ``host``, ``port`` and a base ``path``."""

    scheme: str
    host: str
    port: int
    path: str = ""

    @classmethod
    def parse(cls, url: str, what: str = "endpoint URL") -> Endpoint:
        """Parse ``http(s)://host[:port][/path]``; raises ``ValueError`` naming ``what`` otherwise."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{what}: expected http(s)://host[:port], got {url!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as err:
            raise ValueError(f"{what}: bad port in {url!r}") from err
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))

    @property
    def host_header(self) -> str:
        """The ``Host`` header value (the port only when it is not the scheme's default)."""
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class HttpResponse:
    """A whole HTTP response."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class HttpClient:
    """Blocking HTTP/1.1 requests over awscrt, keeping one connection alive per endpoint.

    Args:
        connect_timeout_s: give up connecting (and the TLS handshake) after this long.
        read_timeout_s: give up waiting for a whole response after this long.
    """

    def __init__(self, *, connect_timeout_s: float = 5.0, read_timeout_s: float = 30.0) -> None:
        if connect_timeout_s <= 0 or read_timeout_s <= 0:
            raise ValueError(
                f"timeouts must be > 0 s (got connect {connect_timeout_s}, read {read_timeout_s})"
            )
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        self._connections: dict[Endpoint, HttpClientConnection] = {}
        self._tls: ClientTlsContext | None = None
        self._lock = threading.Lock()

    def request(
        self, endpoint: Endpoint, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b""
    ) -> HttpResponse:
        """Send one request and return the response; raises :class:`AwsLinkError` without one."""
        with self._lock:
            reused = endpoint in self._connections
            try:
                return self._exchange(endpoint, method, path, headers, body)
            except AwsLinkError as err:
                # A kept-alive connection the server closed while idle fails at once: one fresh
                # try. A timeout is not retried (it would only double the wait).
                if not reused or isinstance(err.__cause__, FutureTimeoutError):
                    raise
            return self._exchange(endpoint, method, path, headers, body)

    def close(self) -> None:
        """Close the kept-alive connections."""
        with self._lock:
            for connection in self._connections.values():
                connection.close()
            self._connections.clear()

    def _connection(self, endpoint: Endpoint) -> HttpClientConnection:
        kept = self._connections.get(endpoint)
        if kept is not None and kept.is_open():
            return kept
        self._connections.pop(endpoint, None)
        socket_options = SocketOptions()
        socket_options.connect_timeout_ms = int(self._connect_timeout_s * 1000)
        tls_options = None
        if endpoint.scheme == "https":
            if self._tls is None:
                self._tls = ClientTlsContext(TlsContextOptions())  # the system's trust store
            tls_options = self._tls.new_connection_options()
            tls_options.set_server_name(endpoint.host)
        future = HttpClientConnection.new(
            endpoint.host, endpoint.port, socket_options=socket_options, tls_connection_options=tls_options
        )
        try:
            # The socket's own timeout covers the connect; the margin covers DNS and TLS.
            connection: HttpClientConnection = future.result(timeout=self._connect_timeout_s * 2)
        except FutureTimeoutError as err:
            future.add_done_callback(_close_late_connection)  # do not leak it if it comes up later
            raise AwsLinkError(
                f"{endpoint.host_header}: no connection within {self._connect_timeout_s * 2:g} s"
            ) from err
        except AwsCrtError as err:
            raise AwsLinkError(f"{endpoint.host_header}: {err.name}: {err.message}") from err
        self._connections[endpoint] = connection
        return connection

    def _exchange(
        self, endpoint: Endpoint, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> HttpResponse:
        connection = self._connection(endpoint)
        request = HttpRequest(method, path, HttpHeaders(headers), io.BytesIO(body))
        response_headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        def on_response(http_stream: Any, status_code: int, headers: list[tuple[str, str]], **_: Any) -> None:
            response_headers.extend(headers)

        def on_body(http_stream: Any, chunk: bytes, **_: Any) -> None:
            chunks.append(bytes(chunk))

        try:
            stream = connection.request(request, on_response, on_body)
            stream.activate()
            status = int(stream.completion_future.result(timeout=self._read_timeout_s))
        except FutureTimeoutError as err:
            self._drop(endpoint)
            raise AwsLinkError(
                f"{endpoint.host_header}: no response within {self._read_timeout_s:g} s"
            ) from err
        except AwsCrtError as err:
            self._drop(endpoint)
            raise AwsLinkError(f"{endpoint.host_header}: {err.name}: {err.message}") from err
        except RuntimeError as err:  # awscrt raises this when the stream cannot start (connection closed)
            self._drop(endpoint)
            raise AwsLinkError(f"{endpoint.host_header}: {err}") from err
        return HttpResponse(status, response_headers, b"".join(chunks))

    def _drop(self, endpoint: Endpoint) -> None:
        connection = self._connections.pop(endpoint, None)
        if connection is not None:
            connection.close()


def _close_late_connection(future: Future[Any]) -> None:
    if future.exception() is None:
        future.result().close()
