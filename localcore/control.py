"""The control channel between the CLI and a running core: JSON lines over ``<root>/control.sock``.

One request per connection: ``{"command": "status", "args": {...}}``. The answer is one line,
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}``; a handler that returns an
iterator streams ``{"ok": true, "item": ...}`` lines and ends with ``{"ok": true, "end": true}``
(for ``cloud watch``-style commands; the stream ends when the client disconnects or the core stops).

Other parts register their commands (the embedded cloud adds ``cloud.*``)::

    server.register("cloud.offline", lambda args: cloud.go_offline())
    control_request(root, "cloud.offline")               # from the CLI process
    for item in control_stream(root, "cloud.watch", {"topic": "#"}): print(item)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from localcore.logfmt import kv

CONTROL_SOCKET_NAME = "control.sock"
MAX_REQUEST_BYTES = 1024 * 1024

Handler = Callable[[dict[str, Any]], Any]
"""``handler(args) -> JSON-ready result`` (or an iterator of them, streamed)."""

_log = logging.getLogger("localcore.control")


class ControlError(Exception):
    """A control request failed: the core answered with an error, or the answer was unreadable."""


class CoreNotRunningError(ControlError):
    """No core is listening at that root."""


class CommandError(ControlError):
    """Raised by a handler for a request it refuses; the message goes back to the CLI as is."""


def control_socket_path(root: Path) -> Path:
    """Where a core rooted at ``root`` listens."""
    return Path(root) / CONTROL_SOCKET_NAME


class _RequestHandler(socketserver.StreamRequestHandler):
    server: _UnixServer

    def handle(self) -> None:
        line = self.rfile.readline(MAX_REQUEST_BYTES)
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("command"), str):
                raise ValueError("expected {'command': str, 'args': {...}}")
            args = request.get("args") or {}
            if not isinstance(args, dict):
                raise ValueError("expected 'args' to be an object")
        except ValueError as err:
            self._send({"ok": False, "error": f"bad request: {err}"})
            return
        command = request["command"]
        handler = self.server.control.handler(command)
        if handler is None:
            known = ", ".join(sorted(self.server.control.commands()))
            self._send({"ok": False, "error": f"unknown command {command!r}; known: {known}"})
            return
        try:
            result = handler(args)
        except CommandError as err:
            self._send({"ok": False, "error": str(err)})
            return
        except Exception as err:  # a failing handler answers with an error; the core goes on
            _log.exception(kv(event="control_command_failed", command=command, error=err))
            self._send({"ok": False, "error": f"{type(err).__name__}: {err}"})
            return
        if isinstance(result, Iterator):
            self._stream(result)
        else:
            self._send({"ok": True, "result": result})

    def _stream(self, items: Iterator[Any]) -> None:
        try:
            for item in items:
                if self.server.control.stopping or not self._send({"ok": True, "item": item}):
                    return
            self._send({"ok": True, "end": True})
        finally:
            close = getattr(items, "close", None)
            if callable(close):
                close()

    def _send(self, message: dict[str, Any]) -> bool:
        """Write one answer line; False when the client has already gone (nobody to answer)."""
        try:
            self.wfile.write(json.dumps(message, default=str).encode() + b"\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return False
        return True


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    control: ControlServer


class ControlServer:
    """Listens on ``<root>/control.sock`` in a background thread and dispatches to registered handlers."""

    def __init__(self, root: Path) -> None:
        self.socket_path = control_socket_path(root)
        self._handlers: dict[str, Handler] = {}
        self._server: _UnixServer | None = None
        self._thread: threading.Thread | None = None
        self.stopping = False

    def register(self, command: str, handler: Handler) -> None:
        """Add (or replace) a command."""
        self._handlers[command] = handler

    def handler(self, command: str) -> Handler | None:
        """The handler of ``command``, if registered."""
        return self._handlers.get(command)

    def commands(self) -> list[str]:
        """Every registered command."""
        return list(self._handlers)

    def start(self) -> None:
        """Listen; an existing socket file (a core that died) is replaced."""
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        if self.socket_path.exists():
            if _is_listening(self.socket_path):
                raise ControlError(f"another core is already running with root {self.socket_path.parent}")
            self.socket_path.unlink()
        self._server = _UnixServer(str(self.socket_path), _RequestHandler)
        self._server.control = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="control", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and remove the socket file."""
        self.stopping = True
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()


def _is_listening(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
        return True


def _connect(root: Path, timeout: float | None) -> socket.socket:
    path = control_socket_path(root)
    if len(os.fsencode(str(path))) >= 108:
        raise ControlError(f"control socket path too long for a Unix socket: {path}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
    except (FileNotFoundError, ConnectionRefusedError) as err:
        sock.close()
        raise CoreNotRunningError(f"no core is running with root {root} (nothing listens on {path})") from err
    return sock


def _send_request(sock: socket.socket, command: str, args: dict[str, Any] | None) -> None:
    sock.sendall(json.dumps({"command": command, "args": args or {}}).encode() + b"\n")


def _read_message(reader: Any) -> dict[str, Any]:
    line = reader.readline()
    if not line:
        raise ControlError("the core closed the connection without answering")
    try:
        message = json.loads(line)
    except json.JSONDecodeError as err:
        raise ControlError(f"unreadable answer from the core: {line[:200]!r}") from err
    if not isinstance(message, dict):
        raise ControlError(f"unreadable answer from the core: {line[:200]!r}")
    if not message.get("ok"):
        raise ControlError(str(message.get("error", "unknown error")))
    return message


def control_request(
    root: Path | str, command: str, args: dict[str, Any] | None = None, *, timeout: float = 30.0
) -> Any:
    """Send one command to the core at ``root`` and return its result.

    Raises:
        CoreNotRunningError: nothing listens at ``<root>/control.sock``.
        ControlError: the core answered with an error (its message is the exception's).
    """
    with _connect(Path(root), timeout) as sock, sock.makefile("rb") as reader:
        _send_request(sock, command, args)
        message = _read_message(reader)
        if "item" in message or message.get("end"):
            raise ControlError(f"{command} streams its answer; use control_stream")
        return message.get("result")


def control_stream(root: Path | str, command: str, args: dict[str, Any] | None = None) -> Iterator[Any]:
    """Send a streaming command and yield each item until the core ends the stream."""
    with _connect(Path(root), None) as sock, sock.makefile("rb") as reader:
        _send_request(sock, command, args)
        while True:
            message = _read_message(reader)
            if message.get("end"):
                return
            if "item" in message:
                yield message["item"]
            else:
                yield message.get("result")
                return
